/* SPDX-License-Identifier: MIT */
/*
 * ioregion_region_read/write, the accesses a VMM that dispatches MMIO
 * itself (QEMU under TCG) makes, against the real ioregiond; with
 * IOREGION_SPIN_US set, so every answer is first looked for by spinning
 * (and the daemon going away is seen while spinning too).
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define TESTDEV_ID 0x494f5254
#define TESTDEV_SCRATCH 0x10

static void test_read_write_and_daemon_gone(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c;
	struct ioregion_region r, bell;
	uint64_t v = 0;
	int rc;

	harness_start(&hd, NULL);
	c = harness_connect(&hd, "vm0");
	assert_int_equal(ioregion_client_open(c, "test0", &r), 0);
	assert_int_equal(ioregion_region_read(&r, 0, 4, &v), 0);
	assert_int_equal(v, TESTDEV_ID);
	assert_int_equal(ioregion_region_write(&r, TESTDEV_SCRATCH, 8,
					       0x1122334455667788ull), 0);
	assert_int_equal(ioregion_region_read(&r, TESTDEV_SCRATCH, 2, &v), 0);
	assert_int_equal(v, 0x7788);
	/* Sizes the protocol lacks and accesses past the end never leave. */
	assert_int_equal(ioregion_region_read(&r, 0, 3, &v), -EINVAL);
	assert_int_equal(ioregion_region_read(&r, r.size - 2, 4, &v), -EINVAL);
	/* A posted write returns at once and is served. */
	assert_int_equal(ioregion_client_open(c, "bell0", &bell), 0);
	assert_true(bell.flags & IOREGION_REGION_POSTED_WRITES);
	assert_int_equal(ioregion_region_write(&bell, 0, 8, 5), 0);
	assert_int_equal(ioregion_region_read(&bell, 0x400, 8, &v), 0);
	assert_int_equal(v, 1);
	harness_stop(&hd);
	rc = ioregion_region_read(&r, 0, 4, &v);
	assert_true(rc == -ECONNRESET || rc == -EPIPE);
	close(r.fd);
	close(bell.fd);
	ioregion_client_free(c);
}

/*
 * A daemon that is stopped longer than the 5 s a read waits: the read
 * fails with -ETIMEDOUT, its command sent and its answer still owed, and
 * ioregion_region_wait picks the answer up once the daemon runs again (a
 * restart is a pause, not a failure). The region works on after it.
 */
static void test_wait_through_a_stopped_daemon(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c;
	struct ioregion_region r;
	uint64_t v = 0;

	(void)state;
	harness_start(&hd, NULL);
	c = harness_connect(&hd, "vm0");
	assert_int_equal(ioregion_client_open(c, "test0", &r), 0);
	harness_freeze(&hd);
	assert_int_equal(ioregion_region_read(&r, 0, 4, &v), -ETIMEDOUT);
	assert_int_equal(ioregion_region_wait(&r, 4, &v, 100), -ETIMEDOUT);
	assert_int_equal(kill(hd.pid, SIGCONT), 0);
	assert_int_equal(ioregion_region_wait(&r, 4, &v, 10000), 0);
	assert_int_equal(v, TESTDEV_ID);
	/* the next access gets its own answer, not a stale one */
	assert_int_equal(ioregion_region_write(&r, TESTDEV_SCRATCH, 4, 0x5a5a),
			 0);
	assert_int_equal(ioregion_region_read(&r, TESTDEV_SCRATCH, 4, &v), 0);
	assert_int_equal(v, 0x5a5a);
	assert_int_equal(ioregion_region_wait(&r, 3, &v, 0), -EINVAL);
	close(r.fd);
	ioregion_client_free(c);
	harness_stop(&hd);
}

/* The VMM's spin is bounded: more than IOREGION_SPIN_MAX_US is refused. */
static void test_spin_bound(void **state)
{
	struct harness_daemon hd;
	struct ioregion_client *c;
	struct ioregion_vm *vm;

	(void)state;
	harness_start(&hd, NULL);
	c = harness_connect(&hd, "vm0");
	/* No KVM VM: the fd only has to fail KVM's ioctls. */
	assert_int_equal(ioregion_vm_new(c, -1, 0, &vm), 0);
	assert_int_equal(ioregion_vm_set_spin_us(vm, IOREGION_SPIN_MAX_US), 0);
	assert_int_equal(ioregion_vm_set_spin_us(vm, IOREGION_SPIN_MAX_US + 1),
			 -EINVAL);
	assert_int_equal(ioregion_vm_set_spin_us(vm, 0), 0);
	ioregion_vm_free(vm);
	ioregion_client_free(c);
	harness_stop(&hd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write_and_daemon_gone),
		cmocka_unit_test(test_spin_bound),
		cmocka_unit_test(test_wait_through_a_stopped_daemon),
	};

	setenv("IOREGION_SPIN_US", "200", 1);

	return cmocka_run_group_tests_name("region_access", tests, NULL, NULL);
}
