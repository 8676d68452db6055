/* Found only through OBJC_INCLUDE_PATH (OBJCPLUS_INCLUDE_PATH for envpath.mm). */
#define OBJC_ENV_VALUE 4
