/* SPDX-License-Identifier: MIT */
/*
 * The data path of one (VM, region) pair: the daemon's non-blocking end of
 * the socketpair whose other end the VMM hands to KVM. Each wake-up reads up
 * to CHANNEL_BATCH frames at once, keeps a partial frame for the next read,
 * hands runs of posted writes to the device as one batch, and writes every
 * response of the wake-up with one write. In poll mode (pollset.h) a
 * channel that served frames goes on being read without waiting for its
 * event, for a window after its last frame. An open channel is served by
 * one worker's loop (worker.h), under its region's lock.
 */
#ifndef CHANNEL_H
#define CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "device.h"
#include "ioregion.h"
#include "control_io.h"
#include "log.h"

#define CHANNEL_BATCH 64
/* Frames one read takes, and room for a partial frame left over. */
#define CHANNEL_IN_BYTES ((CHANNEL_BATCH + 1) * IOREGION_FRAME_SIZE)
/* Reads per wake-up before yielding to other channels. */
#define CHANNEL_ROUNDS 16

struct region;
struct vm;

struct channel_counters {
#define CHANNEL_COUNTER(name, column) uint64_t name;
	IOREGION_COUNTERS(CHANNEL_COUNTER)
#undef CHANNEL_COUNTER
};

struct channel {
	TAILQ_ENTRY(channel) vm_link;		/* in vm->channels, always */
	TAILQ_ENTRY(channel) region_link;	/* in region->channels, while open */
	TAILQ_ENTRY(channel) poll_link;		/* in the poll set, while polling */
	TAILQ_ENTRY(channel) close_link;	/* in d->closing, while queued */
	struct worker *worker;			/* serves it, while open */
	/* Found dead on a worker, for the main thread to close (guarded
	 * by d->closing_lock). */
	bool close_queued;
	char close_why[64];
	bool polling;
	uint64_t poll_deadline;			/* its window ends (pollset_now_ns) */
	uint64_t poll_window;			/* ns, adapted (pollset.h) */
	uint64_t poll_last;			/* when it last served frames */
	struct vm *vm;
	char region_name[IOREGION_NAME_MAX + 1];
	struct region *region;			/* NULL while closed */
	unsigned int requester;
	uint64_t opener;			/* id of the session that opened it */
	uint64_t store_id;			/* its fd's name in the fd store */
	int fd;
	struct event *ev;
	bool waiting_to_write;
	/* Not read since its VM stopped (channel_stop), till channel_cont. */
	bool stopped;
	/* The session a TakeOver handed it to (0: none): that session's
	 * open is the same boot going on, not a power-on; anyone else's
	 * (the destination gone, a fresh VMM) is a power-on. */
	uint64_t handed_to;
	/* Frames read and not yet served: in_local, or with the fd store on
	 * one of two inboxes in the region's state memfd, so frames taken
	 * off the socket survive a crash (see channel_resume). */
	uint8_t *in;
	unsigned int in_buf;			/* which inbox */
	size_t in_len;
	uint8_t in_local[CHANNEL_IN_BYTES];
	struct ioregion_resp out[CHANNEL_BATCH + 1];
	size_t out_len, out_off;		/* bytes */
	struct device_write batch[CHANNEL_BATCH + 1];
	unsigned int nbatch;
	struct channel_counters counters;
	struct log_ratelimit ratelimit;
};

/* A closed channel record for (vm, region name), keeping its counters. */
struct channel *channel_new(struct vm *vm, const char *region_name);
void channel_free(struct channel *ch);
/* Opens the data path; *peer gets the VMM's end. Returns 0 or -errno. */
int channel_open(struct channel *ch, struct region *region, int *peer);
/* Serves fd, the daemon's end that a previous daemon stored, with what
 * ch->in and ch->out still held. Returns 0 or -errno (fd then the
 * caller's). */
int channel_adopt(struct channel *ch, struct region *region, int fd);
/* After channel_adopt, with the inbox the region's state saved: serves
 * the frames a crashed daemon had read but not served (they follow the
 * saved in_len in that inbox), saves and sends their responses. Returns
 * how many frames it served. */
unsigned int channel_resume(struct channel *ch, unsigned int in_buf,
			    size_t in_len);
/* Tears the data path down; counters stay. */
void channel_close(struct channel *ch, const char *why);
bool channel_is_open(const struct channel *ch);
/* A copy of ch's counters, taken under its region's lock (the worker
 * serving it writes them under it): for the main thread, workers going
 * on. */
void channel_counters_get(const struct channel *ch,
			  struct channel_counters *out);

/* The VM's vCPUs stopped: serves every frame already on the socket and
 * sends the responses, then stops reading it. Returns how many frames it
 * served, -EPIPE when the channel closed meanwhile, or -EAGAIN when the
 * VMM does not read its responses (then it served what it could and goes
 * on running). */
int channel_stop(struct channel *ch);
/* On the main thread, the workers paused: whether ch is open, closing
 * it first when it is dead though the main thread was not told yet (its
 * worker found it so, or its VMM hung up: what that sent before is
 * served first). Stopped channels are left to ContVm. */
bool channel_reap(struct channel *ch);
/* Reads a stopped channel again, serving what came meanwhile. */
void channel_cont(struct channel *ch);

/* One read of the poll set: serves what the socket holds without
 * waiting. Returns 1 when frames were served, 0 when there was nothing to
 * read, -1 when the channel left the poll set (closed, or waiting for room
 * for its responses). */
int channel_poll(struct channel *ch);

/* Decodes and serves the frames in buf; exposed for the unit tests.
 * Returns the bytes consumed (whole frames). */
size_t channel_serve(struct channel *ch, const uint8_t *buf, size_t len);

#endif
