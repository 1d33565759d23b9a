/* SPDX-License-Identifier: MIT */
/* Polls an address where no region is yet; once "ioregionctl plug" adds a
 * testdev there, uses it. */
#include "guest.h"

#define HOT 0xe0000000u

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t polls = 0;

	if (vcpu != 0)
		return 0;
	puts_com1("hotplug: waiting for a device at 0xe0000000\n");
	while (mmio_read32(HOT) != 0x494f5254u)
		if (++polls == 0x10000000u)
			return 1;
	mmio_write32(HOT + 0x40, 0xc0ffee);
	if (mmio_read32(HOT + 0x40) != 0xc0ffee)
		return 2;
	puts_com1("hotplug: device arrived and answers\n");
	return 0;
}
