/* SPDX-License-Identifier: MIT */
/*
 * One control connection: a VMM (through libioregion) or an admin client.
 * Requests are validated in full before anything acts on them; a malformed
 * one gets an Error reply and a strike, and too many strikes disconnect the
 * client. Replies that the socket cannot take yet wait in a bounded queue;
 * a client that lets it fill up is disconnected rather than buffered for.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "control_io.h"
#include "ioregiond.h"

/* Replies and events queued for a slow client before it is dropped. */
#define SESSION_MAX_QUEUED 1024

struct session_packet {
	STAILQ_ENTRY(session_packet) link;
	int fd;			/* sent with the packet, then closed */
	size_t len;
	uint8_t buf[];
};

struct session_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t *groups;		/* supplementary groups (SO_PEERGROUPS) */
	unsigned int ngroups;
};

struct session {
	TAILQ_ENTRY(session) link;
	struct ioregiond *d;
	uint64_t id;		/* unique for the daemon's life */
	int fd;
	struct event *ev_read, *ev_write;
	struct event *ev_hello;	/* hello timeout */
	struct session_peer peer;
	bool greeted, admin, subscribed;
	bool closing;		/* close once the queue is sent */
	bool incoming;		/* a migration's destination, till TakeOver */
	char client_name[IOREGION_NAME_MAX + 1];
	char vm_name[IOREGION_NAME_MAX + 1];	/* empty: attached as no VM */
	unsigned int strikes;
	STAILQ_HEAD(, session_packet) queue;
	unsigned int queued;
	/* A request that waits for the next pause slot (worker.h), with
	 * the fd it carried; reading stops till it ran, to keep the order. */
	Ior__ClientMessage *stash;
	int stash_fd;
	struct worker_job job;
};

/* Takes ownership of an accepted connection. */
int session_new(struct ioregiond *d, int fd);
/* A connection a previous daemon served, with its id; the caller fills
 * in what it had said. NULL (fd still the caller's) if out of memory. */
struct session *session_adopt(struct ioregiond *d, int fd, uint64_t id,
			      bool greeted);
void session_free(struct session *s);
void session_free_all(struct ioregiond *d);
/* Drops the oldest connection still waiting for its hello. */
void session_evict_pending(struct ioregiond *d);

/* The notify.h listener: RegionAdded/RegionRemoved to subscribed
 * sessions that may see the region. */
notify_fn session_notify;

#endif
