#include <optional>
#include <string_view>
#include <tuple>

static std::optional<int> parse(std::string_view s)
{
	if (s.empty())
		return std::nullopt;
	int v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return std::nullopt;
		v = v * 10 + (c - '0');
	}
	return v;
}

int cxx17()
{
	auto [a, b] = std::make_tuple(parse("12"), parse("x"));
	if constexpr (sizeof(int) == 4)
		return a.value_or(0) + b.value_or(1);
	else
		return 0;
}
