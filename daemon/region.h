/* SPDX-License-Identifier: MIT */
/*
 * A live region: its config, its device instance (one per region, shared by
 * every VM the region lists) and the channels open on it.
 */
#ifndef REGION_H
#define REGION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "device.h"
#include "config.h"
#include "ioregiond.h"
#include "log.h"

struct channel;
struct console;

struct region {
	TAILQ_ENTRY(region) link;
	struct ioregiond *d;
	struct config_region cfg;
	uint64_t user_data;
	bool plugged;			/* added at run time, kept on reload */
	struct device *dev;
	TAILQ_HEAD(, channel) channels;
	uint64_t irq_level;		/* device output, a bit per requester */
	struct console *console;	/* cfg.input_socket's, or NULL */
};

/* Builds the region and its device; does not publish it. */
struct region *region_new(struct ioregiond *d, const struct config_region *cfg,
			  bool plugged, struct config_errors *errs);
/* Adds it to the daemon and announces RegionAdded. */
void region_publish(struct region *r);
/* Closes every channel, announces RegionRemoved, frees it. */
void region_remove(struct region *r);
/* Frees a region that was never published. */
void region_free(struct region *r);
struct region *region_find(struct ioregiond *d, const char *name);

#endif
