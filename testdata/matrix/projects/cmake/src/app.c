#include <stdio.h>
#include <app/api.h>

#ifndef APP_VERSION
#error "APP_VERSION comes from the command line"
#endif

int app_run(int argc)
{
	printf("app %s with %d\n", APP_VERSION, argc);
	return argc > 1;
}
