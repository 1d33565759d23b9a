/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include "devtest.h"

static void test_every_size_every_alignment(void **state)
{
	struct device *dev = devtest_new("ram", NULL, 64, 1);
	unsigned int i;
	uint64_t off;

	for (i = 0; i < 4; i++) {
		unsigned int size = devtest_sizes[i];
		uint64_t mask = ioregion_size_mask(size);

		for (off = 0; off + size <= 64; off++) {
			uint64_t v = 0x0123456789abcdefull ^ (off * 0x1111);

			devtest_write(dev, 0, off, size, v);
			assert_int_equal(devtest_read(dev, 0, off, size), v & mask);
		}
	}
	dev->ops->destroy(dev);
}

static void test_little_endian_bytes(void **state)
{
	struct device *dev = devtest_new("ram", NULL, 16, 1);

	devtest_write(dev, 0, 0, 8, 0x0807060504030201ull);
	assert_int_equal(devtest_read(dev, 0, 0, 1), 0x01);
	assert_int_equal(devtest_read(dev, 0, 3, 2), 0x0504);
	assert_int_equal(devtest_read(dev, 0, 1, 4), 0x05040302);
	/* An unaligned write across the old value. */
	devtest_write(dev, 0, 6, 4, 0xaabbccdd);
	assert_int_equal(devtest_read(dev, 0, 0, 8), 0xccdd060504030201ull);
	assert_int_equal(devtest_read(dev, 0, 8, 2), 0xaabb);
	dev->ops->destroy(dev);
}

static void test_out_of_range(void **state)
{
	struct device *dev = devtest_new("ram", NULL, 16, 1);

	devtest_read_fails(dev, 0, 16, 1);
	devtest_read_fails(dev, 0, 15, 2);
	devtest_read_fails(dev, 0, 9, 8);
	devtest_write_fails(dev, 0, 13, 4);
	devtest_write_fails(dev, 0, UINT64_MAX, 8);
	assert_int_equal(devtest_read(dev, 0, 8, 8), 0);
	assert_int_equal(devtest_stat(dev, "out_of_range"), 5);
	dev->ops->destroy(dev);
}

static void test_fill_and_reset(void **state)
{
	struct device *dev = devtest_new("ram", "{\"fill\": 255}", 8, 1);

	assert_int_equal(devtest_read(dev, 0, 0, 8), UINT64_MAX);
	devtest_write(dev, 0, 0, 4, 0);
	dev->ops->reset(dev);
	assert_int_equal(devtest_read(dev, 0, 0, 8), UINT64_MAX);
	dev->ops->destroy(dev);
}

static void test_bad_options(void **state)
{
	devtest_refused("ram", "{\"fill\": 256}", 8, 1, "options.fill");
	devtest_refused("ram", "{\"fill\": \"x\"}", 8, 1, "options.fill");
	devtest_refused("ram", "{\"colour\": 1}", 8, 1, "options.colour: unknown");
	devtest_refused("ram", NULL, 128ull << 20, 1, "size");
}

static void test_restart_keeps_memory(void **state)
{
	struct device *dev = devtest_new("ram", NULL, 4096, 1);
	uint64_t off;

	for (off = 0; off < 4096; off += 8)
		devtest_write(dev, 0, off, 8, off * 0x0101010101ull);
	assert_int_equal(devtest_restart(dev, NULL, 4096, 1, 0, &dev), 0);
	for (off = 0; off < 4096; off += 8)
		assert_int_equal(devtest_read(dev, 0, off, 8),
				 off * 0x0101010101ull);
	/* Memory of another size does not fit: the ram starts fresh. */
	assert_int_equal(devtest_restart(dev, NULL, 8192, 1, 0, &dev), -1);
	assert_int_equal(devtest_read(dev, 0, 8, 8), 0);
	dev->ops->destroy(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_keeps_memory),
		cmocka_unit_test(test_every_size_every_alignment),
		cmocka_unit_test(test_little_endian_bytes),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_fill_and_reset),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests_name("ram", tests, NULL, NULL);
}
