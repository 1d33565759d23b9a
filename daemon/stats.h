/* SPDX-License-Identifier: MIT */
/* The Stats reply: per VM, per (VM, region) and daemon-wide counters. */
#ifndef STATS_H
#define STATS_H

#include "control_io.h"
#include "ioregiond.h"

/* Room in one packet for the VMs and their region records; the rest is
 * the id, the daemon counters and the total. */
#define STATS_ROOM (IOR_CONTROL_MAX_PACKET - 4096)

/* vm NULL: every VM. The region records from offset on, counted over the
 * VMs in order, as many as STATS_ROOM holds; reply->total says how many
 * there are in all. NULL when out of memory. Strings point into the
 * daemon's state: pack the reply before anything changes. */
Ior__StatsReply *stats_build(struct ioregiond *d, const char *vm,
			     uint32_t offset);
void stats_free(Ior__StatsReply *reply);

#endif
