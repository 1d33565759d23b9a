/* SPDX-License-Identifier: MIT */
/* Poll mode on real socketpairs and a real event loop: frames served in a
 * poll window without an event, the fall back to the event loop when the
 * window runs out, the window's adaptation, two busy channels served in
 * turn, a turn of the poll set that ends while frames keep coming, and the
 * back-off when another task wants the daemon's CPU, and a flood on one
 * channel that leaves the other its turn. A turn that another
 * task preempts empties the set by design, so on a busy machine the tests
 * accept that where it can happen. */
#include "autoconfig.h"

#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "channel.h"
#include "pollset.h"
#include "region.h"
#include "vm.h"

#define OFFSET 0x100		/* testdev: a read returns its offset */
/* Holds a window open however slow the machine: the test ends it. */
#define HELD_NS 60000000000ull

struct fixture {
	struct ioregiond d;
	struct region *region;
	struct channel *ch[2];
	int peer[2];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct config_errors errs = { 0 };
	struct config *cfg = config_parse(
		"{\"regions\": [{\"name\": \"t\", \"device\": \"testdev\","
		" \"bus\": \"mmio\", \"address\": 0, \"size\": 4096,"
		" \"vms\": [\"vm0\", \"vm1\"], \"poll_us\": 1000}]}", &errs);
	unsigned int i;

