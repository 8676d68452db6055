#define QUOTE_ONLY 1
