/* SPDX-License-Identifier: MIT */
/*
 * A live region: its config, its device instance (one per region, shared by
 * every VM the region lists) and the channels open on it.
 */
#ifndef REGION_H
#define REGION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "channel.h"
#include "device.h"
#include "config.h"
#include "ioregiond.h"
#include "log.h"
#include "stateslot.h"

struct channel;
struct console;
struct tpm_backend;

/* An open channel as the region's saved state has it. */
struct region_saved_channel {
	bool valid;
	struct channel_counters counters;
	unsigned int in_buf;		/* its inbox, and what it held */
	size_t in_len;
};

struct region {
	TAILQ_ENTRY(region) link;
	/* Held by a worker serving one of its channels: the device's entry
	 * points of VMs on different workers never overlap. The main thread
	 * touches the device only while holding every worker (worker.h). */
	pthread_mutex_t lock;
	struct ioregiond *d;
	struct config_region cfg;
	uint64_t user_data;
	bool plugged;			/* added at run time, kept on reload */
	struct device *dev;
	struct tpm_backend *tpm;	/* a tpm-tis region's swtpms, or NULL */
	TAILQ_HEAD(, channel) channels;
	uint64_t irq_level;		/* device output, a bit per requester */
	struct console *console;	/* cfg.input_socket's, or NULL */
	char *plug_json;		/* a plugged region's definition */
	struct stateslot state;		/* device state, while the fd store is on */
	/* The channels open when the state was saved, by requester (newer
	 * than the daemon's record); NULL when none. */
	struct region_saved_channel *saved_channels;
	struct log_ratelimit save_errors;
	struct log_ratelimit irqs_lost;	/* under lock, see irq.c */
};

/* Builds the region and its device; regionset_add() publishes it. With the fd
 * store on, its state memfd and its device's memory are stored. */
struct region *region_new(struct ioregiond *d, const struct config_region *cfg,
			  bool plugged, struct config_errors *errs);
/* Frees a region that was never published. */
void region_free(struct region *r);

/* Saves the device state into the state memfd (a no-op with the store
 * off). Called before the responses of a wake-up leave, so whatever a
 * guest saw acknowledged is saved. */
void region_save(struct region *r);
/* Takes over what a previous daemon stored for this region: its
 * user_data, its state memfd (state_fd) and its device memory (memory_fd,
 * or -1), both the caller's on failure. Returns 0, or -1 with why set and
 * the device started fresh. */
int region_restore(struct region *r, uint64_t user_data, int state_fd,
		   int memory_fd, char *why, size_t whylen);
/* A VMM opened requester's channel anew: a new boot of the VM for a TPM
 * (TPM_Init; PCRs must not outlive a boot). Other devices keep their
 * state across VMM restarts, as they do across daemon restarts; a VMM
 * resets them with ResetVm (region_reset_vm). */
void region_power_on(struct region *r, unsigned int requester);
/* requester's VM was reset (a reboot): what of the device is that VM's
 * goes back to power-on state (the whole device when it is the region's
 * only VM; the model's reset_vm of a shared one), and its TPM gets
 * TPM_Init. Saved at once. */
void region_reset_vm(struct region *r, unsigned int requester);
/* One of requester's two inboxes in the state memfd (see channel.h); NULL
 * with the fd store off. */
uint8_t *region_inbox(struct region *r, unsigned int requester,
		      unsigned int which);

#endif
