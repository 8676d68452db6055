/* Assembler with the C preprocessor: #include, #define, #ifdef and gas macros. */
#include <asm/linkage.h>

#ifndef STACK_PAD
#define STACK_PAD 16
#endif

	.macro save_and_add reg, imm
	push \reg
	add $\imm, \reg
	pop \reg
	.endm

	.text
	ALIGN
ENTRY(matrix_entry)
	sub $STACK_PAD, %rsp
	save_and_add %rax, 3
#ifdef WITH_EXTRA
	nop
#endif
	add $STACK_PAD, %rsp
	ret
END(matrix_entry)

	.section .rodata
matrix_msg:
	.string "hello from assembler"
	.section .note.GNU-stack,"",@progbits
