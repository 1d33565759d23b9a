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

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04

static struct device *uart_hosted(struct devtest_host *h)
{
	return devtest_new_hosted("uart16550", "{\"output\": \"none\"}", 8, 1,
				  h);
}

/* THR empty as Linux's interrupt-driven transmitter sees it. */
static void test_thre_interrupt(void **state)
{
	struct devtest_host h;
	struct device *dev = uart_hosted(&h);

	assert_false(h.level[0]);
	devtest_write(dev, 0, IER, 1, IER_THRI);	/* start_tx */
	assert_true(h.level[0]);
	assert_int_equal(h.edges[0], 1);
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x02);
	/* Reading IIR acknowledged it: the line drops, IIR says none. */
	assert_false(h.level[0]);
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x01);
	/* Rewriting IER with THRI already set does not re-arm it... */
	devtest_write(dev, 0, IER, 1, IER_THRI);
	assert_false(h.level[0]);
	/* ...but each byte sent empties THR again: a new edge. */
	devtest_write(dev, 0, THR, 1, 'x');
	assert_true(h.level[0]);
	assert_int_equal(h.edges[0], 2);
	devtest_write(dev, 0, THR, 1, 'y');	/* still high, no new edge */
	assert_int_equal(h.edges[0], 2);
	/* stop_tx, then start_tx re-arms even after an IIR acknowledge. */
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x02);
	devtest_write(dev, 0, IER, 1, 0);
	assert_false(h.level[0]);
	devtest_write(dev, 0, IER, 1, IER_THRI);
	assert_true(h.level[0]);
	assert_int_equal(h.edges[0], 3);
	/* Writing THR acknowledges it too; the byte leaves at once. */
	devtest_write(dev, 0, IER, 1, 0);
	devtest_write(dev, 0, THR, 1, 'z');
	assert_false(h.level[0]);
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x01);
	assert_int_equal(h.out_len, 3);
	assert_memory_equal(h.out, "xyz", 3);
	dev->ops->destroy(dev);
}

static void test_receive_interrupt(void **state)
{
	struct devtest_host h;
	struct device *dev = uart_hosted(&h);

	devtest_write(dev, 0, FCR, 1, 0x07);	/* FIFOs on, cleared */
	assert_int_equal(dev->ops->input(dev, (const uint8_t *)"ab", 2), 2);
	assert_false(h.level[0]);		/* RDI masked */
	assert_int_equal(devtest_read(dev, 0, LSR, 1) & 0x01, 0x01);
	devtest_write(dev, 0, IER, 1, IER_RDI);
	assert_true(h.level[0]);
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0xc4);
	assert_true(h.level[0]);		/* IIR does not ack RDA */
	assert_int_equal(devtest_read(dev, 0, RBR, 1), 'a');
	assert_true(h.level[0]);
	assert_int_equal(devtest_read(dev, 0, RBR, 1), 'b');
	assert_false(h.level[0]);
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0xc1);
	assert_int_equal(devtest_read(dev, 0, LSR, 1) & 0x01, 0);
	/* More input: a new edge. */
	assert_int_equal(dev->ops->input(dev, (const uint8_t *)"c", 1), 1);
	assert_int_equal(h.edges[0], 2);
	assert_int_equal(devtest_stat(dev, "rx_bytes"), 3);
	dev->ops->destroy(dev);
}

/* 16 bytes with the FIFOs on, 1 without; what is refused waits in the host
 * until input_ready. */
static void test_receive_flow_control(void **state)
{
	struct devtest_host h;
	struct device *dev = uart_hosted(&h);
	uint8_t buf[20];
	unsigned int i;

	memset(buf, 'k', sizeof(buf));
	assert_int_equal(dev->ops->input(dev, buf, 3), 1);
	assert_int_equal(h.input_ready, 0);
	devtest_read(dev, 0, RBR, 1);
	assert_int_equal(h.input_ready, 1);
	devtest_write(dev, 0, FCR, 1, 0x01);
	assert_int_equal(dev->ops->input(dev, buf, sizeof(buf)), 16);
	for (i = 0; i < 16; i++)
		assert_int_equal(devtest_read(dev, 0, RBR, 1), 'k');
	assert_int_equal(h.input_ready, 2);
	assert_int_equal(devtest_stat(dev, "rx_overruns"), 0);
	/* In loopback the receiver is cut off from the line. */
	devtest_write(dev, 0, MCR, 1, 0x10);
	assert_int_equal(dev->ops->input(dev, buf, 1), 0);
	devtest_write(dev, 0, MCR, 1, 0x00);
	assert_int_equal(h.input_ready, 3);
	dev->ops->destroy(dev);
}

