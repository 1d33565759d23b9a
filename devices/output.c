/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"

struct output {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stop;
	int fd;			/* -1 until path is opened */
	bool own_fd;
	char *path;
	uint8_t *buf;
	size_t cap, head, len;	/* ring of cap bytes, len queued from head */
	uint64_t dropped;
	int error;		/* first failure not yet reported */
};

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
	o->fd = -1;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	return o;
}

struct output *output_new_fd(int fd, size_t capacity)
{
	struct output *o = output_alloc(capacity);

	if (o)
		o->fd = fd;
	return o;
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

/* Blocking writes happen here, and only here: cancellation is allowed in
 * them alone, so output_free can end a thread stuck on a stalled reader. */
static ssize_t output_write_out(int fd, const void *p, size_t n)
{
	int old;
	ssize_t w;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	w = write(fd, p, n);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return w;
}

static void *output_run(void *arg)
{
	struct output *o = arg;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_mutex_lock(&o->lock);
	for (;;) {
		size_t chunk;
		ssize_t w;

		while (o->len == 0 && !o->stop)
			pthread_cond_wait(&o->wake, &o->lock);
		if (o->len == 0)
			break;
		if (o->fd < 0) {
			pthread_mutex_unlock(&o->lock);
			o->fd = open(o->path, O_WRONLY | O_APPEND | O_CREAT |
					      O_CLOEXEC, 0644);
			pthread_mutex_lock(&o->lock);
			if (o->fd < 0) {
				output_fail(o, errno);
				continue;
			}
		}
		chunk = o->cap - o->head < o->len ? o->cap - o->head : o->len;
		pthread_mutex_unlock(&o->lock);
		w = output_write_out(o->fd, o->buf + o->head, chunk);
		pthread_mutex_lock(&o->lock);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			output_fail(o, errno);
			continue;
		}
		o->head = (o->head + (size_t)w) % o->cap;
		o->len -= (size_t)w;
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int output_write(struct output *o, const void *data, size_t len)
{
	size_t tail, first;
	int rc = 0;

	pthread_mutex_lock(&o->lock);
	if (!o->started) {
		o->started = pthread_create(&o->thread, NULL, output_run, o) == 0;
		if (!o->started)
			output_fail(o, EAGAIN);
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
	struct timespec deadline;

	if (!o)
		return;
	if (o->started) {
		pthread_mutex_lock(&o->lock);
		o->stop = true;
		pthread_cond_signal(&o->wake);
		pthread_mutex_unlock(&o->lock);
		/* What is queued gets a moment to go out; a reader that
		 * stalls longer loses it. */
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += OUTPUT_DRAIN_MS * 1000000L;
		deadline.tv_sec += deadline.tv_nsec / 1000000000L;
		deadline.tv_nsec %= 1000000000L;
		if (pthread_timedjoin_np(o->thread, NULL, &deadline) != 0) {
			pthread_cancel(o->thread);
			pthread_join(o->thread, NULL);
		}
	}
	if (o->own_fd && o->fd >= 0)
		close(o->fd);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o->path);
	free(o->buf);
	free(o);
}
