/* SPDX-License-Identifier: MIT */
/* Keeps an access to the testdev in flight nearly all the time, and counts
 * its own reads and writes of it: a VMM that saves the vCPU while one is
 * in flight must complete it exactly once, here or after the restore. The
 * testdev's counters travel with the device state, so after every access
 * they must equal the guest's own counts. The loop ends when the go
 * register reads as a testdev's ID: a region only the destination's
 * daemon has (on the source nothing answers there and it reads all ones).
 * Exit code: 0, or the failing check. */
#include "guest.h"

#define GO0 0xd0005000u
#define TEST_ID 0x000
#define TEST_SCRATCH 0x10
#define TEST_READS 0x200
#define TEST_WRITES 0x208
#define TESTDEV_MAGIC 0x494f5254u

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	uint32_t reads, writes, i;

	if (vcpu != 0)
		return 0;
	/* READS answers the reads served before this one */
	reads = mmio_read32(TEST0 + TEST_READS) + 1;
	writes = mmio_read32(TEST0 + TEST_WRITES);
	reads++;
	puts_com1("pending: looping\n");
	for (i = 0; mmio_read32(GO0 + TEST_ID) != TESTDEV_MAGIC; i++) {
		if (mmio_read32(TEST0 + TEST_READS) != reads)
			return 20;
		reads++;
		mmio_write32(TEST0 + TEST_SCRATCH, i);
		writes++;
		if (mmio_read32(TEST0 + TEST_WRITES) != writes)
			return 21;
		reads++;
	}
	puts_com1("pending: go after ");
	putx_com1(i);
	puts_com1(" rounds: every access counted once\n");
	return 0;
}
