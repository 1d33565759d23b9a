/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <sys/resource.h>
#include <time.h>

#include "channel.h"
#include "pollset.h"
#include "region.h"
#include "worker.h"

uint64_t pollset_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pollset_on_turn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pollset_run(arg);
}

int pollset_init(struct worker *w)
{
	TAILQ_INIT(&w->polling);
	w->ev_poll = evtimer_new(w->base, pollset_on_turn, w);
	if (!w->ev_poll) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void pollset_free(struct worker *w)
{
	struct channel *ch;

	while ((ch = TAILQ_FIRST(&w->polling)))
		pollset_remove(ch);
	if (w->ev_poll)
		event_free(w->ev_poll);
	w->ev_poll = NULL;
}

uint64_t pollset_window_ns(const struct channel *ch)
{
	const struct region *r = ch->region;
	unsigned int us;

	if (r->cfg.has_poll_us)
		us = r->cfg.poll_us;
	else if (r->d->poll_us >= 0)
		us = (unsigned int)r->d->poll_us;
	else
		us = r->d->config ? r->d->config->poll_us : 0;
	return (uint64_t)us * 1000;
}

/* A zero timeout, not event_active: timers run after the event loop has
 * looked at every fd, so the fds not in the set are served between two
 * turns. */
static void pollset_schedule(struct worker *w)
{
	static const struct timeval now = { 0, 0 };

	if (!evtimer_pending(w->ev_poll, NULL))
		evtimer_add(w->ev_poll, &now);
}

/* After an event brought frames gap ns after the last ones: grows the
 * window when a longer one would have caught them, else shrinks it. */
static void pollset_adapt(struct channel *ch, uint64_t gap, uint64_t max)
{
	if (gap <= max)
		ch->poll_window = ch->poll_window ? 2 * ch->poll_window
						  : POLLSET_GROW_NS;
	else
		ch->poll_window /= 2;
	if (ch->poll_window > max)
		ch->poll_window = max;
}

void pollset_touch(struct channel *ch, bool polled)
{
	struct worker *w = ch->worker;
	uint64_t max = pollset_window_ns(ch), now = pollset_now_ns();

	if (!polled)
		pollset_adapt(ch, now - ch->poll_last, max);
	else if (ch->poll_window > max)
		ch->poll_window = max;
	ch->poll_last = now;
	if (ch->poll_window == 0) {
		pollset_remove(ch);
		return;
	}
	ch->poll_deadline = now + ch->poll_window;
	if (ch->polling)
		return;
	ch->polling = true;
	TAILQ_INSERT_TAIL(&w->polling, ch, poll_link);
	pollset_schedule(w);
}

void pollset_remove(struct channel *ch)
{
	if (!ch->polling)
		return;
	ch->polling = false;
	TAILQ_REMOVE(&ch->worker->polling, ch, poll_link);
	if (TAILQ_EMPTY(&ch->worker->polling))
		evtimer_del(ch->worker->ev_poll);
}

/* One read of every channel in the set, in order. */
static void pollset_pass(struct worker *w, uint64_t now)
{
	struct channel *ch, *next;
	int rc;

	for (ch = TAILQ_FIRST(&w->polling); ch; ch = next) {
		next = TAILQ_NEXT(ch, poll_link);
		rc = channel_poll(ch);
		if (rc > 0) {
			ioregiond_count(w->d, poll_hits);
			pollset_touch(ch, true);
		} else if (rc == 0 && now >= ch->poll_deadline) {
			ioregiond_count(w->d, poll_misses);
			pollset_remove(ch);
		}
	}
}

/* Times the kernel took the CPU from this thread for another task. */
static long pollset_preemptions(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) < 0 ? 0 : ru.ru_nivcsw;
}

/* Another task wanted this CPU during the turn (the VMM about to send,
 * say): spinning takes the CPU from whoever the guest waits for. Ends
 * every window and starts them again from 0, as KVM stops halt polling
 * when its CPU has other work. */
static void pollset_back_off(struct worker *w)
{
	struct channel *ch;

	ioregiond_count(w->d, poll_preempted);
	while ((ch = TAILQ_FIRST(&w->polling))) {
		ch->poll_window = 0;
		pollset_remove(ch);
	}
}

void pollset_run(struct worker *w)
{
	uint64_t start = pollset_now_ns(), now = start;
	long preempted = pollset_preemptions();

	while (!TAILQ_EMPTY(&w->polling) && now - start < POLLSET_SLICE_NS) {
		pollset_pass(w, now);
		now = pollset_now_ns();
	}
	if (pollset_preemptions() != preempted)
		pollset_back_off(w);
	if (!TAILQ_EMPTY(&w->polling))
		pollset_schedule(w);
}
