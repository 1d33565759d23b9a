/* SPDX-License-Identifier: MIT */
/*
 * libioregion, private: whole frames over a region's data fd, shared by the
 * exit forwarding of vm.c and the direct accesses of access.c.
 */
#ifndef IOREGION_CLIENT_FRAME_H
#define IOREGION_CLIENT_FRAME_H

#include <stddef.h>

#include "ioregion.h"

/* Sends all LEN bytes; -ECONNRESET once the daemon has gone. */
int frame_send(int fd, const void *buf, size_t len);
/* Receives one whole response, waiting at most TIMEOUT_MS between pieces:
 * -ETIMEDOUT, -ECONNRESET or -errno. */
int frame_recv_resp(int fd, struct ioregion_resp *resp, int timeout_ms);

#endif
