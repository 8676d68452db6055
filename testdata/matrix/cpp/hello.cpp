#include <iostream>
#include "hello.hpp"

int main()
{
	std::cout << MESSAGE << std::endl;
	return 0;
}
