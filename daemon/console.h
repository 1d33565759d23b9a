/* SPDX-License-Identifier: MIT */
/*
 * A device's console: a listening AF_UNIX stream socket ("input":
 * {"socket": path}), like QEMU's -serial unix:path,server. One client at a
 * time (a new one replaces the old): what it sends is fed to the device
 * through device_ops.input, holding back what the device cannot take yet,
 * and what the device transmits is sent to it.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"

struct region;
struct console;

/* Binds r->cfg.input_socket; a stale socket file there is replaced.
 * Returns NULL with errno set. */
struct console *console_open(struct region *r);
/* Closes it and removes its socket file if that is still its own. */
void console_close(struct console *c);
/* device_host.output and device_host.input_ready; ctx is the region. */
void console_output(void *ctx, const uint8_t *buf, size_t len);
void console_input_ready(void *ctx);
/* Its counters (output lost, bytes dropped), under the region's lock;
 * nothing when c is NULL. */
void console_stats(const struct console *c, device_stat_fn *emit, void *ctx);

#endif
