// icecream's messages.cpp: a warning that must come back with its caret.
int messages()
{
	int unused;
	return 0;
}
