#include <string>
#include <app/api.h>

namespace engine {
// Counts the fields of s separated by sep, and keeps the last one.
std::size_t split_last(const std::string &s, char sep, std::string &last)
{
	std::size_t fields = 1;
	last.clear();
	for (char c : s) {
		if (c == sep) {
			fields++;
			last.clear();
		} else {
			last += c;
		}
	}
	return fields;
}
}
