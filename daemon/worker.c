/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "channel.h"
#include "pollset.h"
#include "region.h"
#include "vm.h"
#include "worker.h"

/* The worker the calling thread is; NULL on the main thread. */
static __thread struct worker *worker_self;

bool worker_on_main(void)
{
	return worker_self == NULL;
}

unsigned int workers_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > WORKER_MAX ? WORKER_MAX : (unsigned int)n;
}

/* Closes what workers found dead, on the main thread. */
static void workers_on_closing(evutil_socket_t fd, short what, void *arg)
{
	struct ioregiond *d = arg;
	struct channel *ch;

	(void)fd;
	(void)what;
	workers_hold(d);
	for (;;) {
		pthread_mutex_lock(&d->closing_lock);
		ch = TAILQ_FIRST(&d->closing);
		pthread_mutex_unlock(&d->closing_lock);
		if (!ch)
			break;
		/* channel_close takes it off the list. */
		channel_close(ch, ch->close_why);
	}
	workers_release(d);
}

/* The end of the loop turn that paused the workers: they go on. */
static void workers_on_release(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	workers_resume(arg);
}

/* No worker serves a channel: a pause would stop nothing. */
static bool workers_idle(const struct ioregiond *d)
{
	unsigned int i;

	for (i = 0; i < d->nworkers; i++)
		if (d->workers[i].nchannels > 0)
			return false;
	return true;
}

bool workers_may_pause(struct ioregiond *d)
{
	return d->holding || workers_idle(d) ||
	       pollset_now_ns() / 1000 - d->pause_end_us >= WORKERS_PAUSE_GAP_US;
}

/* In the order deferred; what a job defers while they run runs too. */
static void workers_run_jobs(struct ioregiond *d)
{
	struct worker_job *job;

	while ((job = TAILQ_FIRST(&d->jobs))) {
		TAILQ_REMOVE(&d->jobs, job, link);
		job->queued = false;
		job->run(job);
	}
}

/* The slot for the jobs: this turn if a pause may start now, else a
 * timer at the end of the gap. */
static void workers_arm_slot(struct ioregiond *d)
{
	uint64_t since = pollset_now_ns() / 1000 - d->pause_end_us;
	struct timeval tv = { 0, 0 };

	if (workers_may_pause(d)) {
		event_active(d->ev_slot, EV_TIMEOUT, 0);
		return;
	}
	if (evtimer_pending(d->ev_slot, NULL))
		return;
	tv.tv_usec = (suseconds_t)(WORKERS_PAUSE_GAP_US - since);
	evtimer_add(d->ev_slot, &tv);
}

/* One pause for every job deferred till now. A pause taken since (the
 * jobs ran in it) leaves nothing; one ended since moves the slot. */
static void workers_on_slot(evutil_socket_t fd, short what, void *arg)
{
	struct ioregiond *d = arg;

	(void)fd;
	(void)what;
	if (TAILQ_EMPTY(&d->jobs))
		return;
	if (!workers_may_pause(d)) {
		workers_arm_slot(d);
		return;
	}
	workers_hold(d);
	workers_run_jobs(d);
	workers_release(d);
}

void workers_defer(struct ioregiond *d, struct worker_job *job)
{
	if (job->queued)
		return;
	job->queued = true;
	TAILQ_INSERT_TAIL(&d->jobs, job, link);
	/* Held: workers_resume runs it before the workers go on. */
	if (!d->holding)
		workers_arm_slot(d);
}

void workers_cancel(struct ioregiond *d, struct worker_job *job)
{
	if (!job->queued)
		return;
	TAILQ_REMOVE(&d->jobs, job, link);
	job->queued = false;
}

int worker_main_init(struct ioregiond *d)
{
	struct worker *w = &d->main;

	w->d = d;
	w->index = 0;
	w->base = d->base;
	TAILQ_INIT(&d->closing);
	TAILQ_INIT(&d->jobs);
	if (pthread_mutex_init(&d->closing_lock, NULL) != 0) {
		errno = ENOMEM;
		return -1;
	}
	d->ev_closing = event_new(d->base, -1, 0, workers_on_closing, d);
	d->ev_release = event_new(d->base, -1, 0, workers_on_release, d);
	d->ev_slot = evtimer_new(d->base, workers_on_slot, d);
	if (!d->ev_closing || !d->ev_release || !d->ev_slot) {
		errno = ENOMEM;
		return -1;
	}
	return pollset_init(w);
}

