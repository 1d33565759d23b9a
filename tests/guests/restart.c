/* SPDX-License-Identifier: MIT */
/* Runs while ioregiond is restarted and killed under it (tests/systemd/run)
 * and checks every value it reads: ram0 words written then read back, the
 * whole of ram0 swept against what was written, testdev's ECHO, and
 * doorbell posted writes against the device's total. It stops when a
 * message arrives in its mailbox (the test sends one from VM vm1). Exit
 * code: 0, or the check that failed. */
#include "guest.h"

#define RAM_WORDS 1024u		/* ram0 is 4 KiB */
#define BELL_TOTAL 0x400
#define TEST_ECHO 0x40
#define MB_DEPTH 0x24
#define MB_RX 0x18

int guest_main(uint32_t vcpu);

static uint32_t pattern(uint32_t i)
{
	return i * 2654435761u ^ 0x5a5a0000u;
}

/* Word k of ram0 holds the pattern of the last iteration i that wrote it
 * (i % RAM_WORDS == k). */
static int sweep(uint32_t last)
{
	uint32_t k, i;

	for (k = 0; k < RAM_WORDS; k++) {
		i = last - (last % RAM_WORDS) + k;
		if (i > last)
			i -= RAM_WORDS;
		if (mmio_read32(RAM0 + 4 * k) != pattern(i))
			return 1;
	}
	return 0;
}

int guest_main(uint32_t vcpu)
{
	uint32_t i, base;

	if (vcpu != 0)
		return 0;
	while (mmio_read32(MBOX + MB_DEPTH))
		mmio_read32(MBOX + MB_RX);
	for (i = 0; i < RAM_WORDS; i++)
		mmio_write32(RAM0 + 4 * i, pattern(i));
	base = mmio_read32(BELL0 + BELL_TOTAL) - RAM_WORDS;
	for (i = RAM_WORDS; ; i++) {
		mmio_write32(RAM0 + 4 * (i % RAM_WORDS), pattern(i));
		if (mmio_read32(RAM0 + 4 * (i % RAM_WORDS)) != pattern(i))
			return 10;
		mmio_write32(TEST0 + TEST_ECHO, ~pattern(i));
		if (mmio_read32(TEST0 + TEST_ECHO) != ~pattern(i))
			return 11;
		mmio_write32(BELL0 + 8 * (i % 4), i);
		if (i % RAM_WORDS == RAM_WORDS - 1) {
			if (sweep(i))
				return 12;
			if (mmio_read32(BELL0 + BELL_TOTAL) - base != i + 1)
				return 13;
			putc_com1('.');
			if (mmio_read32(MBOX + MB_DEPTH))
				break;
		}
	}
	puts_com1("\nrestart: ");
	putx_com1(i + 1 - RAM_WORDS);
	puts_com1(" iterations, every value right\n");
	return 0;
}
