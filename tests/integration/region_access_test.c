/* SPDX-License-Identifier: MIT */
/*
 * ioregion_region_read/write, the accesses a VMM that dispatches MMIO
 * itself (QEMU under TCG) makes, against the real ioregiond.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write_and_daemon_gone),
	};

	return cmocka_run_group_tests_name("region_access", tests, NULL, NULL);
}
