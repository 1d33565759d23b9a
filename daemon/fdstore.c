/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "log.h"

/* FDNAME= allows at most 255 characters. */
#define FDSTORE_NAME_MAX 255

static void fdstore_free_names(char **names)
{
	unsigned int i;

	for (i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

int fdstore_init(struct fdstore *st)
{
	char **names = NULL;
	int n, i;

	memset(st, 0, sizeof(*st));
	st->enabled = getenv("NOTIFY_SOCKET") != NULL;
	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0)
		return n;
	st->passed = calloc((size_t)n, sizeof(*st->passed));
	if (!st->passed) {
		fdstore_free_names(names);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		st->passed[i].fd = SD_LISTEN_FDS_START + i;
		st->passed[i].name = names[i];
		names[i] = NULL;
		/* Not inherited by anything the daemon might run. */
		fcntl(st->passed[i].fd, F_SETFD, FD_CLOEXEC);
	}
	st->npassed = (unsigned int)n;
	fdstore_free_names(names);
	return n;
}

int fdstore_claim(struct fdstore *st, const char *name)
{
	unsigned int i;
	int fd;

	for (i = 0; i < st->npassed; i++) {
		if (st->passed[i].fd >= 0 &&
		    strcmp(st->passed[i].name, name) == 0) {
			fd = st->passed[i].fd;
			st->passed[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

static bool fdstore_is_ours(const char *name)
{
	return strncmp(name, FDSTORE_PREFIX, strlen(FDSTORE_PREFIX)) == 0;
}

int fdstore_claim_foreign(struct fdstore *st, bool *more)
{
	unsigned int i;
	int fd = -1;

	*more = false;
	for (i = 0; i < st->npassed; i++) {
		if (st->passed[i].fd < 0 || fdstore_is_ours(st->passed[i].name))
			continue;
		if (fd >= 0) {
			*more = true;
			break;
		}
		fd = st->passed[i].fd;
		st->passed[i].fd = -1;
	}
	return fd;
}

void fdstore_release_unclaimed(struct fdstore *st)
{
	unsigned int i;

	for (i = 0; i < st->npassed; i++) {
		if (st->passed[i].fd < 0)
			continue;
		log_info("fd store: %s belongs to nothing restored; released",
			 st->passed[i].name);
		if (fdstore_is_ours(st->passed[i].name))
			fdstore_remove(st, "%s", st->passed[i].name);
		close(st->passed[i].fd);
		st->passed[i].fd = -1;
	}
}

void fdstore_free(struct fdstore *st)
{
	unsigned int i;

	for (i = 0; i < st->npassed; i++) {
		if (st->passed[i].fd >= 0)
			close(st->passed[i].fd);
		free(st->passed[i].name);
	}
	free(st->passed);
	st->passed = NULL;
	st->npassed = 0;
}

int fdstore_add(struct fdstore *st, int fd, const char *fmt, ...)
{
	char name[FDSTORE_NAME_MAX + 1], msg[FDSTORE_NAME_MAX + 32];
	va_list ap;
	int rc;

	if (!st->enabled)
		return 0;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	rc = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	if (rc <= 0) {
		log_warn("fd store: cannot store %s: %s", name,
			 rc < 0 ? strerror(-rc) : "systemd does not listen");
		return rc < 0 ? rc : -ENOTCONN;
	}
	return 0;
}

void fdstore_remove(struct fdstore *st, const char *fmt, ...)
{
	char name[FDSTORE_NAME_MAX + 1], msg[FDSTORE_NAME_MAX + 32];
	va_list ap;

	if (!st->enabled || st->keeping)
		return;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	if (sd_pid_notify(0, 0, msg) <= 0)
		log_warn("fd store: cannot withdraw %s", name);
}
