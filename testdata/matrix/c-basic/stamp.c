/* Only the source's mtime and name: deterministic for every compiler. */
const char source_stamp[] = __TIMESTAMP__;
const char file_name[] = __FILE__;
