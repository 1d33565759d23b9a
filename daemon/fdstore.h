/* SPDX-License-Identifier: MIT */
/*
 * systemd's file descriptor store (FileDescriptorStoreMax=): every fd the
 * daemon must not lose on a restart or a crash (control connections, region
 * sockets, interrupt eventfds, state memfds, a listening socket of its own)
 * is handed to systemd under a name when it is created and withdrawn
 * (FDSTOREREMOVE) when it goes away. The next start gets them back in
 * LISTEN_FDS/LISTEN_FDNAMES beside the socket unit's listening socket, and
 * claims them by name. Without systemd (no NOTIFY_SOCKET) the store is
 * off and a restart starts fresh, as before.
 */
#ifndef FDSTORE_H
#define FDSTORE_H

#include <stdbool.h>

/* Every name the daemon stores starts so; others are the socket unit's. */
#define FDSTORE_PREFIX "ior-"

struct fdstore_entry {
	char *name;
	int fd;			/* -1 once claimed */
};

struct fdstore {
	bool enabled;		/* systemd listens: fds are stored */
	bool keeping;		/* stopping: what closes now stays stored */
	struct fdstore_entry *passed;	/* what this start was given */
	unsigned int npassed;
};

/* Takes what systemd passed (LISTEN_FDS, names) and unsets the variables. */
int fdstore_init(struct fdstore *st);
/* The passed fd of that name, now the caller's; -1 if none. */
int fdstore_claim(struct fdstore *st, const char *name);
/* A passed fd whose name is not the daemon's (the socket unit's); -1 if
 * none. Sets *more when there was more than one. */
int fdstore_claim_foreign(struct fdstore *st, bool *more);
/* Withdraws and closes every passed fd nobody claimed (what belonged to
 * regions no longer configured, say), saying so in the log. */
void fdstore_release_unclaimed(struct fdstore *st);
void fdstore_free(struct fdstore *st);

/* Stores fd under name (printf format); a no-op when the store is off. */
int fdstore_add(struct fdstore *st, int fd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Withdraws every fd stored under name, unless the daemon is stopping to
 * be started again. */
void fdstore_remove(struct fdstore *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
