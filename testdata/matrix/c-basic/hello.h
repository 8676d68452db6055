/* hello.h: the header next to hello.c, found through the source's directory. */
#ifndef HELLO_H
#define HELLO_H
#define HELLO_WORLD "hello world"
int hello_count(int n);
#endif
