/* SPDX-License-Identifier: MIT */
/* The daemon's state: one instance, passed to every part explicitly. */
#ifndef IOREGIOND_H
#define IOREGIOND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "notify.h"

struct region;
struct vm;
struct session;

TAILQ_HEAD(region_list, region);
TAILQ_HEAD(vm_list, vm);
TAILQ_HEAD(session_list, session);

/* Daemon-wide counters, reported by Stats. */
struct ioregiond_counters {
	uint64_t sessions_accepted;
	uint64_t sessions_refused;	/* over max_clients or the uid's share */
	uint64_t sessions_evicted;	/* oldest pending, to make room */
	uint64_t sessions_timed_out;	/* no hello in time */
	uint64_t control_errors;	/* malformed or refused requests */
	uint64_t control_disconnects;	/* clients dropped for misbehaving */
	uint64_t access_denied;
	uint64_t reloads;
	uint64_t reload_failures;
	uint64_t regions_opened;
	uint64_t regions_closed;
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
	gid_t socket_gid;
	bool socket_has_gid;
	struct ioregiond_counters counters;
	notify_fn *notify;		/* the listener of notify.h */
};

#endif
