#error first/sib.h must not be read
