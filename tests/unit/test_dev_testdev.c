/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include "devtest.h"

static void test_id_and_version(void **state)
{
	struct device *dev = devtest_new("testdev", NULL, 0x1000, 1);

	assert_int_equal(devtest_read(dev, 0, 0x000, 4), 0x494f5254);
	assert_int_equal(devtest_read(dev, 0, 0x004, 4), 1);
	/* Identification is 32-bit only and read-only. */
	devtest_read_fails(dev, 0, 0x000, 2);
	devtest_read_fails(dev, 0, 0x004, 8);
	devtest_write_fails(dev, 0, 0x000, 4);
	dev->ops->destroy(dev);
}

static void test_scratch_every_size(void **state)
{
	struct device *dev = devtest_new("testdev", NULL, 0x1000, 1);
	unsigned int i;
	uint64_t off;

	for (i = 0; i < 4; i++) {
		unsigned int size = devtest_sizes[i];

		for (off = 0x10; off + size <= 0x30; off++) {
			devtest_write(dev, 0, off, size, off * 0x0101010101010101ull);
			assert_int_equal(devtest_read(dev, 0, off, size),
					 (off * 0x0101010101010101ull) &
					 ioregion_size_mask(size));
		}
		devtest_read_fails(dev, 0, size == 1 ? 0x30 : 0x30 - size + 1, size);
	}
	dev->ops->destroy(dev);
}

static void test_echo_and_offsets(void **state)
{
	struct device *dev = devtest_new("testdev", NULL, 0x1000, 1);
	unsigned int i;

	for (i = 0; i < 4; i++) {
		unsigned int size = devtest_sizes[i];

		devtest_write(dev, 0, 0x40, size, 0xf0e1d2c3b4a59687ull);
		assert_int_equal(devtest_read(dev, 0, 0x40, 8),
				 0xf0e1d2c3b4a59687ull & ioregion_size_mask(size));
		assert_int_equal(devtest_read(dev, 0, 0x100 + 8 * i, size),
				 (0x100 + 8 * i) & ioregion_size_mask(size));
	}
	assert_int_equal(devtest_read(dev, 0, 0x1f8, 8), 0x1f8);
	devtest_read_fails(dev, 0, 0x1fc, 8);
	devtest_write_fails(dev, 0, 0x100, 4);
	dev->ops->destroy(dev);
}

static void test_counters(void **state)
{
	struct device *dev = devtest_new("testdev", NULL, 0x1000, 1);

	devtest_write(dev, 0, 0x10, 4, 1);
	devtest_write(dev, 0, 0x40, 4, 1);
	(void)devtest_read(dev, 0, 0x0, 4);
	assert_int_equal(devtest_read(dev, 0, 0x208, 8), 2);
	assert_int_equal(devtest_read(dev, 0, 0x200, 4), 2);
	devtest_read_fails(dev, 0, 0x200, 2);
	devtest_read_fails(dev, 0, 0x800, 4);
	assert_int_equal(devtest_stat(dev, "bad_access"), 2);
	dev->ops->reset(dev);
	assert_int_equal(devtest_read(dev, 0, 0x208, 8), 0);
	assert_int_equal(devtest_read(dev, 0, 0x40, 8), 0);
	dev->ops->destroy(dev);
}

static void test_refused(void **state)
{
	devtest_refused("testdev", NULL, 0x100, 1, "size");
	devtest_refused("testdev", "{\"x\": 1}", 0x1000, 1, "options.x");
}

static void test_restart_keeps_registers(void **state)
{
	struct device *dev = devtest_new("testdev", NULL, 0x1000, 1);

	devtest_write(dev, 0, 0x40, 8, 0x1122334455667788ull);
	devtest_write(dev, 0, 0x10, 4, 0xcafe);
	assert_int_equal(devtest_restart(dev, NULL, 0x1000, 1, 0, &dev), 0);
	assert_int_equal(devtest_read(dev, 0, 0x40, 8), 0x1122334455667788ull);
	assert_int_equal(devtest_read(dev, 0, 0x10, 4), 0xcafe);
	assert_int_equal(devtest_stat(dev, "writes"), 2);
	dev->ops->destroy(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_keeps_registers),
		cmocka_unit_test(test_id_and_version),
		cmocka_unit_test(test_scratch_every_size),
		cmocka_unit_test(test_echo_and_offsets),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests_name("testdev", tests, NULL, NULL);
}
