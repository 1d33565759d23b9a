/* SPDX-License-Identifier: MIT */
/*
 * Who may attach as which VM, and who may administer the daemon, from the
 * peer credentials of a control connection (SO_PEERCRED, SO_PEERGROUPS).
 * Without an "access" section: root and the daemon's own user are admins
 * and may attach as any VM; members of the socket's group may attach as any
 * VM.
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stdbool.h>

#include "ioregiond.h"
#include "session.h"

/* Reads the peer's credentials; 0 or -errno. */
int access_read_peer(int fd, struct session_peer *peer);
void access_peer_clear(struct session_peer *peer);
/* Whether the peer may talk to the daemon at all: an admin, or a peer some
 * rule (the socket's group by default) lets in. A socket whose mode lets
 * everyone connect does not let everyone in. */
bool access_may_connect(const struct ioregiond *d,
			const struct session_peer *peer);
bool access_may_attach(const struct ioregiond *d,
		       const struct session_peer *peer, const char *vm);
bool access_is_admin(const struct ioregiond *d,
		     const struct session_peer *peer);

#endif
