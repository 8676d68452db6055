/* distcc's EmptyDefine: a header named by stringizing a name that is also
 * defined, empty, as a macro (# does not expand its operand). */
#define computed
#define str(x) #x
#include str(computed.h)

int computed_seen = COMPUTED_HEADER_SEEN;
