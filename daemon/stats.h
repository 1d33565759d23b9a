/* SPDX-License-Identifier: MIT */
/* The Stats reply: per VM, per (VM, region) and daemon-wide counters. */
#ifndef STATS_H
#define STATS_H

#include "control.pb-c.h"
#include "ioregiond.h"

/* vm NULL: every VM. NULL when out of memory. Strings point into the
 * daemon's state: pack the reply before anything changes. */
Ior__StatsReply *stats_build(struct ioregiond *d, const char *vm);
void stats_free(Ior__StatsReply *reply);

#endif
