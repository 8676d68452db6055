// C++: a standard header that is included and a local one that is only probed.
#if __has_include(<vector>)
#include <vector>
#endif
#if __has_include("optional.h")
static const int probed = 1;
#else
static const int probed = 2;
#endif
int probe_cpp() { return std::vector<int>(probed, 1).size(); }
