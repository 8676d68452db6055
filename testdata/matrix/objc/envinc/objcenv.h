/* Found only through OBJC_INCLUDE_PATH. */
#define OBJC_ENV_VALUE 4
