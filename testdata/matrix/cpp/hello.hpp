#define MESSAGE "hello c++"
