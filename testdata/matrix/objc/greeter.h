#define GREETING "hello objective-c"
