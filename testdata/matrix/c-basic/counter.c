/* icecream's countermacro: __COUNTER__ breaks -fdirectives-only preprocessing. */
#define UNIQUE2(a, b) a##b
#define UNIQUE1(a, b) UNIQUE2(a, b)
#define UNIQUE(name) UNIQUE1(name, __COUNTER__)

int UNIQUE(counter_) = 1;
int UNIQUE(counter_) = 2;
int UNIQUE(counter_) = 3;
