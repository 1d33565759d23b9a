/* SPDX-License-Identifier: MIT */
/* Leaves state in every device and in its own memory, writes its save
 * point (ioregion-vmm --save stops it there), then checks all of it: run
 * on from a state file on another daemon, it passes only if the state came
 * along. Exit code: 0, or the failing check. */
#include "guest.h"

#define SAVE_PORT 0xf5
#define UART_IER 1
#define UART_LCR 3
#define UART_SCR 7
#define TEST_SCRATCH 0x10
#define TEST_WRITES 0x208
#define BELL_COUNT0 0x200

int guest_main(uint32_t vcpu);

/* In guest memory: must come back with it. */
static volatile uint32_t marker;

int guest_main(uint32_t vcpu)
{
	unsigned int i;

	if (vcpu != 0)
		return 0;
	for (i = 0; i < 1024; i += 4)
		mmio_write32(RAM0 + i, 0x5eed0000u + i);
	outb(COM1 + UART_LCR, 0x1b);	/* 8 bits, even parity; DLAB off */
	outb(COM1 + UART_IER, 0x05);
	outb(COM1 + UART_SCR, 0x5a);
	for (i = 0; i < 10; i++) {
		mmio_write32(TEST0 + TEST_SCRATCH, 0xc0de0000u + i);
		mmio_write32(BELL0, i);	/* posted */
	}
	marker = 0x600d;
	puts_com1("migrate: at the save point\n");
	outb(SAVE_PORT, 0);
	puts_com1("migrate: going on\n");
	for (i = 0; i < 1024; i += 4)
		if (mmio_read32(RAM0 + i) != 0x5eed0000u + i)
			return 10;
	if (inb(COM1 + UART_LCR) != 0x1b)
		return 11;
	if (inb(COM1 + UART_IER) != 0x05)
		return 12;
	if (inb(COM1 + UART_SCR) != 0x5a)
		return 13;
	if (mmio_read32(TEST0 + TEST_WRITES) != 10)
		return 14;
	if (mmio_read32(TEST0 + TEST_SCRATCH) != 0xc0de0009u)
		return 15;
	if (mmio_read32(BELL0 + BELL_COUNT0) != 10)
		return 16;
	if (marker != 0x600d)
		return 17;
	puts_com1("migrate: every device and the memory came along\n");
	return 0;
}
