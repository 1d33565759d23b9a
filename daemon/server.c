/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "log.h"
#include "region.h"
#include "regionset.h"
#include "restart.h"
#include "server.h"
#include "session.h"
#include "vm.h"

struct server {
	struct ioregiond *d;
	int fd;
	char *owned_path;	/* unlinked on exit when we created it */
	bool stored;		/* ours, kept in the fd store */
	struct event *ev_accept, *ev_term, *ev_int, *ev_hup, *ev_watchdog;
};

static void server_status(struct ioregiond *d)
{
	struct region *r;
	unsigned int n = 0;

	TAILQ_FOREACH(r, &d->regions, link)
		n++;
	sd_notifyf(0, "STATUS=serving %u region%s to %u client%s", n,
		   n == 1 ? "" : "s", d->nsessions,
		   d->nsessions == 1 ? "" : "s");
}

static void server_on_status(evutil_socket_t fd, short what, void *arg)
{
	server_status(arg);
}

void server_notify(struct ioregiond *d, const struct region *r,
		   enum notify_event ev)
{
	session_notify(d, r, ev);
	ioregiond_status_changed(d);
}

/* A socket path nobody answers on is stale and removed; one that answers
 * means another daemon is running. */
static int server_clear_stale(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		log_err("%s: another ioregiond is serving there", sa->sun_path);
		return -EADDRINUSE;
	}
	if (errno == ENOENT)
		return 0;
	if (errno != ECONNREFUSED)
		return -errno;
	log_info("%s: removing stale socket", sa->sun_path);
	return unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
}

static int server_own_socket(struct server *srv, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *dir = strdup(path);
	int fd, rc;

	if (!dir)
		return -ENOMEM;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		free(dir);
		log_err("%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		log_warn("%s: %s", dir, strerror(errno));
	free(dir);
	rc = server_clear_stale(&sa);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Created 0660 from the start: no window where others could connect. */
	if (fchmod(fd, 0660) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		log_err("%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	srv->owned_path = strdup(path);
	srv->fd = fd;
	srv->stored = fdstore_add(&srv->d->fdstore, fd,
				  FDSTORE_PREFIX "listen") == 0 &&
		      srv->d->fdstore.enabled;
	return 0;
}

/* The listening socket systemd passed: the socket unit's, or the one this
 * daemon made and stored before a restart. 0 when there is none. */
static int server_activated_socket(struct server *srv)
{
	struct fdstore *st = &srv->d->fdstore;
	bool more;
	int fd;

	fd = fdstore_claim(st, FDSTORE_PREFIX "listen");
	if (fd >= 0) {
		srv->stored = true;
	} else {
		fd = fdstore_claim_foreign(st, &more);
		if (fd < 0)
			return 0;
		if (more) {
			close(fd);
			log_err("socket activation: expected one listening socket, got more");
			return -EINVAL;
		}
	}
	if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
		log_err("socket activation: fd %d is not a listening SOCK_SEQPACKET unix socket",
			fd);
		close(fd);
		return -EINVAL;
	}
	srv->fd = fd;
	if (fcntl(srv->fd, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(srv->fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 1;
}

/* "The socket's group" of the default access rules. */
static void server_socket_group(struct server *srv)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	struct stat st;

	if (getsockname(srv->fd, (struct sockaddr *)&sa, &len) < 0 ||
	    len <= offsetof(struct sockaddr_un, sun_path) || !sa.sun_path[0])
		return;
	if (stat(sa.sun_path, &st) == 0) {
		srv->d->socket_gid = st.st_gid;
		srv->d->socket_has_gid = true;
	}
}

/* No pause (worker.h): sessions are the main thread's alone, and one
 * evicted has not said hello, so it opened nothing. */
static void server_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct ioregiond *d = srv->d;
	int c;

	for (;;) {
		c = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("accept: %s", strerror(errno));
			break;
		}
		if (d->npending >= d->config->max_pending)
			session_evict_pending(d);
		if (d->nsessions >= d->config->max_clients) {
			d->counters.sessions_refused++;
			log_warn("refusing client: %u clients already connected",
				 d->nsessions);
			close(c);
			continue;
		}
		if (session_new(d, c) < 0)
			log_warn("client setup failed");
	}
}

static void server_on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	log_info("signal %d: shutting down", (int)sig);
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	event_base_loopexit(srv->d->base, NULL);
}

static void server_on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct config_errors errs = { 0 };
	unsigned int i;
	int rc;

	sd_notify(0, "RELOADING=1");
	workers_hold(srv->d);
	rc = regionset_reload(srv->d, &errs);
	workers_release(srv->d);
	if (rc == 0) {
		log_info("config reloaded");
	} else {
		log_err("config reload refused, the old config keeps running:");
		for (i = 0; i < errs.count; i++)
			log_err("  %s", errs.lines[i]);
	}
	config_errors_clear(&errs);
	sd_notify(0, "READY=1");
}

