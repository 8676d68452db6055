/* A syntax error: the diagnostic quotes the line and points at it with a caret. */
int broken(int x)
{
	return x +* ;
}
