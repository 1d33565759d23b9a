/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "devtest.h"

#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static char tmpfile_path[64];

static struct device *uart_to_file(void)
{
	char opts[160];

	strcpy(tmpfile_path, "/tmp/uart-test-XXXXXX");
	close(mkstemp(tmpfile_path));
	snprintf(opts, sizeof(opts), "{\"output\": \"file\", \"path\": \"%s\"}",
		 tmpfile_path);
	return devtest_new("uart16550", opts, 8, 1);
}

static void uart_expect_file(const char *want)
{
	char buf[256] = "";
	FILE *f = fopen(tmpfile_path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(tmpfile_path);
	assert_string_equal(buf, want);
}

static void test_transmit_lines(void **state)
{
	struct device *dev = uart_to_file();
	const char *s = "hello\nworld\n";

	for (; *s; s++) {
		/* What a polling loop does: wait for THRE, then write. */
		assert_int_equal(devtest_read(dev, 0, LSR, 1) & 0x60, 0x60);
		devtest_write(dev, 0, THR, 1, (uint8_t)*s);
	}
	assert_int_equal(devtest_stat(dev, "tx_bytes"), 12);
	assert_int_equal(devtest_stat(dev, "lines"), 2);
	dev->ops->destroy(dev);
	uart_expect_file("hello\nworld\n");
}

static void test_divisor_latch(void **state)
{
	struct device *dev = uart_to_file();

	devtest_write(dev, 0, LCR, 1, 0x83);	/* DLAB, 8N1 */
	devtest_write(dev, 0, 0, 1, 0x01);	/* DLL: 115200 baud */
	devtest_write(dev, 0, 1, 1, 0x00);	/* DLM */
	assert_int_equal(devtest_read(dev, 0, 0, 1), 0x01);
	assert_int_equal(devtest_read(dev, 0, 1, 1), 0x00);
	devtest_write(dev, 0, LCR, 1, 0x03);
	assert_int_equal(devtest_read(dev, 0, LCR, 1), 0x03);
	devtest_write(dev, 0, IER, 1, 0x00);
	assert_int_equal(devtest_read(dev, 0, IER, 1), 0);
	devtest_write(dev, 0, THR, 1, 'x');	/* not the divisor any more */
	dev->ops->destroy(dev);
	uart_expect_file("x");
}

static void test_scratch_and_registers(void **state)
{
	struct device *dev = devtest_new("uart16550", "{\"output\": \"none\"}", 8, 1);

	devtest_write(dev, 0, SCR, 1, 0x5a);
	assert_int_equal(devtest_read(dev, 0, SCR, 1), 0x5a);
	devtest_write(dev, 0, MCR, 1, 0x0b);
	assert_int_equal(devtest_read(dev, 0, MCR, 1), 0x0b);
	assert_int_equal(devtest_read(dev, 0, MSR, 1), 0xb0);
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x01);	/* no irq */
	devtest_write(dev, 0, FCR, 1, 0x07);
	assert_int_equal(devtest_read(dev, 0, IIR, 1) & 0xc0, 0xc0);	/* 16550A */
	devtest_write(dev, 0, IER, 1, 0x02);	/* THRI: pending at once */
	assert_int_equal(devtest_read(dev, 0, IIR, 1) & 0x0f, 0x02);
	assert_int_equal(devtest_read(dev, 0, IIR, 1) & 0x0f, 0x01);	/* acked */
	devtest_write(dev, 0, LSR, 1, 0);	/* read-only, ignored */
	assert_int_equal(devtest_read(dev, 0, LSR, 1), 0x60);
	dev->ops->reset(dev);
	assert_int_equal(devtest_read(dev, 0, SCR, 1), 0);
	dev->ops->destroy(dev);
}

static void test_loopback_as_linux_probes(void **state)
{
	struct device *dev = devtest_new("uart16550", "{\"output\": \"none\"}", 8, 1);

	/* serial8250 autoconfig: MCR = LOOP | OUT2 | RTS -> MSR 0x90. */
	devtest_write(dev, 0, MCR, 1, 0x1a);
	assert_int_equal(devtest_read(dev, 0, MSR, 1) & 0xf0, 0x90);
	devtest_write(dev, 0, THR, 1, 'Q');
	assert_int_equal(devtest_read(dev, 0, LSR, 1) & 1, 1);
	devtest_write(dev, 0, IER, 1, 0x01);
	assert_int_equal(devtest_read(dev, 0, IIR, 1) & 0x0f, 0x04);
	assert_int_equal(devtest_read(dev, 0, RBR, 1), 'Q');
	assert_int_equal(devtest_read(dev, 0, LSR, 1) & 1, 0);
	assert_int_equal(devtest_stat(dev, "tx_bytes"), 0);
	dev->ops->destroy(dev);
}

static void test_only_byte_access(void **state)
{
	struct device *dev = devtest_new("uart16550", "{\"output\": \"none\"}", 8, 1);
	unsigned int i;

	for (i = 1; i < 4; i++) {
		devtest_read_fails(dev, 0, LSR, devtest_sizes[i]);
		devtest_write_fails(dev, 0, THR, devtest_sizes[i]);
	}
	devtest_read_fails(dev, 0, 8, 1);
	assert_int_equal(devtest_stat(dev, "bad_access"), 7);
	dev->ops->destroy(dev);
}

static void test_refused(void **state)
{
	devtest_refused("uart16550", NULL, 16, 1, "size");
	devtest_refused("uart16550", "{\"output\": \"printer\"}", 8, 1, "options.output");
	devtest_refused("uart16550", "{\"output\": \"file\"}", 8, 1, "options.path");
	devtest_refused("uart16550", "{\"output\": \"file\", \"path\": \"/nonexistent/x\"}",
			8, 1, "options.path");
	devtest_refused("uart16550", "{\"path\": \"/tmp/x\"}", 8, 1, "options.path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transmit_lines),
		cmocka_unit_test(test_divisor_latch),
		cmocka_unit_test(test_scratch_and_registers),
		cmocka_unit_test(test_loopback_as_linux_probes),
		cmocka_unit_test(test_only_byte_access),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests_name("uart16550", tests, NULL, NULL);
}
