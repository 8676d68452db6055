#if __has_include(<optional>) && __has_include("hello.hpp")
#include <optional>
int has_optional = 1;
#else
int has_optional = 0;
#endif
