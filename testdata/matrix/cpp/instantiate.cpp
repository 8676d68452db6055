// A warning reported inside a template instantiation: GCC prints the
// "In instantiation of" context lines before it.
template <typename T>
int compare(T a, unsigned b)
{
	return a < b;
}

int instantiate()
{
	return compare<int>(-1, 2u);
}
