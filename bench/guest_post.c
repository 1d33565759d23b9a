/* SPDX-License-Identifier: MIT */
/* BENCH_ITERS posted writes to the doorbell, then a read of its counter
 * (which also proves none was lost). */
#include "../tests/guests/guest.h"

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t i, before;

	if (vcpu != 0)
		return 0;
	before = mmio_read32(BELL0 + 0x400);
	for (i = 0; i < BENCH_ITERS; i++)
		mmio_write32(BELL0, i);
	return mmio_read32(BELL0 + 0x400) - before == BENCH_ITERS ? 0 : 1;
}