/* Overrun (loopback with the FIFOs off) raises the line status interrupt,
 * which outranks received data, which outranks THR empty. */
static void test_interrupt_priority(void **state)
{
	struct devtest_host h;
	struct device *dev = uart_hosted(&h);

	devtest_write(dev, 0, MCR, 1, 0x10);
	devtest_write(dev, 0, THR, 1, '1');
	devtest_write(dev, 0, THR, 1, '2');	/* RBR full: overrun */
	devtest_write(dev, 0, IER, 1, IER_RDI | IER_THRI | IER_RLSI);
	assert_true(h.level[0]);
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x06);
	assert_int_equal(devtest_read(dev, 0, LSR, 1), 0x63);	/* OE|DR */
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x04);
	assert_int_equal(devtest_read(dev, 0, RBR, 1), '1');
	assert_int_equal(devtest_read(dev, 0, IIR, 1), 0x02);
	assert_false(h.level[0]);
	assert_int_equal(devtest_stat(dev, "rx_overruns"), 1);
	devtest_write(dev, 0, IER, 1, 0);
	devtest_write(dev, 0, IER, 1, IER_THRI);
	assert_true(h.level[0]);
	dev->ops->reset(dev);
	assert_false(h.level[0]);
	dev->ops->destroy(dev);
}

static void test_restart_keeps_registers_and_fifo(void **state)
{
	static const char *opts = "{\"output\": \"none\"}";
	struct device *dev = devtest_new("uart16550", opts, 8, 1);

	devtest_write(dev, 0, LCR, 1, 0x80);
	devtest_write(dev, 0, RBR, 1, 0x0c);
	devtest_write(dev, 0, LCR, 1, 0x03);
	devtest_write(dev, 0, FCR, 1, 0x01);
	devtest_write(dev, 0, SCR, 1, 0x5a);
	devtest_write(dev, 0, RBR, 1, 'h');
	devtest_write(dev, 0, RBR, 1, 'i');
	assert_int_equal(dev->ops->input(dev, (const uint8_t *)"xyz", 3), 3);
	assert_int_equal(devtest_restart(dev, opts, 8, 1, 0, &dev), 0);
	assert_int_equal(devtest_read(dev, 0, LCR, 1), 0x03);
	assert_int_equal(devtest_read(dev, 0, SCR, 1), 0x5a);
	assert_int_equal(devtest_read(dev, 0, LSR, 1) & 1, 1);
	assert_int_equal(devtest_read(dev, 0, RBR, 1), 'x');
	assert_int_equal(devtest_read(dev, 0, RBR, 1), 'y');
	assert_int_equal(devtest_read(dev, 0, RBR, 1), 'z');
	devtest_write(dev, 0, LCR, 1, 0x83);
	assert_int_equal(devtest_read(dev, 0, RBR, 1), 0x0c);
	devtest_write(dev, 0, LCR, 1, 0x03);
	/* "hi" waited in the line buffer: the newline completes that line. */
	devtest_write(dev, 0, RBR, 1, '\n');
	assert_int_equal(devtest_stat(dev, "lines"), 1);
	assert_int_equal(devtest_stat(dev, "tx_bytes"), 3);
	dev->ops->destroy(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_keeps_registers_and_fifo),
		cmocka_unit_test(test_transmit_lines),
		cmocka_unit_test(test_divisor_latch),
		cmocka_unit_test(test_scratch_and_registers),
		cmocka_unit_test(test_loopback_as_linux_probes),
		cmocka_unit_test(test_only_byte_access),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_thre_interrupt),
		cmocka_unit_test(test_receive_interrupt),
		cmocka_unit_test(test_receive_flow_control),
		cmocka_unit_test(test_interrupt_priority),
	};

	return cmocka_run_group_tests_name("uart16550", tests, NULL, NULL);
}
