int nested(int x)
{
	return x + 1;
}
