/* Entry of every guest: flat 32-bit protected mode, ESI = vCPU index,
 * a stack per vCPU. guest_main's return value is the exit code. */
	.code32
	.section .text.start, "ax"
	.globl _start
_start:
	push %esi
	call guest_main
	mov $0xf4, %dx
	out %al, %dx
1:	hlt
	jmp 1b
	.section .note.GNU-stack, "", @progbits
