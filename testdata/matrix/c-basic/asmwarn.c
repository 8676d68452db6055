/* An assembler warning, in the language LANGUAGE asks for. */
void careful(void) { __asm__(".warning \"careful\""); }
