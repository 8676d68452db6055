// icecream's rawliterals: raw strings confuse -fdirectives-only preprocessing.
const char *raw = R"delim(a "raw" string with \n and #define NOT_A_MACRO
and a second line)delim";
#define AFTER_RAW 1
int after_raw = AFTER_RAW;
