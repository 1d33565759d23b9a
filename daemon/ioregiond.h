/* SPDX-License-Identifier: MIT */
/* The daemon's state: one instance, passed to every part explicitly. */
#ifndef IOREGIOND_H
#define IOREGIOND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "fdstore.h"
#include "log.h"
#include "notify.h"
#include "worker.h"

struct channel;
struct region;
struct vm;
struct session;
struct stateslot;

TAILQ_HEAD(region_list, region);
TAILQ_HEAD(vm_list, vm);
TAILQ_HEAD(session_list, session);
TAILQ_HEAD(channel_list, channel);

/* Daemon-wide counters, reported by Stats under these names. */
#define IOREGIOND_COUNTERS(X)                                             \
	X(sessions_accepted)                                              \
	X(sessions_refused)	/* over max_clients or the uid's share */ \
	X(sessions_evicted)	/* oldest pending, to make room */        \
	X(sessions_timed_out)	/* no hello in time */                    \
	X(control_errors)	/* malformed or refused requests */       \
	X(control_disconnects)	/* clients dropped for misbehaving */     \
	X(access_denied)                                                  \
	X(reloads)                                                        \
	X(reload_failures)                                                \
	X(regions_opened)                                                 \
	X(regions_closed)                                                 \
	X(restarts)		/* starts that took a saved state back */ \
	X(state_errors)		/* saved states refused or not saved */ \
	X(poll_hits)		/* reads in a poll window that had frames */ \
	X(poll_misses)		/* poll windows that ran out: back to events */ \
	X(poll_preempted)	/* poll turns another task wanted the CPU in */ \
	X(vm_states_saved)	/* SaveVmState answered */                \
	X(vm_states_loaded)	/* LoadVmState applied */                 \
	X(vm_states_refused)	/* save, load, stop or take-over refused */ \
	X(handovers)		/* TakeOver: a VM moved to another VMM */ \
	X(worker_pauses)	/* a worker paused for the main thread */ \
	X(irqs_lost)		/* edges on a worker to a VM without the region */

struct ioregiond_counters {
#define IOREGIOND_COUNTER(name) uint64_t name;
	IOREGIOND_COUNTERS(IOREGIOND_COUNTER)
#undef IOREGIOND_COUNTER
};

struct ioregiond {
	struct event_base *base;
	const char *config_path;	/* NULL: the built-in config */
	struct config *config;
	struct region_list regions;
	struct vm_list vms;
	struct session_list sessions;
	unsigned int nsessions;
	unsigned int npending;		/* sessions waiting for hello */
	uint64_t next_session_id;
	uint64_t next_user_data;
	uint64_t next_store_id;		/* names fds in the fd store */
	gid_t socket_gid;
	bool socket_has_gid;
	struct event *ev_status;	/* sends STATUS=, see server.h */
	struct ioregiond_counters counters;
	notify_fn *notify;		/* the listener of notify.h */
	struct fdstore fdstore;
	struct worker_job save_job;	/* saves the daemon's state, see
					 * restart.h; run NULL: store off */
	struct stateslot *state;	/* the daemon's, while the store is on */
	struct log_ratelimit refusals;	/* access refusals logged */
	int poll_us;			/* --poll-us, or -1: the config's */
	struct worker main;		/* the main thread's loop (worker.h) */
	struct worker *workers;		/* the threads', nworkers of them */
	unsigned int nworkers;		/* 0: every channel on main */
	unsigned int hold_depth;	/* workers_hold nesting */
	bool holding;			/* workers paused till the turn ends */
	struct event *ev_release;	/* ends it (workers_resume) */
	uint64_t pause_end_us;		/* the last pause ended (monotonic) */
	TAILQ_HEAD(, worker_job) jobs;	/* deferred to the next pause */
	struct event *ev_slot;		/* the next pause slot: runs them */
	pthread_mutex_t closing_lock;	/* guards closing */
	struct channel_list closing;	/* found dead by workers */
	struct event *ev_closing;	/* closes them on the main thread */
	uint8_t instance_id[16];	/* random, for VM state files (vmstate.h) */
};

/* Counts one of the counters a worker thread may bump too. */
#define ioregiond_count(d, name) \
	__atomic_fetch_add(&(d)->counters.name, 1, __ATOMIC_RELAXED)

/* Sessions, channels or interrupt lines came or went: the daemon's saved
 * state is written again in this turn's pause, or the next slot's
 * (worker.h): a churn of clients costs no more pauses than the budget. */
static inline void ioregiond_state_changed(struct ioregiond *d)
{
	if (d->save_job.run)
		workers_defer(d, &d->save_job);
}

/* Regions or clients came or went: the STATUS= line systemd shows is
 * written again once the current event is handled. */
static inline void ioregiond_status_changed(struct ioregiond *d)
{
	if (d->ev_status)
		event_active(d->ev_status, 0, 0);
}

#endif
