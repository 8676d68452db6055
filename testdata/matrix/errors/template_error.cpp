// A template error: GCC explains it across several "required from" lines.
#include <vector>

template <typename T>
int first(const T &c)
{
	return c.front().missing_member;
}

int use_first()
{
	std::vector<int> v{1};
	return first(v);
}
