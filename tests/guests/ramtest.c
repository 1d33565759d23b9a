/* SPDX-License-Identifier: MIT */
/* Every access size to the ram device, aligned and unaligned, with several
 * patterns, each read back. Exit code: 0, or the failing step. */
#include "guest.h"

int guest_main(uint32_t vcpu);

static const uint64_t patterns[] = {
	0x0000000000000000ull, 0xffffffffffffffffull, 0x5555555555555555ull,
	0xaaaaaaaaaaaaaaaaull, 0x0123456789abcdefull, 0x8000000000000001ull,
};

static int check(uintptr_t a, unsigned int size, uint64_t v)
{
	uint64_t mask = size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
	uint64_t got;

	switch (size) {
	case 1: mmio_write8(a, (uint8_t)v); got = mmio_read8(a); break;
	case 2: mmio_write16(a, (uint16_t)v); got = mmio_read16(a); break;
	case 4: mmio_write32(a, (uint32_t)v); got = mmio_read32(a); break;
	default: mmio_write64(a, v); got = mmio_read64(a); break;
	}
	return got == (v & mask);
}

int guest_main(uint32_t vcpu)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };
	unsigned int s, p, off, n = 0;

	if (vcpu != 0)
		return 0;
	for (s = 0; s < 4; s++)
		for (p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++)
			for (off = 0; off < 16; off++, n++)
				if (!check(RAM0 + 0x100 + off, sizes[s],
					   patterns[p] ^ off))
					return 10 + (int)s;
	/* Bytes written one at a time read back as one little-endian word. */
	for (off = 0; off < 8; off++)
		mmio_write8(RAM0 + 0x200 + off, (uint8_t)(0x11 * (off + 1)));
	if (mmio_read64(RAM0 + 0x200) != 0x8877665544332211ull)
		return 20;
	if (mmio_read32(RAM0 + 0x203) != 0x77665544u)
		return 21;
	puts_com1("ramtest: ");
	putx_com1(n);
	puts_com1(" accesses verified\n");
	return 0;
}
