// icecream's warninginmacro: a warning raised inside a macro expansion.
#define DECLARE_UNUSED(name) int name = 0
#define CHECK(x) ((x) == (x))

int macro_warn(int v)
{
	DECLARE_UNUSED(spare);
	return CHECK(v);
}
