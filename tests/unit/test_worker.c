/* SPDX-License-Identifier: MIT */
/* Worker threads' life and the main thread's hold, on real threads and
 * loops: a daemon stopped right after it started its workers (before they
 * entered their loops: a SIGTERM at start-up) still stops, and a hold
 * returns only once every worker acknowledged it. A stop that hangs is
 * turned into a failure by an alarm. */
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

/* A hold waits for both workers; nested holds and a release let them go;
 * they stop afterwards as usual. */
static void test_hold_and_release(void **state)
{
	struct ioregiond d;
	unsigned int i;

	(void)state;
	start(&d);
	for (i = 0; i < 100; i++) {
		workers_hold(&d);
		assert_true(d.workers[0].held && d.workers[1].held);
		workers_hold(&d);
		workers_release(&d);
		workers_release(&d);
	}
	assert_int_equal(d.hold_depth, 0);
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
		cmocka_unit_test(test_default_is_capped),
	};

	assert_int_equal(evthread_use_pthreads(), 0);
	alarm(120);
	return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}
