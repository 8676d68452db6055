#define NEXT_LIMIT 3
