/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <sys/resource.h>
#include <time.h>

#include "channel.h"
#include "pollset.h"
#include "region.h"

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

int pollset_init(struct ioregiond *d)
{
	TAILQ_INIT(&d->polling);
	d->ev_poll = evtimer_new(d->base, pollset_on_turn, d);
	if (!d->ev_poll) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void pollset_free(struct ioregiond *d)
{
	struct channel *ch;

	while ((ch = TAILQ_FIRST(&d->polling)))
		pollset_remove(ch);
	if (d->ev_poll)
		event_free(d->ev_poll);
	d->ev_poll = NULL;
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
static void pollset_schedule(struct ioregiond *d)
{
	static const struct timeval now = { 0, 0 };

	if (!evtimer_pending(d->ev_poll, NULL))
		evtimer_add(d->ev_poll, &now);
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
	struct ioregiond *d = ch->region->d;
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
	TAILQ_INSERT_TAIL(&d->polling, ch, poll_link);
	pollset_schedule(d);
}

void pollset_remove(struct channel *ch)
{
	if (!ch->polling)
		return;
	ch->polling = false;
	TAILQ_REMOVE(&ch->region->d->polling, ch, poll_link);
	if (TAILQ_EMPTY(&ch->region->d->polling))
		evtimer_del(ch->region->d->ev_poll);
}

/* One read of every channel in the set, in order. */
static void pollset_pass(struct ioregiond *d, uint64_t now)
{
	struct channel *ch, *next;
	int rc;

	for (ch = TAILQ_FIRST(&d->polling); ch; ch = next) {
		next = TAILQ_NEXT(ch, poll_link);
		rc = channel_poll(ch);
		if (rc > 0) {
			d->counters.poll_hits++;
			pollset_touch(ch, true);
		} else if (rc == 0 && now >= ch->poll_deadline) {
			d->counters.poll_misses++;
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
static void pollset_back_off(struct ioregiond *d)
{
	struct channel *ch;

	d->counters.poll_preempted++;
	while ((ch = TAILQ_FIRST(&d->polling))) {
		ch->poll_window = 0;
		pollset_remove(ch);
	}
}

void pollset_run(struct ioregiond *d)
{
	uint64_t start = pollset_now_ns(), now = start;
	long preempted = pollset_preemptions();

	while (!TAILQ_EMPTY(&d->polling) && now - start < POLLSET_SLICE_NS) {
		pollset_pass(d, now);
		now = pollset_now_ns();
	}
	if (pollset_preemptions() != preempted)
		pollset_back_off(d);
	if (!TAILQ_EMPTY(&d->polling))
		pollset_schedule(d);
}
