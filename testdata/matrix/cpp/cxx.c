/* A .c file that g++ and clang++ compile as C++. */
#include <vector>

int count(void) { std::vector<int> v(3); return (int)v.size(); }
