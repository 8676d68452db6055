// Only internal symbols with dynamic initialisation: the static constructor
// is named after the source file (GCC 12 needs no -frandom-seed here).
#include <string>

static std::string greeting = std::string("hello") + " static";
static int greeting_len = static_cast<int>(greeting.size());
