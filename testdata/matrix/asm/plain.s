	.file	"plain.c"
	.globl	msg
	.section	.rodata
.LC0:
	.string	"hello world"
	.data
	.align 8
	.type	msg, @object
	.size	msg, 8
msg:
	.quad	.LC0
	.section	.note.GNU-stack,"",@progbits
