#include <stdio.h>

#ifndef MESSAGE
#define MESSAGE "no message"
#endif
#ifndef QUOTED
#define QUOTED "none"
#endif
#ifndef TWICE
#define TWICE(x) (x)
#endif
#ifdef HEADER
#include HEADER
#endif

#define str(x) #x
#define xstr(x) str(x)

const char *message = MESSAGE;
const char *quoted = QUOTED;
const char *empty = xstr(EMPTY_DEF) "|";
int twice = TWICE(21);
#ifdef ICECREAM_TEST_DEFINE
const char *icecream = xstr(ICECREAM_TEST_DEFINE);
#endif
#ifdef FOO
int foo_from_wp = FOO;
#endif
#ifdef FROM_RSP
int from_rsp = FROM_RSP;
#endif
#ifdef UNDEFINED_LATER
#error "UNDEFINED_LATER should have been removed by -U"
#endif

int main(void)
{
	printf("%s %s %s %d\n", message, quoted, empty, twice);
	return 0;
}
