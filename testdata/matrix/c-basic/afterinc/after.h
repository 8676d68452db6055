#define AFTER 3
