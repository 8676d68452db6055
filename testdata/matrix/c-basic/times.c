/* __DATE__ and __TIME__ follow SOURCE_DATE_EPOCH (GCC); __TIMESTAMP__ is the
 * source's mtime; __FILE__ and __BASE_FILE__ are spelled as on the command line. */
const char build_date[] = __DATE__;
const char build_time[] = __TIME__;
const char source_stamp[] = __TIMESTAMP__;
const char file_name[] = __FILE__;
const char base_name[] = __BASE_FILE__;
int counters[] = { __COUNTER__, __COUNTER__, __COUNTER__, __LINE__, __INCLUDE_LEVEL__ };
