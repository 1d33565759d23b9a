/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include "devtest.h"

#define ID 0x00
#define SELF 0x04
#define PEERS 0x08
#define DEST 0x0c
#define TX 0x10
#define RX 0x18
#define RX_FROM 0x20
#define DEPTH 0x24
#define STATUS 0x28
#define OVERFLOWS 0x2c
#define CAPACITY 0x30

static void test_identity_registers(void **state)
{
	struct device *dev = devtest_new("mailbox", "{\"depth\": 4}", 0x1000, 3);
	unsigned int vm;

	for (vm = 0; vm < 3; vm++) {
		assert_int_equal(devtest_read(dev, vm, ID, 4), 0x584f424d);
		assert_int_equal(devtest_read(dev, vm, SELF, 4), vm);
		assert_int_equal(devtest_read(dev, vm, PEERS, 4), 3);
		assert_int_equal(devtest_read(dev, vm, DEST, 4), (vm + 1) % 3);
		assert_int_equal(devtest_read(dev, vm, CAPACITY, 4), 4);
		assert_int_equal(devtest_read(dev, vm, STATUS, 4), 0);
		assert_int_equal(devtest_read(dev, vm, RX_FROM, 4), 0xffffffff);
	}
	dev->ops->destroy(dev);
}

static void test_exchange_both_ways(void **state)
{
	struct device *dev = devtest_new("mailbox", NULL, 0x1000, 2);

	devtest_write(dev, 0, TX, 8, 0x1111222233334444ull);
	devtest_write(dev, 0, TX, 4, 7);
	assert_int_equal(devtest_read(dev, 1, DEPTH, 4), 2);
	assert_int_equal(devtest_read(dev, 1, STATUS, 4), 1);
	assert_int_equal(devtest_read(dev, 1, RX_FROM, 4), 0);
	assert_int_equal(devtest_read(dev, 1, RX, 8), 0x1111222233334444ull);
	assert_int_equal(devtest_read(dev, 1, RX, 4), 7);
	assert_int_equal(devtest_read(dev, 1, RX, 4), 0);	/* empty */
	devtest_write(dev, 1, TX, 4, 0xabcd);
	assert_int_equal(devtest_read(dev, 0, RX_FROM, 4), 1);
	assert_int_equal(devtest_read(dev, 0, RX, 4), 0xabcd);
	assert_int_equal(devtest_read(dev, 0, DEPTH, 4), 0);
	assert_int_equal(devtest_stat(dev, "sent"), 3);
	assert_int_equal(devtest_stat(dev, "received"), 3);
	dev->ops->destroy(dev);
}

static void test_overflow_is_reported(void **state)
{
	struct device *dev = devtest_new("mailbox", "{\"depth\": 2}", 0x1000, 2);

	devtest_write(dev, 0, TX, 4, 1);
	devtest_write(dev, 0, TX, 4, 2);
	assert_int_equal(devtest_read(dev, 0, STATUS, 4), 4);	/* dest full */
	devtest_write(dev, 0, TX, 4, 3);			/* dropped */
	assert_int_equal(devtest_read(dev, 1, STATUS, 4), 3);
	assert_int_equal(devtest_read(dev, 1, OVERFLOWS, 4), 1);
	devtest_write(dev, 1, STATUS, 4, 2);
	assert_int_equal(devtest_read(dev, 1, STATUS, 4), 1);
	assert_int_equal(devtest_read(dev, 1, RX, 4), 1);
	assert_int_equal(devtest_read(dev, 1, RX, 4), 2);
	assert_int_equal(devtest_stat(dev, "overflows"), 1);
	dev->ops->destroy(dev);
}

static void test_dest_and_self_send(void **state)
{
	struct device *dev = devtest_new("mailbox", NULL, 0x1000, 3);

	devtest_write(dev, 2, DEST, 4, 2);
	devtest_write(dev, 2, TX, 4, 99);
	assert_int_equal(devtest_read(dev, 2, RX_FROM, 4), 2);
	assert_int_equal(devtest_read(dev, 2, RX, 4), 99);
	assert_int_equal(dev->ops->write(dev, 2, DEST, 4, 3), -1);
	dev->ops->destroy(dev);
}

