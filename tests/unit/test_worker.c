/* SPDX-License-Identifier: MIT */
/* Worker threads' life and the main thread's hold, on real threads and
 * loops: a daemon stopped right after it started its workers (before they
 * entered their loops: a SIGTERM at start-up) still stops, a hold
 * returns only once every worker serving channels acknowledged that very
 * pause, the holds of one loop turn share one pause, and a worker without
 * channels is never woken. A stop that hangs is turned into a failure by
 * an alarm. */
#include "autoconfig.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/thread.h>

#include "ioregiond.h"
#include "worker.h"

#define STARTS 200

static void start(struct ioregiond *d)
{
	memset(d, 0, sizeof(*d));
	d->base = event_base_new();
	assert_non_null(d->base);
	assert_int_equal(worker_main_init(d), 0);
	assert_int_equal(workers_init(d, 2), 0);
	assert_int_equal(workers_start(d), 0);
}

static void finish(struct ioregiond *d)
{
	workers_stop(d);
	workers_free(d);
	pthread_mutex_destroy(&d->closing_lock);
	event_base_free(d->base);
}

/* Stopped at once, again and again: every time, the threads end. */
static void test_stop_right_after_start(void **state)
{
	struct ioregiond d;
	unsigned int i;

	(void)state;
	for (i = 0; i < STARTS; i++) {
		start(&d);
		finish(&d);
	}
}

/* Ends the loop turn: the pause of its holds ends with it. */
static void end_turn(struct ioregiond *d)
{
	event_base_loop(d->base, EVLOOP_NONBLOCK);
}

/* Whether w is waiting in the pause the main thread asked for last. */
static bool acked(struct worker *w)
{
	bool yes;

	pthread_mutex_lock(&w->lock);
	yes = w->acked_seq == w->pause_seq;
	pthread_mutex_unlock(&w->lock);
	return yes;
}

/* A hold waits for both workers (each serving a channel: the count is
 * all that matters); nested holds and every other hold of the same turn
 * share the pause, the end of the turn lets them go, and the next turn's
 * hold is a new pause, acknowledged by its number. They stop afterwards
 * as usual. */
static void test_hold_and_release(void **state)
{
	struct ioregiond d;
	unsigned int i;

	(void)state;
	start(&d);
	d.workers[0].nchannels = d.workers[1].nchannels = 1;
	for (i = 0; i < 100; i++) {
		workers_hold(&d);
		assert_true(d.workers[0].paused && d.workers[1].paused);
		assert_true(acked(&d.workers[0]) && acked(&d.workers[1]));
		workers_hold(&d);
		workers_release(&d);
		workers_release(&d);
		workers_hold(&d);
		workers_release(&d);
		assert_int_equal(d.workers[0].pause_seq, i + 1);
		end_turn(&d);
		assert_false(d.workers[0].paused || d.workers[1].paused);
	}
	assert_int_equal(d.hold_depth, 0);
	assert_int_equal(d.counters.worker_pauses, 200);
	finish(&d);
}

/* A worker serving no channel sleeps through holds. */
static void test_idle_worker_not_paused(void **state)
{
	struct ioregiond d;

	(void)state;
	start(&d);
	d.workers[1].nchannels = 1;
	workers_hold(&d);
	assert_false(d.workers[0].paused);
	assert_int_equal(d.workers[0].pause_seq, 0);
	assert_true(d.workers[1].paused);
	workers_release(&d);
	end_turn(&d);
	finish(&d);
}

static void test_default_is_capped(void **state)
{
	(void)state;
	assert_true(workers_default() >= 1);
	assert_true(workers_default() <= WORKER_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_right_after_start),
		cmocka_unit_test(test_hold_and_release),
		cmocka_unit_test(test_idle_worker_not_paused),
		cmocka_unit_test(test_default_is_capped),
	};

	assert_int_equal(evthread_use_pthreads(), 0);
	alarm(120);
	return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}
