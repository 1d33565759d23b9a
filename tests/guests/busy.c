/* SPDX-License-Identifier: MIT */
/* Reads ram0 many times while the test stops the daemon for a while: on
 * the in-kernel path the vCPU waits in KVM for each answer, so every read
 * must still return what was written, before, during and after the stop.
 * Exit code: 0, or the failing step. */
#include "guest.h"

#define MAGIC 0x600d600du
/* Under nested TCG a read takes about a millisecond: several seconds of
 * reads, of which the stop takes a part. */
#define READS 4000u

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t i;

	if (vcpu != 0)
		return 0;
	mmio_write32(RAM0, MAGIC);
	if (mmio_read32(RAM0) != MAGIC)
		return 1;
	puts_com1("busy: reading ram0\n");
	for (i = 0; i < READS; i++)
		if (mmio_read32(RAM0) != MAGIC)
			return 2;
	puts_com1("busy: every read of ram0 answered\n");
	return 0;
}
