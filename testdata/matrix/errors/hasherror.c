/* distcc's CppError. */
#error "not tonight dear"
