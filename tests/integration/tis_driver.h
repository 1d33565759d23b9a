/* SPDX-License-Identifier: MIT */
/*
 * A TPM TIS driver for the tests, doing what Linux's tpm_tis does over
 * locality 0: request the locality, commandReady, the command written
 * burstCount bytes at a time with Expect checked, tpmGo, dataAvail
 * polled, the response read, commandReady again. The registers are
 * reached through callbacks (a region fd, or a model called directly),
 * so the integration tests, the systemd tier's client and the unit tests
 * drive the model the same way.
 */
#ifndef TIS_DRIVER_H
#define TIS_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "tpm_commands.h"

#define TIS_ACCESS 0x00
#define TIS_STS 0x18
#define TIS_FIFO 0x24
#define TIS_DID_VID 0xf00
#define TIS_ACCESS_VALID 0x80
#define TIS_ACCESS_ACTIVE 0x20
#define TIS_ACCESS_REQUEST 0x02
#define TIS_STS_VALID 0x80
#define TIS_STS_READY 0x40
#define TIS_STS_GO 0x20
#define TIS_STS_DATA 0x10
#define TIS_STS_EXPECT 0x08

struct tis_io {
	/* Returns 0 with *v set, or -1. */
	int (*read)(void *ctx, uint64_t off, unsigned int size, uint64_t *v);
	int (*write)(void *ctx, uint64_t off, unsigned int size, uint64_t v);
	/* Lets whatever answers the TPM make progress while polling (a
	 * test's event loop); NULL: sleep a millisecond. */
	void (*idle)(void *ctx);
	void *ctx;
};

static inline void tis_idle(const struct tis_io *io)
{
	struct timespec ms = { 0, 1000000 };

	if (io->idle)
		io->idle(io->ctx);
	else
		nanosleep(&ms, NULL);
}

/* Polls STS until (sts & mask) == want, up to ms milliseconds. */
static inline int tis_wait_sts(const struct tis_io *io, uint32_t mask,
			       uint32_t want, long ms, uint32_t *sts)
{
	uint64_t v;
	long i;

	for (i = 0; i <= ms; i++) {
		if (io->read(io->ctx, TIS_STS, 4, &v) < 0)
			return -1;
		*sts = (uint32_t)v;
		if ((*sts & mask) == want)
			return 0;
		tis_idle(io);
	}
	return -1;
}

static inline int tis_locality0(const struct tis_io *io)
{
	uint64_t v;
	int i;

	if (io->write(io->ctx, TIS_ACCESS, 1, TIS_ACCESS_REQUEST) < 0)
		return -1;
	for (i = 0; i < 1000; i++) {
		if (io->read(io->ctx, TIS_ACCESS, 1, &v) < 0)
			return -1;
		if ((v & (TIS_ACCESS_VALID | TIS_ACCESS_ACTIVE)) ==
		    (TIS_ACCESS_VALID | TIS_ACCESS_ACTIVE))
			return 0;
		tis_idle(io);
	}
	return -1;
}

static inline int tis_send(const struct tis_io *io, const uint8_t *cmd,
			   size_t len)
{
	uint32_t sts, burst;
	size_t i = 0;

	if (io->write(io->ctx, TIS_STS, 1, TIS_STS_READY) < 0 ||
	    tis_wait_sts(io, TIS_STS_READY, TIS_STS_READY, 750, &sts) < 0)
		return -1;
	while (i < len) {
		burst = (sts >> 8) & 0xffff;
		if (burst == 0) {
			tis_idle(io);
			if (tis_wait_sts(io, TIS_STS_VALID, TIS_STS_VALID, 750,
					 &sts) < 0)
				return -1;
			continue;
		}
		for (; burst > 0 && i < len; burst--, i++)
			if (io->write(io->ctx, TIS_FIFO, 1, cmd[i]) < 0)
				return -1;
		if (tis_wait_sts(io, TIS_STS_VALID, TIS_STS_VALID, 750, &sts) < 0)
			return -1;
		/* Expect stays up until the last byte, and drops with it. */
		if (!!(sts & TIS_STS_EXPECT) != (i < len))
			return -1;
	}
	return io->write(io->ctx, TIS_STS, 1, TIS_STS_GO);
}

/* Sends cmd and reads the response; returns its length or -1. */
static inline long tis_transmit(const struct tis_io *io, const uint8_t *cmd,
				size_t len, uint8_t *resp, size_t cap,
				long timeout_ms)
{
	uint32_t sts, size = 10;
	uint64_t v;
	size_t i = 0;

	if (tis_locality0(io) < 0 || tis_send(io, cmd, len) < 0 ||
	    tis_wait_sts(io, TIS_STS_VALID | TIS_STS_DATA,
			 TIS_STS_VALID | TIS_STS_DATA, timeout_ms, &sts) < 0)
		return -1;
	while (i < size) {
		if (i >= cap || io->read(io->ctx, TIS_FIFO, 1, &v) < 0)
			return -1;
		resp[i++] = (uint8_t)v;
		if (i == 6)
			size = tpm_be32(resp + 2);
	}
	if (io->read(io->ctx, TIS_STS, 4, &v) < 0 || (v & TIS_STS_DATA))
		return -1;
	if (io->write(io->ctx, TIS_STS, 1, TIS_STS_READY) < 0)
		return -1;
	return (long)size;
}

#endif
