/* SPDX-License-Identifier: MIT */
/* BENCH_ITERS 4-byte reads of BENCH_ADDR, then exit. Built twice: at an
 * address no region claims (the VMM answers the exit itself) and at the
 * testdev ID register (the exit goes to ioregiond). */
#include "../tests/guests/guest.h"

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t i, sum = 0;

	if (vcpu != 0)
		return 0;
	for (i = 0; i < BENCH_ITERS; i++)
		sum += mmio_read32(BENCH_ADDR);
	return sum == 0xdead ? 1 : 0;
}
