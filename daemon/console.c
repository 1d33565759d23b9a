/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "console.h"
#include "region.h"
#include "worker.h"

#define CONSOLE_BUF 256

struct console {
	struct region *r;
	struct sockaddr_un addr;
	dev_t sock_dev;
	ino_t sock_ino;
	int listen_fd, client_fd;
	struct event *ev_accept, *ev_read, *ev_feed;
	uint8_t held[CONSOLE_BUF];	/* read, not yet taken by the device */
	size_t held_off, held_len;
	/* Output the client did not get, under the region's lock. */
	uint64_t output_errors;		/* sends that failed */
	uint64_t output_dropped;	/* bytes: failed, or no room */
	struct log_ratelimit ratelimit;
};

static void console_drop_client(struct console *c, const char *why)
{
	if (c->client_fd < 0)
		return;
	log_info("region %s: console client left: %s", c->r->cfg.name, why);
	event_free(c->ev_read);
	c->ev_read = NULL;
	close(c->client_fd);
	c->client_fd = -1;
	c->held_off = c->held_len = 0;
}

/* Gives the device what it can take; reads more only once all is taken. */
static void console_feed(struct console *c)
{
	struct device *dev = c->r->dev;

	if (c->held_off < c->held_len)
		c->held_off += dev->ops->input(dev, c->held + c->held_off,
					       c->held_len - c->held_off);
	if (c->held_off < c->held_len || c->client_fd < 0)
		return;
	c->held_off = c->held_len = 0;
	event_add(c->ev_read, NULL);
}

static void console_read(struct console *c, evutil_socket_t fd)
{
	ssize_t n = recv(fd, c->held, sizeof(c->held), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		console_drop_client(c, n == 0 ? "closed" : strerror(errno));
		return;
	}
	c->held_off = 0;
	c->held_len = (size_t)n;
	event_del(c->ev_read);
	console_feed(c);
}

/* Input goes into the device, which workers serve, and may raise its
 * interrupt (which may create VM records workers look up): every worker
 * is held meanwhile. */
static void console_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;

	workers_hold(c->r->d);
	console_read(c, fd);
	workers_release(c->r->d);
}

static void console_on_feed(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;

	workers_hold(c->r->d);
	console_feed(c);
	workers_release(c->r->d);
}

static void console_accept(struct console *c, evutil_socket_t fd)
{
	int client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (client < 0)
		return;
	console_drop_client(c, "replaced by a new client");
	c->ev_read = event_new(c->r->d->base, client, EV_READ | EV_PERSIST,
			       console_on_read, c);
	if (!c->ev_read || event_add(c->ev_read, NULL) < 0) {
		log_warn("region %s: console client refused: out of memory",
			 c->r->cfg.name);
		if (c->ev_read)
			event_free(c->ev_read);
		c->ev_read = NULL;
		close(client);
		return;
	}
	c->client_fd = client;
	log_info("region %s: console client connected", c->r->cfg.name);
}

/* A new client touches only what a worker's console_output reads, under
 * the region's lock as that is: no pause. */
static void console_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct console *c = arg;

	pthread_mutex_lock(&c->r->lock);
	console_accept(c, fd);
	pthread_mutex_unlock(&c->r->lock);
}

static int console_listen(struct console *c, const char *path)
{
	struct stat st;

	c->addr.sun_family = AF_UNIX;
	snprintf(c->addr.sun_path, sizeof(c->addr.sun_path), "%s", path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
					   SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return -1;
	/* Like QEMU's server sockets, take the path over from a stale one. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(c->listen_fd, (struct sockaddr *)&c->addr,
		 sizeof(c->addr)) < 0 ||
	    listen(c->listen_fd, 1) < 0 || stat(path, &st) < 0)
		return -1;
	c->sock_dev = st.st_dev;
	c->sock_ino = st.st_ino;
	return 0;
}

struct console *console_open(struct region *r)
{
	struct console *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->r = r;
	c->listen_fd = c->client_fd = -1;
	if (console_listen(c, r->cfg.input_socket) < 0)
		goto fail;
	c->ev_accept = event_new(r->d->base, c->listen_fd, EV_READ | EV_PERSIST,
				 console_on_accept, c);
	c->ev_feed = event_new(r->d->base, -1, 0, console_on_feed, c);
	if (!c->ev_accept || !c->ev_feed || event_add(c->ev_accept, NULL) < 0) {
		errno = ENOMEM;
		goto fail;
	}
	log_info("region %s: console on %s", r->cfg.name, r->cfg.input_socket);
	return c;
fail:
	err = errno;
	console_close(c);
	errno = err;
	return NULL;
}

void console_close(struct console *c)
{
	struct stat st;

	if (!c)
		return;
	console_drop_client(c, "region closed");
	if (c->ev_accept)
		event_free(c->ev_accept);
	if (c->ev_feed)
		event_free(c->ev_feed);
	if (c->listen_fd >= 0 && c->sock_ino &&
	    stat(c->addr.sun_path, &st) == 0 && st.st_dev == c->sock_dev &&
	    st.st_ino == c->sock_ino)
		unlink(c->addr.sun_path);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c);
}

/* Under the region's lock (a device access). A failed send is counted
 * and said; the client is the main thread's to drop, so on a worker its
 * read event sees the same error there. */
void console_output(void *ctx, const uint8_t *buf, size_t len)
{
	struct region *r = ctx;
	struct console *c = r->console;
	ssize_t n;

	if (!c || c->client_fd < 0)
		return;
	n = send(c->client_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN) {
		c->output_errors++;
		c->output_dropped += len;
		log_limited(&c->ratelimit, LOG_WARNING,
			    "region %s: console client: output lost: %s",
			    r->cfg.name, strerror(errno));
		if (worker_on_main())
			console_drop_client(c, strerror(errno));
	} else if (n < (ssize_t)len) {
		c->output_dropped += len - (size_t)(n < 0 ? 0 : n);
		log_limited(&c->ratelimit, LOG_WARNING,
			    "region %s: console client too slow, output dropped",
			    r->cfg.name);
	}
}

void console_stats(const struct console *c, device_stat_fn *emit, void *ctx)
{
	if (!c)
		return;
	emit(ctx, "console_output_errors", c->output_errors);
	emit(ctx, "console_output_dropped", c->output_dropped);
}

/* Called from inside a device access: feed from the event loop instead. */
void console_input_ready(void *ctx)
{
	struct region *r = ctx;

	if (r->console)
		event_active(r->console->ev_feed, 0, 0);
}
