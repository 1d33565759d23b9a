/* SPDX-License-Identifier: MIT */
/*
 * Changes to the set of regions, announced to whoever listens. The region
 * side calls notify_region(); the listener (the control sessions, which
 * turn it into RegionAdded/RegionRemoved events) is plugged in once by
 * main. So region and reload code never call back into the sessions that
 * call them, the way tmux's notify.c decouples its core from its clients.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

enum notify_event { NOTIFY_REGION_ADDED, NOTIFY_REGION_REMOVED };

struct ioregiond;
struct region;

typedef void notify_fn(struct ioregiond *d, const struct region *r,
		       enum notify_event ev);

void notify_region(struct ioregiond *d, const struct region *r,
		   enum notify_event ev);

#endif
