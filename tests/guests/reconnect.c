/* SPDX-License-Identifier: MIT */
/* Reads ram0 in a loop while ioregiond is killed and started again (the
 * test does both): the reads turn to all ones while the daemon is gone,
 * and once the VMM has reconnected to the new daemon ram0 answers again,
 * a value written to it reads back, and a line reaches the new daemon's
 * UART. Exit code: 0, or the failing step. */
#include "guest.h"

#define MAGIC 0x600d600du
#define MAGIC2 0xc0ffee42u

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t polls = 0, v;

	if (vcpu != 0)
		return 0;
	mmio_write32(RAM0, MAGIC);
	if (mmio_read32(RAM0) != MAGIC)
		return 1;
	puts_com1("reconnect: reading ram0 until ioregiond goes away\n");
	while ((v = mmio_read32(RAM0)) == MAGIC)
		if (++polls == 0)
			return 2;
	/* gone: the VMM gives the guest all ones until it reconnects */
	while (v == 0xffffffffu) {
		v = mmio_read32(RAM0);
		if (++polls == 0)
			return 3;
	}
	/* a new daemon, with ram0 at power-on state: it works again */
	mmio_write32(RAM0, MAGIC2);
	if (mmio_read32(RAM0) != MAGIC2)
		return 4;
	puts_com1("reconnect: ram0 works again after the daemon came back\n");
	return 0;
}
