/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

int access_read_peer(int fd, struct session_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t *groups;

	memset(peer, 0, sizeof(*peer));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	len = 64 * sizeof(gid_t);
	groups = malloc(len);
	if (!groups)
		return -ENOMEM;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0 &&
	    errno == ERANGE) {
		gid_t *bigger = realloc(groups, len);

		if (!bigger) {
			free(groups);
			return -ENOMEM;
		}
		groups = bigger;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	peer->groups = groups;
	peer->ngroups = len / sizeof(gid_t);
	return 0;
}

void access_peer_clear(struct session_peer *peer)
{
	free(peer->groups);
	peer->groups = NULL;
	peer->ngroups = 0;
}

static bool access_in_group(const struct session_peer *peer, gid_t gid)
{
	unsigned int i;

	if (peer->gid == gid)
		return true;
	for (i = 0; i < peer->ngroups; i++)
		if (peer->groups[i] == gid)
			return true;
	return false;
}

static bool access_rule_matches(const struct config_access *rule,
				const struct session_peer *peer)
{
	if (rule->has_uid && rule->uid != peer->uid)
		return false;
	if (rule->has_gid && !access_in_group(peer, rule->gid))
		return false;
	return true;
}

static bool access_rule_has_vm(const struct config_access *rule,
			       const char *vm)
{
	unsigned int i;

	if (rule->all_vms)
		return true;
	for (i = 0; i < rule->nvms; i++)
		if (strcmp(rule->vms[i], vm) == 0)
			return true;
	return false;
}

static bool access_default_admin(const struct session_peer *peer)
{
	return peer->uid == 0 || peer->uid == geteuid();
}

bool access_may_attach(const struct ioregiond *d,
		       const struct session_peer *peer, const char *vm)
{
	unsigned int i;

	if (!d->config->has_access)
		return access_default_admin(peer) ||
		       (d->socket_has_gid && access_in_group(peer, d->socket_gid));
	for (i = 0; i < d->config->naccess; i++)
		if (access_rule_matches(&d->config->access[i], peer) &&
		    access_rule_has_vm(&d->config->access[i], vm))
			return true;
	return false;
}

bool access_may_connect(const struct ioregiond *d,
			const struct session_peer *peer)
{
	unsigned int i;

	if (!d->config->has_access)
		return access_default_admin(peer) ||
		       (d->socket_has_gid && access_in_group(peer, d->socket_gid));
	for (i = 0; i < d->config->naccess; i++)
		if (access_rule_matches(&d->config->access[i], peer))
			return true;
	return false;
}

bool access_is_admin(const struct ioregiond *d,
		     const struct session_peer *peer)
{
	unsigned int i;

	if (!d->config->has_access)
		return access_default_admin(peer);
	for (i = 0; i < d->config->naccess; i++)
		if (d->config->access[i].admin &&
		    access_rule_matches(&d->config->access[i], peer))
			return true;
	return false;
}
