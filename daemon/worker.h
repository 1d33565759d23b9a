/* SPDX-License-Identifier: MIT */
/*
 * Worker threads: the data path of the channels on N threads, each with
 * its own event loop and poll set; the control path stays on the main
 * thread. Ownership is by message passing: a worker serves only the
 * channels attached to its loop, and the main thread touches channels,
 * regions, devices and VMs only while it holds every worker (workers_hold:
 * each worker serving channels, told through its pipe, acknowledges and
 * waits inside its own loop, so none is in the middle of serving
 * anything). Only requests that touch that state pause the workers; the
 * rest of the control path (Hello, ListRegions, Stats, accepting) reads
 * what only the main thread writes, or takes a region's lock. A channel a
 * worker finds dead goes back to the main thread to be closed
 * (worker_defer_close). Between workers, a region's lock serializes the
 * entry points of a device that several VMs share (region.h).
 *
 * One worker (workers == 1) is today's daemon: no thread, every channel on
 * the main thread's loop. With more, channels of regions with a TPM stay
 * on the main thread too, where their swtpm is driven.
 */
#ifndef WORKER_H
#define WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "config.h"

struct channel;
struct ioregiond;

#define WORKER_MAX CONFIG_MAX_WORKERS

struct worker {
	struct ioregiond *d;
	unsigned int index;		/* 0: the main thread */
	struct event_base *base;
	TAILQ_HEAD(, channel) polling;	/* its poll set, see pollset.h */
	struct event *ev_poll;		/* serves it, while it has channels */
	unsigned int nvms;		/* VMs placed on it (main thread's count) */
	/* A thread's; unused for the main thread's (index 0). */
	pthread_t thread;
	bool started;
	int wake[2];			/* the main thread's messages */
	struct event *ev_wake;
	unsigned int nchannels;		/* it serves (main thread's count) */
	bool paused;			/* in this turn's pause (main's view) */
	/* Under lock: the pause the main thread asked for last, the one
	 * the worker waits in (acknowledged), the last one released. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t pause_seq, acked_seq, released_seq;
	bool stop;			/* its loop is to end */
};

/* The main thread's loop as worker 0, with its poll set. 0, or -1 with
 * errno. */
int worker_main_init(struct ioregiond *d);
/* n - 1 more loops (n: 1..WORKER_MAX, 1 is the main thread alone), not
 * running yet. 0, or -1 with errno. */
int workers_init(struct ioregiond *d, unsigned int n);
/* Starts their threads; channels attached before are served from now. */
int workers_start(struct ioregiond *d);
/* Runs deferred work, then stops and joins the threads; their loops
 * stay for channel_close. */
void workers_stop(struct ioregiond *d);
/* Frees the loops, after every channel closed. */
void workers_free(struct ioregiond *d);
/* The default: one per CPU, at most WORKER_MAX. */
unsigned int workers_default(void);

/* The main thread is about to touch channels, regions or devices: waits
 * until every worker serving a channel acknowledged it stopped serving.
 * Nests. Call it only where such state is touched: each pause stalls
 * every guest on a worker. The pause lasts until the end of the loop
 * turn (workers_resume, from an event queued behind the turn's others):
 * whatever else this turn does shares it, and a worker gets a turn of
 * its own loop between two pauses. */
void workers_hold(struct ioregiond *d);
void workers_release(struct ioregiond *d);
/* Ends the pause now, outside any hold (the end of a turn, a stop);
 * deferred work (workers_defer) runs first, sharing it. */
void workers_resume(struct ioregiond *d);

/* The pause budget: a pause starts at least WORKERS_PAUSE_GAP_US after
 * the last one ended, whatever clients send, so workers keep most of
 * their time (a pause costs tens of µs). Work that needs a pause and
 * comes sooner is deferred to the next slot, where one pause runs all
 * of it. */
#define WORKERS_PAUSE_GAP_US 1000

/* Work deferred to the next pause: run(job) is called with the workers
 * held, in the order deferred. */
struct worker_job {
	TAILQ_ENTRY(worker_job) link;
	void (*run)(struct worker_job *job);
	bool queued;
};

/* Whether a pause may start now: one is held this turn, none would stop
 * a worker, or the last ended a gap ago. */
bool workers_may_pause(struct ioregiond *d);
/* Runs job under the turn's pause if one is held, else at the next slot
 * (this turn when workers_may_pause). Deferring a queued job again does
 * nothing. */
void workers_defer(struct ioregiond *d, struct worker_job *job);
/* Unqueues job, if queued. */
void workers_cancel(struct ioregiond *d, struct worker_job *job);

/* The worker to serve ch, placed by VM: the least loaded when the VM has
 * no channel on a worker yet; the main thread for a TPM region's. */
struct region;
struct worker *worker_place(struct channel *ch, const struct region *r);
/* ch closed: its VM's place is freed with its last channel. */
void worker_unplace(struct channel *ch);
/* Whether the caller is the main thread (or a test without workers). */
bool worker_on_main(void);
/* On a worker: ch is dead (peer closed, an error); it stops serving it
 * and the main thread closes it, saying why. */
void worker_defer_close(struct channel *ch, const char *why);
/* The main thread, ch's worker paused: closes ch now if its worker
 * found it dead, without waiting for the turn that closes those. Returns
 * whether it did. */
bool worker_close_if_queued(struct channel *ch);
/* The main thread closes ch itself: a close it was told about goes. */
void worker_cancel_close(struct channel *ch);

#endif
