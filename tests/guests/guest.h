/* SPDX-License-Identifier: MIT */
/* What the tiny guests share: port and MMIO accessors, and a console on
 * the uart16550 at COM1 that ioregiond serves. Addresses match the
 * daemon's built-in config. */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>

#define COM1 0x3f8
#define RAM0 0xd0000000u
#define BELL0 0xd0001000u
#define TEST0 0xd0002000u
#define MBOX 0xd0003000u

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint8_t mmio_read8(uintptr_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uintptr_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write8(uintptr_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uintptr_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

/* 8-byte accesses in 32-bit mode: one MMX move, so KVM sees one 8-byte
 * access rather than two 4-byte ones. */
static inline uint64_t mmio_read64(uintptr_t a)
{
	uint64_t v;

	__asm__ volatile("movq (%1), %%mm0\n\tmovq %%mm0, %0"
			 : "=m"(v) : "r"(a) : "mm0", "memory");
	return v;
}

static inline void mmio_write64(uintptr_t a, uint64_t v)
{
	__asm__ volatile("movq %0, %%mm0\n\tmovq %%mm0, (%1)"
			 : : "m"(v), "r"(a) : "mm0", "memory");
}

static inline void putc_com1(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static inline void puts_com1(const char *s)
{
	while (*s)
		putc_com1(*s++);
}

static inline void putx_com1(uint32_t v)
{
	int i;

	for (i = 28; i >= 0; i -= 4)
		putc_com1("0123456789abcdef"[(v >> i) & 0xf]);
}

#endif
