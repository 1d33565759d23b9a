/* PVH entry for the tiny guests: QEMU -kernel starts it in flat 32-bit
 * protected mode, as ioregion-vmm does; give it the stack and vCPU index
 * that start.S expects. */
	.section .note.Xen, "a", @note
	.align 4
	.long 4			/* name size */
	.long 4			/* desc size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry

	.code32
	.text
	.globl pvh_entry
pvh_entry:
	mov $0x80000, %esp
	xor %esi, %esi
	jmp _start
	.section .note.GNU-stack, "", @progbits
