/* Found only through CPATH or C_INCLUDE_PATH. */
#define ENVPATH_VALUE 5
