/* SPDX-License-Identifier: MIT */
/*
 * Changing the set of regions while serving: config reload (SIGHUP or the
 * Reload request), and plug/unplug of single regions. A reload keeps every
 * unchanged region with its fds and device state, removes what is gone,
 * adds what is new, and is all or nothing: an invalid config changes
 * nothing. Plugged regions survive reloads.
 */
#ifndef RELOAD_H
#define RELOAD_H

#include "config.h"
#include "ioregiond.h"

/* Takes ownership of cfg, also on failure. */
int reload_apply(struct ioregiond *d, struct config *cfg,
		 struct config_errors *errs);
/* Reads d->config_path again (or the built-in config) and applies it. */
int reload_config(struct ioregiond *d, struct config_errors *errs);
int reload_plug(struct ioregiond *d, const char *region_json,
		struct config_errors *errs);
int reload_unplug(struct ioregiond *d, const char *name,
		  struct config_errors *errs);

#endif
