/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

struct output {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stop;
	int fd;			/* -1 until path is opened */
	int stop_fd;		/* eventfd: wakes the writer to stop */
	bool own_fd;
	char *path;
	uint8_t *buf;
	size_t cap, head, len;	/* ring of cap bytes, len queued from head */
	uint64_t dropped;
	int error;		/* first failure not yet reported */
	unsigned int refs;
	struct output *next;	/* in output_shared */
};

/* Outputs on an fd, one per fd however many devices write to it: a writer
 * thread per fd, not per device. */
static struct output *output_shared;

static struct output *output_alloc(size_t capacity)
{
	struct output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->buf = malloc(capacity);
	if (!o->buf) {
		free(o);
		return NULL;
	}
	o->cap = capacity;
	o->fd = o->stop_fd = -1;
	o->refs = 1;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	return o;
}

struct output *output_new_fd(int fd, size_t capacity)
{
	struct output *o;

	for (o = output_shared; o; o = o->next) {
		if (o->fd == fd) {
			o->refs++;
			return o;
		}
	}
	o = output_alloc(capacity);
	if (!o)
		return NULL;
	o->fd = fd;
	o->next = output_shared;
	output_shared = o;
	return o;
}

static void output_unshare(struct output *o)
{
	struct output **p;

	for (p = &output_shared; *p; p = &(*p)->next) {
		if (*p == o) {
			*p = o->next;
			return;
		}
	}
}

struct output *output_new_path(const char *path, size_t capacity)
{
	struct output *o = output_alloc(capacity);

	if (!o)
		return NULL;
	o->path = strdup(path);
	if (!o->path) {
		output_free(o);
		return NULL;
	}
	o->own_fd = true;
	return o;
}

/* Called with the lock held: drops what is queued after a failure. */
static void output_fail(struct output *o, int err)
{
	if (!o->error)
		o->error = err;
	o->dropped += o->len;
	o->head = o->len = 0;
}

/* Monotonic milliseconds, for the drain deadline. */
static int64_t output_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd takes a write or the output is told to stop (then only
 * until the drain deadline). Returns true when fd is writable. */
static bool output_wait_writable(struct output *o, bool stopping,
				 int64_t deadline)
{
	struct pollfd pfd[2] = {
		{ .fd = o->fd, .events = POLLOUT },
		{ .fd = o->stop_fd, .events = POLLIN },
	};
	int timeout = -1;

	if (stopping) {
		timeout = (int)(deadline - output_now_ms());
		if (timeout <= 0)
			return false;
	}
	return poll(pfd, stopping ? 1 : 2, timeout) > 0 &&
	       (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP));
}

/* The writer. Each write is at most PIPE_BUF bytes and waits for POLLOUT
 * first, so it does not block for long on a stalled reader; the wait
 * itself wakes on stop_fd, so output_free never waits on a reader. */
static void *output_run(void *arg)
{
	struct output *o = arg;
	int64_t deadline = 0;
	bool stopping = false;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		size_t chunk;
		ssize_t w = -1;

		while (o->len == 0 && !o->stop)
			pthread_cond_wait(&o->wake, &o->lock);
		if (o->stop && !stopping) {
			stopping = true;
			deadline = output_now_ms() + OUTPUT_DRAIN_MS;
		}
		if (o->len == 0)
			break;
		if (o->fd < 0) {
			o->fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT |
					      O_CLOEXEC | O_NONBLOCK, 0644);
			if (o->fd < 0) {
				output_fail(o, errno);
				continue;
			}
		}
		chunk = o->cap - o->head < o->len ? o->cap - o->head : o->len;
		if (chunk > PIPE_BUF)
			chunk = PIPE_BUF;
		pthread_mutex_unlock(&o->lock);
		if (output_wait_writable(o, stopping, deadline))
			w = write(o->fd, o->buf + o->head, chunk);
		else
			errno = stopping ? ETIMEDOUT : EAGAIN;
		pthread_mutex_lock(&o->lock);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0) {
			output_fail(o, errno);
			if (stopping)
				break;
			continue;
		}
		o->head = (o->head + (size_t)w) % o->cap;
		o->len -= (size_t)w;
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

static bool output_start(struct output *o)
{
	o->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (o->stop_fd < 0)
		return false;
	if (pthread_create(&o->thread, NULL, output_run, o) != 0) {
		close(o->stop_fd);
		o->stop_fd = -1;
		return false;
	}
	return true;
}

/* A file with nothing queued takes the line at once, in order, so what a
 * guest printed is in the file when its access is answered. The file is
 * non-blocking: a FIFO that does not read leaves the line to the writer. */
static size_t output_write_file(struct output *o, const void *data,
				size_t len)
{
	ssize_t w;

	if (!o->path || o->len > 0)
		return 0;
	if (o->fd < 0)
		o->fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
				      O_NONBLOCK, 0644);
	if (o->fd < 0)
		return 0;
	w = write(o->fd, data, len);
	return w > 0 ? (size_t)w : 0;
}

int output_write(struct output *o, const void *data, size_t len)
{
	size_t tail, first, done;
	int rc = 0;

	pthread_mutex_lock(&o->lock);
	done = output_write_file(o, data, len);
	data = (const uint8_t *)data + done;
	len -= done;
	if (len == 0) {
		pthread_mutex_unlock(&o->lock);
		return 0;
	}
	if (!o->started) {
		o->started = output_start(o);
		if (!o->started)
			output_fail(o, errno ? errno : EAGAIN);
	}
	if (!o->started || len > o->cap - o->len) {
		o->dropped += len;
		rc = -1;
	} else {
		tail = (o->head + o->len) % o->cap;
		first = o->cap - tail < len ? o->cap - tail : len;
		memcpy(o->buf + tail, data, first);
		memcpy(o->buf, (const uint8_t *)data + first, len - first);
		o->len += len;
		pthread_cond_signal(&o->wake);
	}
	pthread_mutex_unlock(&o->lock);
	return rc;
}

uint64_t output_dropped(struct output *o)
{
	uint64_t n;

	pthread_mutex_lock(&o->lock);
	n = o->dropped;
	pthread_mutex_unlock(&o->lock);
	return n;
}

int output_take_error(struct output *o)
{
	int err;

	pthread_mutex_lock(&o->lock);
	err = o->error;
	o->error = 0;
	pthread_mutex_unlock(&o->lock);
	return err;
}

void output_free(struct output *o)
{
	if (!o || --o->refs > 0)
		return;
	output_unshare(o);
	if (o->started) {
		/* What is queued gets OUTPUT_DRAIN_MS to go out. */
		pthread_mutex_lock(&o->lock);
		o->stop = true;
		pthread_cond_signal(&o->wake);
		pthread_mutex_unlock(&o->lock);
		eventfd_write(o->stop_fd, 1);
		pthread_join(o->thread, NULL);
		close(o->stop_fd);
	}
	if (o->own_fd && o->fd >= 0)
		close(o->fd);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o->path);
	free(o->buf);
	free(o);
}
