/* The object differs depending on whether optional.h exists next to this file. */
#if __has_include("optional.h")
int probe_result = 1;
const char probe_branch[] = "optional.h present";
#else
int probe_result = 2;
const char probe_branch[] = "optional.h missing";
#endif

#if __has_include("absent.h")
#error "absent.h must not exist"
#endif