static void server_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

static int server_events(struct server *srv)
{
	struct event_base *base = srv->d->base;
	uint64_t usec;

	srv->ev_accept = event_new(base, srv->fd, EV_READ | EV_PERSIST,
				   server_on_accept, srv);
	srv->ev_term = evsignal_new(base, SIGTERM, server_on_stop, srv);
	srv->ev_int = evsignal_new(base, SIGINT, server_on_stop, srv);
	srv->ev_hup = evsignal_new(base, SIGHUP, server_on_reload, srv);
	srv->d->ev_status = event_new(base, -1, 0, server_on_status, srv->d);
	if (!srv->ev_accept || !srv->ev_term || !srv->ev_int || !srv->ev_hup ||
	    !srv->d->ev_status ||
	    event_add(srv->ev_accept, NULL) || event_add(srv->ev_term, NULL) ||
	    event_add(srv->ev_int, NULL) || event_add(srv->ev_hup, NULL))
		return -ENOMEM;
	if (sd_watchdog_enabled(0, &usec) > 0) {
		struct timeval tv = { .tv_sec = (time_t)(usec / 2000000),
				      .tv_usec = (suseconds_t)(usec / 2 % 1000000) };

		srv->ev_watchdog = event_new(base, -1, EV_PERSIST,
					     server_on_watchdog, srv);
		if (!srv->ev_watchdog || event_add(srv->ev_watchdog, &tv))
			return -ENOMEM;
	}
	return 0;
}

static void server_teardown(struct server *srv)
{
	struct region *r;
	struct event **evs[] = { &srv->ev_accept, &srv->ev_term, &srv->ev_int,
				 &srv->ev_hup, &srv->ev_watchdog };
	size_t i;

	if (srv->d->ev_status) {
		event_free(srv->d->ev_status);
		srv->d->ev_status = NULL;
	}
	session_free_all(srv->d);
	while ((r = TAILQ_FIRST(&srv->d->regions)))
		regionset_remove(r);
	vm_free_all(srv->d);
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (*evs[i])
			event_free(*evs[i]);
	if (srv->fd >= 0)
		close(srv->fd);
	/* A stored socket stays bound for the next start. */
	if (!srv->d->fdstore.keeping) {
		if (srv->owned_path)
			unlink(srv->owned_path);
		if (srv->stored)
			fdstore_remove(&srv->d->fdstore, FDSTORE_PREFIX "listen");
	}
	free(srv->owned_path);
}

int server_run(struct ioregiond *d, const char *socket_path)
{
	struct server srv = { .d = d, .fd = -1 };
	int rc;

	rc = server_activated_socket(&srv);
	if (rc == 0)
		rc = server_own_socket(&srv, socket_path);
	if (rc < 0 || server_events(&srv) < 0) {
		server_teardown(&srv);
		return EXIT_FAILURE;
	}
	server_socket_group(&srv);
	fdstore_release_unclaimed(&d->fdstore);
	if (srv.owned_path)
		log_info("serving on %s", srv.owned_path);
	else
		log_info("serving on the socket systemd passed");
	sd_notify(0, "READY=1");
	server_status(d);
	log_serve();
	if (workers_start(d) < 0) {
		log_err("cannot start the worker threads: %s", strerror(errno));
		workers_stop(d);
		server_teardown(&srv);
		return EXIT_FAILURE;
	}
	event_base_dispatch(d->base);
	/* From here the main thread alone touches the channels. */
	workers_stop(d);
	sd_notify(0, "STOPPING=1");
	restart_keep(d);
	server_teardown(&srv);
	log_info("stopped");
	log_close();
	return EXIT_SUCCESS;
}
