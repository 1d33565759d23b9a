/* SPDX-License-Identifier: MIT */
/* Reads ram0 in a loop while the test makes KVM fail its accesses with
 * -EAGAIN (the daemon stopped, the VMM's region socket non-blocking): the
 * failed reads return what the VMM has there; once the daemon runs again
 * and the socket blocks, ram0 must answer again, every read, as before.
 * Exit code: 0, or the failing step. */
#include "guest.h"

#define MAGIC 0x600d600du

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t polls = 0, i;

	if (vcpu != 0)
		return 0;
	mmio_write32(RAM0, MAGIC);
	if (mmio_read32(RAM0) != MAGIC)
		return 1;
	puts_com1("busy: reading ram0\n");
	while (mmio_read32(RAM0) == MAGIC)
		if (++polls == 0)
			return 2;
	/* failed accesses: what the VMM has at that address (nothing: 0 in
	 * QEMU's PC), until the daemon answers again */
	while (mmio_read32(RAM0) != MAGIC)
		if (++polls == 0)
			return 3;
	for (i = 0; i < 1000; i++)
		if (mmio_read32(RAM0) != MAGIC)
			return 4;
	puts_com1("busy: ram0 answers again\n");
	return 0;
}
