#if __has_include(<optional_sys.h>)
int angle_result = 10;
#else
int angle_result = 20;
#endif