	assert_non_null(cfg);
	f->d.base = event_base_new();
	f->d.poll_us = -1;
	assert_int_equal(worker_main_init(&f->d), 0);
	TAILQ_INIT(&f->d.regions);
	TAILQ_INIT(&f->d.vms);
	TAILQ_INIT(&f->d.sessions);
	f->region = region_new(&f->d, &cfg->regions[0], false, &errs);
	assert_non_null(f->region);
	config_free(cfg);
	for (i = 0; i < 2; i++) {
		f->ch[i] = vm_channel(vm_get(&f->d, i ? "vm1" : "vm0"), "t");
		assert_int_equal(channel_open(f->ch[i], f->region,
					      &f->peer[i]), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->peer[0]);
	close(f->peer[1]);
	vm_free_all(&f->d);
	workers_free(&f->d);
	region_free(f->region);
	event_base_free(f->d.base);
	free(f);
	return 0;
}

static void send_reads(int fd, unsigned int n)
{
	struct ioregion_cmd c = ioregion_cmd_make(IOREGION_CMD_READ,
						  IOREGION_SIZE_4, true, 0,
						  OFFSET, 0);
	unsigned int i;

	for (i = 0; i < n; i++)
		assert_int_equal(send(fd, &c, sizeof(c), 0), sizeof(c));
}

/* Responses waiting on fd, without waiting. */
static unsigned int take_responses(int fd)
{
	struct ioregion_resp r[64];
	unsigned int got = 0, i;
	ssize_t n;

	while ((n = recv(fd, r, sizeof(r), MSG_DONTWAIT)) > 0) {
		assert_int_equal(n % sizeof(r[0]), 0);
		for (i = 0; i < n / sizeof(r[0]); i++)
			assert_int_equal(r[i].data, OFFSET);
		got += (unsigned int)(n / sizeof(r[0]));
	}
	return got;
}

/* One access served by its event. */
static void serve_by_event(struct fixture *f, unsigned int i)
{
	send_reads(f->peer[i], 1);
	event_base_loop(f->d.base, EVLOOP_ONCE);
	assert_int_equal(take_responses(f->peer[i]), 1);
}

/* Whether a turn was cut short because another task took the CPU (a
 * busy test machine): the set was emptied then, by design. */
static bool preempted(const struct fixture *f)
{
	return f->d.counters.poll_preempted > 0;
}

/* Puts ch in the set with its window held open. */
static void hold_window(struct channel *ch)
{
	ch->poll_window = HELD_NS;
	pollset_touch(ch, true);
	assert_true(ch->polling);
}

static void test_served_in_window(void **state)
{
	struct fixture *f = *state;

	/* The first access opens no window (test_window_adapts). */
	serve_by_event(f, 0);
	assert_false(f->ch[0]->polling);
	hold_window(f->ch[0]);
	/* A frame that arrives now is served by the poll set alone. */
	send_reads(f->peer[0], 1);
	pollset_run(&f->d.main);
	assert_int_equal(take_responses(f->peer[0]), 1);
	assert_int_equal(f->d.counters.poll_hits, 1);
	assert_int_equal(f->ch[0]->counters.reads, 2);
	/* Still polled, and the loop comes back for it. */
	assert_true(f->ch[0]->polling || preempted(f));
	assert_true(evtimer_pending(f->d.main.ev_poll, NULL) || preempted(f));
}

/* A flood on one channel: a wake-up serves at most CHANNEL_ROUNDS reads
 * of it, and the other channel ready in the same turn of the loop is
 * served in that turn too; the rest of the flood waits for the next. */
static void test_flood_yields(void **state)
{
	struct fixture *f = *state;
	enum { flood = 2 * CHANNEL_ROUNDS * (CHANNEL_BATCH + 1) };
	static struct ioregion_cmd c[flood];
	unsigned int i;

	for (i = 0; i < flood; i++)
		c[i] = ioregion_cmd_make(IOREGION_CMD_WRITE, IOREGION_SIZE_4,
					 false, 0, 0x10, i);
	/* One send: the socket holds it whole. */
	assert_int_equal(send(f->peer[0], c, sizeof(c), MSG_DONTWAIT),
			 sizeof(c));
	send_reads(f->peer[1], 1);
	event_base_loop(f->d.base, EVLOOP_ONCE);
	assert_true(f->ch[0]->counters.posted > 0);
	assert_true(f->ch[0]->counters.posted < flood);
	assert_int_equal(take_responses(f->peer[1]), 1);
}

static void test_falls_back_to_events(void **state)
{
	struct fixture *f = *state;

	hold_window(f->ch[0]);
	f->ch[0]->poll_deadline = pollset_now_ns();	/* runs out */
	pollset_run(&f->d.main);
	assert_false(f->ch[0]->polling);
	assert_int_equal(f->d.counters.poll_misses, 1);
	/* Nothing left to poll: the loop sleeps until an event. */
	assert_false(evtimer_pending(f->d.main.ev_poll, NULL));
	serve_by_event(f, 0);
	assert_int_equal(f->d.counters.poll_hits, 0);
}

static void test_window_adapts(void **state)
{
	struct fixture *f = *state;
	struct channel *ch = f->ch[0];
	uint64_t max = 1000 * 1000ull;

	assert_int_equal(pollset_window_ns(ch), max);
	/* 100 s, beyond the config's limit: however long the test is held
	 * up between two steps, "soon" stays soon. */
	f->region->cfg.poll_us = 100000000;
	max = pollset_window_ns(ch);
	/* Two accesses in quick succession open the window. */
	serve_by_event(f, 0);
	assert_false(ch->polling);
	serve_by_event(f, 0);
	assert_true(ch->polling);
	ch->poll_window = 0;
	ch->poll_last = pollset_now_ns();
	pollset_touch(ch, false);		/* soon after: grows */
	assert_int_equal(ch->poll_window, POLLSET_GROW_NS);
	pollset_touch(ch, false);
	assert_int_equal(ch->poll_window, 2 * POLLSET_GROW_NS);
	ch->poll_window = max;
	pollset_touch(ch, false);		/* never beyond poll_us */
	assert_int_equal(ch->poll_window, max);
	ch->poll_last = pollset_now_ns() - 2 * max;
	pollset_touch(ch, false);		/* later than poll_us: halves */
	assert_int_equal(ch->poll_window, max / 2);
	/* poll_us 0 (a reload, say) takes the channel out at once. */
	f->region->cfg.poll_us = 0;
	pollset_touch(ch, true);
	assert_false(ch->polling);
	assert_int_equal(ch->poll_window, 0);
}

static void test_two_busy_channels(void **state)
{
	struct fixture *f = *state;
	unsigned int want = 4 * CHANNEL_BATCH, got[2] = { 0 }, turns, i;

	for (i = 0; i < 2; i++) {
		hold_window(f->ch[i]);
		send_reads(f->peer[i], want);
	}
	/* One read of each per pass: after the first turn both were
	 * served, and both are done together. */
	pollset_run(&f->d.main);
	for (i = 0; i < 2; i++)
		assert_true(f->ch[i]->counters.reads > 0);
	for (turns = 0; turns < 1000 && (got[0] < want || got[1] < want);
	     turns++) {
		for (i = 0; i < 2; i++) {
			got[i] += take_responses(f->peer[i]);
			if (!f->ch[i]->polling)	/* after a back-off */
				hold_window(f->ch[i]);
		}
		pollset_run(&f->d.main);
	}
	for (i = 0; i < 2; i++)
		got[i] += take_responses(f->peer[i]);
	assert_int_equal(got[0], want);
	assert_int_equal(got[1], want);
}

/* A client that always has frames queued gets its share, not the loop:
 * a turn ends after its slice with frames still queued. */
static void test_turn_is_bounded(void **state)
{
	struct fixture *f = *state;
	struct ioregion_cmd c[100];
	unsigned int queued = 0, i;
	uint64_t t0;

	for (i = 0; i < 100; i++)
		c[i] = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4,
					 true, 0, OFFSET, 0);
	while (queued < 4000 &&
	       send(f->peer[0], c, sizeof(c), MSG_DONTWAIT) == sizeof(c))
		queued += 100;
	assert_true(queued >= 1000);
	hold_window(f->ch[0]);
	t0 = pollset_now_ns();
	pollset_run(&f->d.main);
	assert_true(pollset_now_ns() - t0 < 10 * POLLSET_SLICE_NS +
					      1000000000ull);
	assert_true(f->ch[0]->counters.reads < queued);
	assert_true(evtimer_pending(f->d.main.ev_poll, NULL) || preempted(f));
}

