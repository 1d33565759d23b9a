/* SPDX-License-Identifier: MIT */
/* Rings the doorbell N times with posted writes, then reads the device's
 * counters: every write must have arrived. */
#include "guest.h"

#define RINGS 20000u

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t before, i;

	if (vcpu != 0)
		return 0;
	before = mmio_read32(BELL0 + 0x400);
	for (i = 0; i < RINGS; i++)
		mmio_write32(BELL0 + 8 * (i % 4), i);
	if (mmio_read32(BELL0 + 0x400) - before != RINGS)
		return 1;
	if (mmio_read32(BELL0 + 8 * 3) != RINGS - 1)
		return 2;
	puts_com1("doorbell: ");
	putx_com1(RINGS);
	puts_com1(" posted writes, none lost\n");
	return 0;
}