static void test_bad_accesses(void **state)
{
	struct device *dev = devtest_new("mailbox", NULL, 0x1000, 2);
	unsigned int i;

	for (i = 0; i < 4; i++) {
		if (devtest_sizes[i] == 4)
			continue;
		devtest_read_fails(dev, 0, ID, devtest_sizes[i]);
		devtest_write_fails(dev, 0, DEST, devtest_sizes[i]);
	}
	devtest_read_fails(dev, 0, RX, 2);
	devtest_write_fails(dev, 0, TX, 1);
	devtest_read_fails(dev, 0, 0x38, 4);
	devtest_read_fails(dev, 5, ID, 4);			/* unknown VM */
	assert_int_equal(dev->ops->write(dev, 0, DEST, 4, 2), -1);
	assert_int_equal(devtest_stat(dev, "bad_access"), 11);
	dev->ops->reset(dev);
	assert_int_equal(devtest_stat(dev, "bad_access"), 0);
	dev->ops->destroy(dev);
}

static void test_refused(void **state)
{
	devtest_refused("mailbox", NULL, 0x20, 2, "size");
	devtest_refused("mailbox", "{\"depth\": 0}", 0x1000, 2, "options.depth");
	devtest_refused("mailbox", "{\"depth\": 2000}", 0x1000, 2, "options.depth");
}

/* A VM's line is high while its inbox holds mail. */
static void test_mail_interrupt(void **state)
{
	struct devtest_host h;
	struct device *dev = devtest_new_hosted("mailbox", NULL, 0x40, 2, &h);

	devtest_write(dev, 0, 0x10, 4, 7);	/* VM 0 -> VM 1 */
	assert_true(h.level[1]);
	assert_false(h.level[0]);
	devtest_write(dev, 0, 0x10, 4, 8);
	assert_int_equal(h.edges[1], 1);
	assert_int_equal(devtest_read(dev, 1, 0x18, 4), 7);
	assert_true(h.level[1]);
	assert_int_equal(devtest_read(dev, 1, 0x18, 4), 8);
	assert_false(h.level[1]);
	devtest_write(dev, 0, 0x10, 4, 9);
	assert_int_equal(h.edges[1], 2);
	dev->ops->reset(dev);
	assert_false(h.level[1]);
	dev->ops->destroy(dev);
}

/* One VM's reboot empties its own inbox and lowers its line only. */
static void test_reset_vm_is_one_inbox(void **state)
{
	struct devtest_host h;
	struct device *dev = devtest_new_hosted("mailbox", NULL, 0x40, 2, &h);

	devtest_write(dev, 0, TX, 4, 7);	/* VM 0 -> VM 1 */
	devtest_write(dev, 1, TX, 4, 8);	/* VM 1 -> VM 0 */
	assert_true(h.level[0] && h.level[1]);
	dev->ops->reset_vm(dev, 0);
	assert_false(h.level[0]);
	assert_true(h.level[1]);
	assert_int_equal(devtest_read(dev, 0, DEPTH, 4), 0);
	assert_int_equal(devtest_read(dev, 1, DEPTH, 4), 1);
	assert_int_equal(devtest_read(dev, 1, RX, 4), 7);
	assert_int_equal(devtest_stat(dev, "sent"), 2);
	dev->ops->destroy(dev);
}

static void test_restart_keeps_queues(void **state)
{
	struct device *dev = devtest_new("mailbox", "{\"depth\": 4}", 0x40, 2);
	unsigned int i;

	for (i = 0; i < 6; i++)
		devtest_write(dev, 0, TX, 8, 0x100 + i);
	devtest_write(dev, 1, DEST, 4, 1);
	assert_int_equal(devtest_restart(dev, "{\"depth\": 4}", 0x40, 2, 0,
					 &dev), 0);
	assert_int_equal(devtest_read(dev, 1, DEPTH, 4), 4);
	assert_int_equal(devtest_read(dev, 1, STATUS, 4) & 2, 2);
	assert_int_equal(devtest_read(dev, 1, DEST, 4), 1);
	for (i = 0; i < 4; i++) {
		assert_int_equal(devtest_read(dev, 1, RX_FROM, 4), 0);
		assert_int_equal(devtest_read(dev, 1, RX, 8), 0x100 + i);
	}
	assert_int_equal(devtest_stat(dev, "overflows"), 2);
	/* Saved with depth 4: a mailbox of depth 2 starts fresh instead. */
	devtest_write(dev, 0, TX, 8, 1);
	assert_int_equal(devtest_restart(dev, "{\"depth\": 2}", 0x40, 2, 0,
					 &dev), -1);
	assert_int_equal(devtest_read(dev, 1, DEPTH, 4), 0);
	dev->ops->destroy(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_keeps_queues),
		cmocka_unit_test(test_reset_vm_is_one_inbox),
		cmocka_unit_test(test_identity_registers),
		cmocka_unit_test(test_exchange_both_ways),
		cmocka_unit_test(test_overflow_is_reported),
		cmocka_unit_test(test_dest_and_self_send),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_mail_interrupt),
	};

	return cmocka_run_group_tests_name("mailbox", tests, NULL, NULL);
}
