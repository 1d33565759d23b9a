/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include "devtest.h"

static void test_ring_every_size(void **state)
{
	struct device *dev = devtest_new("doorbell", "{\"registers\": 4}", 0x1000, 1);
	unsigned int i, bell;

	for (bell = 0; bell < 4; bell++)
		for (i = 0; i < 4; i++)
			devtest_write(dev, 0, 8 * bell, devtest_sizes[i],
				      0x1000 * bell + i);
	for (bell = 0; bell < 4; bell++) {
		assert_int_equal(devtest_read(dev, 0, 0x200 + 8 * bell, 8), 4);
		assert_int_equal(devtest_read(dev, 0, 0x200 + 8 * bell, 4), 4);
		for (i = 0; i < 4; i++)
			assert_int_equal(devtest_read(dev, 0, 8 * bell, devtest_sizes[i]),
					 (0x1000 * bell + 3) & ioregion_size_mask(devtest_sizes[i]));
	}
	assert_int_equal(devtest_read(dev, 0, 0x400, 8), 16);
	assert_int_equal(devtest_read(dev, 0, 0x408, 4), 4);
	dev->ops->destroy(dev);
}

static void test_batch_counts_every_write(void **state)
{
	struct device *dev = devtest_new("doorbell", NULL, 0x1000, 1);
	struct device_write w[100];
	unsigned int i;

	for (i = 0; i < 100; i++)
		w[i] = (struct device_write){ .offset = 8 * (i % 3), .data = i,
					      .size = 4 };
	w[50].offset = 8 * 64;	/* beyond the 16 bells: refused */
	assert_int_equal(device_write_batch(dev, w, 100), 1);
	assert_int_equal(devtest_read(dev, 0, 0x400, 8), 99);
	assert_int_equal(devtest_read(dev, 0, 0x200, 8), 34);
	assert_int_equal(devtest_read(dev, 0, 0x208, 8), 33);
	assert_int_equal(devtest_read(dev, 0, 0x210, 8), 32);
	assert_int_equal(devtest_read(dev, 0, 0x0, 8), 99);
	assert_int_equal(devtest_stat(dev, "total"), 99);
	dev->ops->destroy(dev);
}

static void test_bad_accesses(void **state)
{
	struct device *dev = devtest_new("doorbell", "{\"registers\": 2}", 0x1000, 1);

	devtest_write_fails(dev, 0, 4, 4);	/* not a register start */
	devtest_write_fails(dev, 0, 16, 4);	/* bell 2 of 2 */
	devtest_write_fails(dev, 0, 0x200, 8);	/* counters are read-only */
	devtest_read_fails(dev, 0, 0x200, 2);	/* counters: 4 or 8 bytes */
	devtest_read_fails(dev, 0, 0x210, 8);	/* count of bell 2 of 2 */
	devtest_read_fails(dev, 0, 0x800, 8);
	assert_int_equal(devtest_stat(dev, "bad_access"), 6);
	dev->ops->reset(dev);
	assert_int_equal(devtest_stat(dev, "bad_access"), 0);
	assert_int_equal(devtest_read(dev, 0, 0x408, 8), 2);
	dev->ops->destroy(dev);
}

static void test_refused(void **state)
{
	devtest_refused("doorbell", NULL, 0x100, 1, "size");
	devtest_refused("doorbell", "{\"registers\": 0}", 0x1000, 1, "options.registers");
	devtest_refused("doorbell", "{\"registers\": 65}", 0x1000, 1, "options.registers");
}

/* Each ring pulses every VM's line; a batch of posted writes once. */
static void test_ring_interrupt(void **state)
{
	struct devtest_host h;
	struct device *dev = devtest_new_hosted("doorbell", NULL, 0x410, 2, &h);
	struct device_write w[3] = {
		{ .offset = 0, .data = 1, .size = 8 },
		{ .offset = 8, .data = 2, .size = 8 },
		{ .offset = 0x1000, .data = 3, .size = 8 },
	};

	devtest_write(dev, 0, 0, 4, 1);
	assert_int_equal(h.edges[0], 1);
	assert_int_equal(h.edges[1], 1);
	assert_false(h.level[1]);
	assert_int_equal(device_write_batch(dev, w, 3), 1);
	assert_int_equal(h.edges[1], 2);
	assert_int_equal(device_write_batch(dev, &w[2], 1), 1);
	assert_int_equal(h.edges[1], 2);	/* nothing rang */
	dev->ops->destroy(dev);
}

static void test_restart_keeps_counters(void **state)
{
	struct device *dev = devtest_new("doorbell", NULL, 0x1000, 1);
	unsigned int i;

	for (i = 0; i < 10; i++)
		devtest_write(dev, 0, 8 * (i % 3), 4, i);
	devtest_read_fails(dev, 0, 0x7f8, 8);
	assert_int_equal(devtest_restart(dev, NULL, 0x1000, 1, 0, &dev), 0);
	assert_int_equal(devtest_read(dev, 0, 0x400, 8), 10);
	assert_int_equal(devtest_read(dev, 0, 0x200, 8), 4);
	assert_int_equal(devtest_read(dev, 0, 0x008, 8), 7);
	assert_int_equal(devtest_stat(dev, "bad_access"), 1);
	/* A state cut short does not fit: the bell starts fresh. */
	assert_int_equal(devtest_restart(dev, NULL, 0x1000, 1, 20, &dev), -1);
	assert_int_equal(devtest_read(dev, 0, 0x400, 8), 0);
	/* Nor does a state of 16 bells in a doorbell of 4. */
	devtest_write(dev, 0, 0, 8, 1);
	assert_int_equal(devtest_restart(dev, "{\"registers\": 4}", 0x1000,
					 1, 0, &dev), -1);
	assert_int_equal(devtest_read(dev, 0, 0x400, 8), 0);
	dev->ops->destroy(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_keeps_counters),
		cmocka_unit_test(test_ring_every_size),
		cmocka_unit_test(test_batch_counts_every_write),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ring_interrupt),
	};

	return cmocka_run_group_tests_name("doorbell", tests, NULL, NULL);
}
