/* icecream's asm_defsym: -Wa,--defsym,MYSYM=yes reaches the assembler only. */
int defsym_value(void) { return 5; }