/* A closed channel leaves the set. */
static void test_close_leaves_set(void **state)
{
	struct fixture *f = *state;

	hold_window(f->ch[0]);
	hold_window(f->ch[1]);
	close(f->peer[0]);
	f->peer[0] = -1;
	pollset_run(&f->d.main);
	assert_false(channel_is_open(f->ch[0]));
	assert_false(f->ch[0]->polling);
	if (!preempted(f))
		assert_ptr_equal(TAILQ_FIRST(&f->d.main.polling), f->ch[1]);
}

/* Another process that wants the daemon's CPU (here: a child pinned to
 * the same CPU, spinning) ends every window at the end of the turn. */
static void test_backs_off_when_preempted(void **state)
{
	struct fixture *f = *state;
	cpu_set_t one;
	pid_t hog;
	int i;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	hog = fork();
	assert_true(hog >= 0);
	if (hog == 0) {
		alarm(10);	/* never outlives a test that failed */
		for (;;)
			;
	}
	/* The hog shares the CPU: within some turns it preempts one. */
	for (i = 0; i < 2000 && !preempted(f); i++) {
		f->ch[0]->poll_window = HELD_NS;
		pollset_touch(f->ch[0], true);
		pollset_run(&f->d.main);
	}
	kill(hog, SIGKILL);
	waitpid(hog, NULL, 0);
	assert_true(preempted(f));
	assert_false(f->ch[0]->polling);
	assert_int_equal(f->ch[0]->poll_window, 0);
	assert_true(TAILQ_EMPTY(&f->d.main.polling));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_served_in_window, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flood_yields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_falls_back_to_events,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_adapts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_busy_channels, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_turn_is_bounded, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_close_leaves_set, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_backs_off_when_preempted,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("pollset", tests, NULL, NULL);
}
