/* SPDX-License-Identifier: MIT */
/*
 * The daemon's set of regions: lookup by name, adding and removing one,
 * and changing the set while serving: config reload (SIGHUP or the Reload
 * request), and plug/unplug of single regions. A reload keeps every
 * unchanged region with its fds and device state, removes what is gone,
 * adds what is new, and is all or nothing: an invalid config changes
 * nothing. Plugged regions survive reloads.
 */
#ifndef REGIONSET_H
#define REGIONSET_H

#include "config.h"
#include "ioregiond.h"
#include "region.h"

struct region *regionset_find(struct ioregiond *d, const char *name);
/* Adds a region made by region_new() and announces RegionAdded. */
void regionset_add(struct region *r);
/* Closes every channel, announces RegionRemoved, frees the region. */
void regionset_remove(struct region *r);

/* Takes ownership of cfg, also on failure. */
int regionset_apply(struct ioregiond *d, struct config *cfg,
		    struct config_errors *errs);
/* Reads d->config_path again (or the built-in config) and applies it. */
int regionset_reload(struct ioregiond *d, struct config_errors *errs);
int regionset_plug(struct ioregiond *d, const char *region_json,
		   struct config_errors *errs);
int regionset_unplug(struct ioregiond *d, const char *name,
		     struct config_errors *errs);

#endif