/* A message from the main thread: stop, or a pause. A pause is
 * acknowledged by its number and waited out until that very pause is
 * released; a next one is taken on a later turn of the loop, through the
 * pipe, so the channels get a turn between two pauses. */
static void worker_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->lock);
	if (w->stop)
		event_base_loopbreak(w->base);
	if (w->pause_seq != w->acked_seq) {
		w->acked_seq = w->pause_seq;
		pthread_cond_broadcast(&w->cond);
		while (w->released_seq != w->acked_seq)
			pthread_cond_wait(&w->cond, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
}

static int worker_init(struct ioregiond *d, struct worker *w,
		       unsigned int index)
{
	w->d = d;
	w->index = index;
	w->wake[0] = w->wake[1] = -1;
	TAILQ_INIT(&w->polling);
	if (pthread_mutex_init(&w->lock, NULL) != 0 ||
	    pthread_cond_init(&w->cond, NULL) != 0 ||
	    pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	w->base = event_base_new();
	if (!w->base)
		return -1;
	w->ev_wake = event_new(w->base, w->wake[0], EV_READ | EV_PERSIST,
			       worker_on_wake, w);
	if (!w->ev_wake || event_add(w->ev_wake, NULL) < 0)
		return -1;
	return pollset_init(w);
}

int workers_init(struct ioregiond *d, unsigned int n)
{
	unsigned int i;

	if (n < 1 || n > WORKER_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (n == 1)
		return 0;
	d->workers = calloc(n, sizeof(*d->workers));
	if (!d->workers)
		return -1;
	d->nworkers = n;
	for (i = 0; i < n; i++)
		if (worker_init(d, &d->workers[i], i + 1) < 0)
			return -1;
	return 0;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	worker_self = w;
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int workers_start(struct ioregiond *d)
{
	unsigned int i;
	int rc;

	for (i = 0; i < d->nworkers; i++) {
		rc = pthread_create(&d->workers[i].thread, NULL, worker_run,
				    &d->workers[i]);
		if (rc != 0) {
			errno = rc;
			return -1;
		}
		d->workers[i].started = true;
	}
	return 0;
}

/* Tells w to look at its flags; a full pipe has a wake-up pending. */
static void worker_wake(struct worker *w)
{
	char c = 0;

	if (write(w->wake[1], &c, 1) < 0 && errno != EAGAIN)
		log_err("worker %u: cannot wake it: %s", w->index,
			strerror(errno));
}

/* Through the pipe, not event_base_loopbreak from here: a worker that
 * has not entered its loop yet would clear that break, not the pipe. */
void workers_stop(struct ioregiond *d)
{
	unsigned int i;

	/* What waits for a slot is done before the threads end: a request
	 * read is answered, also when the daemon stops. */
	if (!TAILQ_EMPTY(&d->jobs)) {
		workers_hold(d);
		workers_release(d);
	}
	workers_resume(d);
	for (i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];

		if (!w->started)
			continue;
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_mutex_unlock(&w->lock);
		worker_wake(w);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

void workers_free(struct ioregiond *d)
{
	unsigned int i;

	for (i = 0; i < d->nworkers; i++) {
		struct worker *w = &d->workers[i];

		pollset_free(w);
		if (w->ev_wake)
			event_free(w->ev_wake);
		if (w->base)
			event_base_free(w->base);
		if (w->wake[0] >= 0) {
			close(w->wake[0]);
			close(w->wake[1]);
		}
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
	}
	free(d->workers);
	d->workers = NULL;
	d->nworkers = 0;
	pollset_free(&d->main);
	if (d->ev_closing)
		event_free(d->ev_closing);
	d->ev_closing = NULL;
	if (d->ev_release)
		event_free(d->ev_release);
	d->ev_release = NULL;
	if (d->ev_slot)
		event_free(d->ev_slot);
	d->ev_slot = NULL;
}

/* Asks w for a pause unless this turn did; worker_pause_wait waits for
 * it: asking every worker first, they stop side by side. */
static void worker_pause_ask(struct worker *w)
{
	if (!w->started || w->paused)
		return;
	pthread_mutex_lock(&w->lock);
	w->pause_seq++;
	pthread_mutex_unlock(&w->lock);
	worker_wake(w);
	w->paused = true;
	w->d->counters.worker_pauses++;
}

/* Until w acknowledged this very pause, by its number, from inside its
 * loop. */
static void worker_pause_wait(struct worker *w)
{
	if (!w->paused)
		return;
	pthread_mutex_lock(&w->lock);
	while (w->acked_seq != w->pause_seq)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

/* Whether w was paused. */
static bool worker_resume(struct worker *w)
{
	if (!w->paused)
		return false;
	pthread_mutex_lock(&w->lock);
	w->released_seq = w->pause_seq;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	w->paused = false;
	return true;
}

/* A worker serving no channel has nothing the main thread could touch:
 * it sleeps on (worker_place pauses it when a channel comes to it). */
void workers_hold(struct ioregiond *d)
{
	unsigned int i;

	if (d->hold_depth++ > 0 || d->holding)
		return;
	for (i = 0; i < d->nworkers; i++)
		if (d->workers[i].nchannels > 0)
			worker_pause_ask(&d->workers[i]);
	for (i = 0; i < d->nworkers; i++)
		worker_pause_wait(&d->workers[i]);
	d->holding = true;
	/* After every event already due this turn: they share the pause. */
	event_active(d->ev_release, 0, 0);
}

void workers_release(struct ioregiond *d)
{
	d->hold_depth--;
}

void workers_resume(struct ioregiond *d)
{
	bool paused = false;
	unsigned int i;

	if (d->hold_depth > 0 || !d->holding)
		return;
	workers_run_jobs(d);
	for (i = 0; i < d->nworkers; i++)
		paused |= worker_resume(&d->workers[i]);
	/* The gap counts from here: workers get it whole. */
	if (paused)
		d->pause_end_us = pollset_now_ns() / 1000;
	d->holding = false;
}

struct worker *worker_place(struct channel *ch, const struct region *r)
{
	struct ioregiond *d = ch->vm->d;
	struct vm *vm = ch->vm;
	struct worker *best;
	unsigned int i;

	if (d->nworkers == 0 || r->tpm)
		return &d->main;
	if (!vm->worker) {
		best = &d->workers[0];
		for (i = 1; i < d->nworkers; i++)
			if (d->workers[i].nvms < best->nvms)
				best = &d->workers[i];
		vm->worker = best;
		best->nvms++;
	}
	vm->nplaced++;
	vm->worker->nchannels++;
	/* Idle until now, it was left out of this turn's pause. */
	if (d->holding) {
		worker_pause_ask(vm->worker);
		worker_pause_wait(vm->worker);
	}
	return vm->worker;
}

void worker_unplace(struct channel *ch)
{
	struct vm *vm = ch->vm;

	if (ch->worker == &vm->d->main || !vm->worker)
		return;
	vm->worker->nchannels--;
	if (--vm->nplaced == 0) {
		vm->worker->nvms--;
		vm->worker = NULL;
	}
}

void worker_defer_close(struct channel *ch, const char *why)
{
	struct ioregiond *d = ch->vm->d;

	pollset_remove(ch);
	event_del(ch->ev);
	pthread_mutex_lock(&d->closing_lock);
	if (!ch->close_queued) {
		snprintf(ch->close_why, sizeof(ch->close_why), "%s", why);
		ch->close_queued = true;
		TAILQ_INSERT_TAIL(&d->closing, ch, close_link);
	}
	pthread_mutex_unlock(&d->closing_lock);
	event_active(d->ev_closing, 0, 0);
}

bool worker_close_if_queued(struct channel *ch)
{
	struct ioregiond *d = ch->vm->d;
	bool queued;

	if (!d->ev_closing)
		return false;
	pthread_mutex_lock(&d->closing_lock);
	queued = ch->close_queued;
	pthread_mutex_unlock(&d->closing_lock);
	if (queued)
		channel_close(ch, ch->close_why);
	return queued;
}

void worker_cancel_close(struct channel *ch)
{
	struct ioregiond *d = ch->vm->d;

	if (!d->ev_closing)
		return;
	pthread_mutex_lock(&d->closing_lock);
	if (ch->close_queued) {
		ch->close_queued = false;
		TAILQ_REMOVE(&d->closing, ch, close_link);
	}
	pthread_mutex_unlock(&d->closing_lock);
}
