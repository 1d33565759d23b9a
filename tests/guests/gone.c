/* SPDX-License-Identifier: MIT */
/* Reads ram0 in a loop until ioregiond goes away (the test kills it), then
 * checks that its regions behave as a bus with nothing behind it: reads of
 * every size return all ones, writes are dropped, on MMIO and PIO alike.
 * Exit code: 0, or the failing step. */
#include "guest.h"

#define MAGIC 0x600d600du

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t polls = 0, v;

	if (vcpu != 0)
		return 0;
	mmio_write32(RAM0, MAGIC);
	if (mmio_read32(RAM0) != MAGIC)
		return 1;
	puts_com1("gone: reading ram0 until ioregiond goes away\n");
	while ((v = mmio_read32(RAM0)) == MAGIC)
		if (++polls == 0)
			return 2;
	if (v != 0xffffffffu)
		return 3;
	if (mmio_read8(RAM0 + 1) != 0xff || mmio_read16(RAM0 + 2) != 0xffff ||
	    mmio_read64(RAM0 + 8) != ~0ull)
		return 4;
	mmio_write32(RAM0, MAGIC);
	if (mmio_read32(RAM0) != 0xffffffffu)
		return 5;
	/* the UART, a PIO region of the same daemon */
	outb(COM1, '!');
	if (inb(COM1 + 5) != 0xff)
		return 6;
	return 0;
}
