/* Only the macros of an -imacros file survive. */
#define IMACRO_VALUE 99
int imacros_declaration_is_discarded;
