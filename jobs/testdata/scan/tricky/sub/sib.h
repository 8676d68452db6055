#define SIB 2
