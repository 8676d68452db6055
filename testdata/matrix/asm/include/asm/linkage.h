#ifndef MATRIX_ASM_LINKAGE_H
#define MATRIX_ASM_LINKAGE_H
#define ENTRY(name) .globl name; .type name, @function; name:
#define END(name) .size name, .-name
#define ALIGN .p2align 4
#endif
