/* SPDX-License-Identifier: MIT */
/*
 * libioregion, private: whole frames over a region's data fd, shared by the
 * exit forwarding of vm.c and the direct accesses of access.c.
 */
#ifndef IOREGION_CLIENT_FRAME_H
#define IOREGION_CLIENT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioregion.h"

/* Sends all LEN bytes; -ECONNRESET once the daemon has gone. */
int frame_send(int fd, const void *buf, size_t len);
/* A spin stops when two of its reads are this far apart: the thread was
 * off its CPU meanwhile. */
#define FRAME_SPIN_GAP_NS 20000ull

/* Receives one whole response: first with non-blocking reads for up to
 * SPIN_US microseconds (a daemon in poll mode often answers within them,
 * and a thread that never slept needs no wake-up), then waiting at most
 * TIMEOUT_MS between pieces: -ETIMEDOUT, -ECONNRESET or -errno. Sets
 * *PREEMPTED (unless NULL) when the spin stopped because another task
 * took the CPU. */
int frame_recv_resp(int fd, struct ioregion_resp *resp, int timeout_ms,
		    unsigned int spin_us, bool *preempted);
/* The spin before blocking when the VMM sets none: $IOREGION_SPIN_US if
 * it is a number 0..IOREGION_SPIN_MAX_US, else IOREGION_SPIN_DEFAULT_US. */
unsigned int frame_spin_default_us(void);

#endif
