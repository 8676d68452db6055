#include <cstring>
#include <utility>
#include <vector>
#include "matrix.hpp"

namespace {
template <typename K, typename V, typename Eq>
V lookup(const std::vector<std::pair<K, V>> &table, K k, V fallback, Eq eq)
{
	for (const auto &kv : table)
		if (eq(kv.first, k))
			return kv.second;
	return fallback;
}
}

int templates_main()
{
	std::vector<std::pair<const char *, int>> table{{"one", 1}, {"two", 2}};
	auto same = [](const char *a, const char *b) { return std::strcmp(a, b) == 0; };
	Ring<int, 3> r;
	for (int i = 0; i < 5; i++)
		r.push(i * lookup<const char *>(table, "two", 0, same));
	return r.fold(0, [](int a, int b) { return a + b; });
}
