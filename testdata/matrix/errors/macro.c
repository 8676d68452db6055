/* A warning raised inside a macro expansion: the note lines name the macro. */
#define DECLARE(name) int name
#define SAME(x) ((x) == (x))

int macro_warning(int v)
{
	DECLARE(spare);
	return SAME(v) + (v = v);
}
