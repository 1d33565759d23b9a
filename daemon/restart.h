/* SPDX-License-Identifier: MIT */
/*
 * Restarting without losing a guest. With systemd's fd store on (see
 * fdstore.h), the daemon keeps a record of what it serves in a state memfd
 * of its own ("ior-state"): its ids and counters, every region (name,
 * user_data, how it was defined), every VM's channels (which region,
 * whether open, the fd's name, counters, a partial frame read and
 * responses not yet sent) and interrupt lines, and every control session
 * (id, VM, what hello said, subscribed). The record is rewritten whenever
 * one of those comes or goes, and in full on SIGTERM; each region's device
 * state is saved by region_save after every wake-up that served accesses.
 *
 * On start, restart_apply reads the record back: plugged regions are
 * plugged again, the config's regions are built, and every region whose
 * definition did not change takes its saved device state and memory back;
 * sessions, channels and interrupt lines are served again on their stored
 * fds. A record or a region state that is corrupt or of another format
 * version is refused with a log line and the state_errors counter: the
 * daemon (or only that region) starts fresh, everything else keeps its
 * state.
 */
#ifndef RESTART_H
#define RESTART_H

#include "config.h"
#include "ioregiond.h"

/* Takes what systemd passed, builds the regions of cfg (taking ownership
 * of it, also on failure) and restores whatever was saved. Returns 0, or
 * a negative errno when cfg cannot be applied. */
int restart_apply(struct ioregiond *d, struct config *cfg,
		  struct config_errors *errs);
/* Writes the record now (a no-op with the store off). */
void restart_save(struct ioregiond *d);
/* SIGTERM: saves every region and the record, and keeps every stored fd
 * for the next start. */
void restart_keep(struct ioregiond *d);
void restart_free(struct ioregiond *d);

#endif
