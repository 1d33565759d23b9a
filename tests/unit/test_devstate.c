/* SPDX-License-Identifier: MIT */
/*
 * devstate: every model's state as one record, saved and loaded back into a
 * fresh instance; a record of another type, version, region or size, or a
 * truncated one, refused with nothing of it applied.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "devstate.h"
#include "devtest.h"

#define UART_IER 1
#define UART_LCR 3
#define UART_SCR 7
#define TESTDEV_SCRATCH 0x10
#define TESTDEV_WRITES 0x208
#define MBOX_DEST 0x0c
#define MBOX_TX 0x10
#define MBOX_RX 0x18
#define MBOX_DEPTH 0x24
#define TPM_ACCESS 0x00	/* locality 0's */

static uint8_t buf[(1 << 20) + (64 << 10)];

/* Saves dev (flags, requester) as region "r0" of size into buf; returns
 * the record's length. */
static size_t save(struct device *dev, uint64_t size, unsigned int flags,
		   unsigned int requester)
{
	struct statebuf sb;

	statebuf_init(&sb, buf, sizeof(buf));
	assert_int_equal(devstate_save(dev, "r0", size, flags, requester, &sb),
			 0);
	return sb.len;
}

static void parse(size_t len, struct devstate_record *rec)
{
	struct statebuf sb;
	char why[256];

	statebuf_init(&sb, buf, len);
	assert_int_equal(devstate_parse(&sb, rec, why, sizeof(why)), 0);
	assert_true(statebuf_done(&sb));
}

/* Validates, then applies rec into dev (created from options). */
static void load(struct device *dev, const char *options, uint64_t size,
		 unsigned int vms, const struct devstate_record *rec,
		 unsigned int requester)
{
	json_t *opts = options ? json_loads(options, 0, NULL) : NULL;
	char why[256] = "";

	if (devstate_validate(rec, dev, opts, vms, "r0", size, requester, why,
			      sizeof(why)) < 0)
		fail_msg("validate: %s", why);
	if (devstate_apply(dev, rec, requester, -1, why, sizeof(why)) < 0)
		fail_msg("apply: %s", why);
	json_decref(opts);
}

/* Expects the record refused with errno code and why containing what. */
static void refused(struct device *dev, uint64_t size, size_t len, int code,
		    const char *what)
{
	struct devstate_record rec;
	struct statebuf sb;
	char why[256] = "";
	int rc;

	statebuf_init(&sb, buf, len);
	rc = devstate_parse(&sb, &rec, why, sizeof(why));
	if (rc == 0)
		rc = devstate_validate(&rec, dev, NULL, 1, "r0", size, 0, why,
				       sizeof(why));
	assert_int_equal(rc, code);
	if (!strstr(why, what))
		fail_msg("expected \"%s\" in \"%s\"", what, why);
}

static void test_ram_carries_memory(void **state)
{
	struct device *a = devtest_new("ram", "{\"fill\": 255}", 0x2000, 1);
	struct device *b = devtest_new("ram", "{\"fill\": 255}", 0x2000, 1);
	struct devstate_record rec;
	size_t len;
	unsigned int i;

	for (i = 0; i < 0x2000; i += 8)
		devtest_write(a, 0, i, 8, 0x0123456789abcdefull ^ i);
	devtest_read_fails(a, 0, 0x2000, 1);	/* out_of_range 1 */
	len = save(a, 0x2000, DEVSTATE_MEMORY, 0);
	parse(len, &rec);
	assert_string_equal(rec.device, "ram");
	assert_string_equal(rec.region, "r0");
	assert_int_equal(rec.version, 2);
	assert_int_equal(rec.size, 0x2000);
	assert_true(rec.len > 0x2000);
	a->ops->destroy(a);
	load(b, "{\"fill\": 255}", 0x2000, 1, &rec, 0);
	for (i = 0; i < 0x2000; i += 8)
		assert_int_equal(devtest_read(b, 0, i, 8),
				 0x0123456789abcdefull ^ i);
	assert_int_equal(devtest_stat(b, "out_of_range"), 1);
	b->ops->destroy(b);
}

static void test_ram_other_fill_refused(void **state)
{
	struct device *a = devtest_new("ram", NULL, 0x1000, 1);
	struct device *b = devtest_new("ram", "{\"fill\": 1}", 0x1000, 1);
	struct devstate_record rec;
	json_t *opts = json_loads("{\"fill\": 1}", 0, NULL);
	char why[256];

	devtest_write(a, 0, 0, 4, 0x11223344);
	devtest_write(b, 0, 0, 4, 0x55667788);
	parse(save(a, 0x1000, DEVSTATE_MEMORY, 0), &rec);
	assert_int_equal(devstate_validate(&rec, b, opts, 1, "r0", 0x1000, 0,
					   why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "does not fit the ram device"));
	assert_int_equal(devtest_read(b, 0, 0, 4), 0x55667788);
	json_decref(opts);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

/* A restart's save by a daemon from before the record: ram's fields were
 * the counter alone; its memfd is taken back with them. */
static void test_ram_legacy_restart(void **state)
{
	struct device *a = devtest_new("ram", "{\"fill\": 7}", 0x1000, 1);
	struct device *b = devtest_new("ram", "{\"fill\": 7}", 0x1000, 1);
	struct statebuf sb;
	uint8_t old[8];

	devtest_write(a, 0, 0x10, 4, 0xa1b2c3d4);
	statebuf_init(&sb, old, sizeof(old));
	statebuf_put_u64(&sb, 3);
	statebuf_init(&sb, old, sizeof(old));
	assert_int_equal(device_restore(b, &sb, a->ops->memory_fd(a)), 0);
	assert_int_equal(devtest_read(b, 0, 0x10, 4), 0xa1b2c3d4);
	assert_int_equal(devtest_read(b, 0, 0x20, 1), 7);
	assert_int_equal(devtest_stat(b, "out_of_range"), 3);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

static void test_uart_round_trip(void **state)
{
	struct device *a = devtest_new("uart16550", "{\"output\": \"none\"}", 8, 1);
	struct device *b = devtest_new("uart16550", "{\"output\": \"none\"}", 8, 1);
	struct devstate_record rec;

	devtest_write(a, 0, UART_LCR, 1, 0x1b);
	devtest_write(a, 0, UART_IER, 1, 0x05);
	devtest_write(a, 0, UART_SCR, 1, 0xa5);
	parse(save(a, 8, DEVSTATE_MEMORY, 0), &rec);
	/* No memory in a uart: the flag is dropped. */
	assert_int_equal(rec.flags, 0);
	a->ops->destroy(a);
	load(b, "{\"output\": \"none\"}", 8, 1, &rec, 0);
	assert_int_equal(devtest_read(b, 0, UART_LCR, 1), 0x1b);
	assert_int_equal(devtest_read(b, 0, UART_IER, 1), 0x05);
	assert_int_equal(devtest_read(b, 0, UART_SCR, 1), 0xa5);
	b->ops->destroy(b);
}

/* Checking a record restores it into a scratch instance of the same
 * config, output file included: the unfinished line the record carries
 * must reach the file once, from the live UART, never from the scratch. */
static void test_uart_line_written_once(void **state)
{
	char path[] = "/tmp/test_devstate-uart-XXXXXX", opts[128], got[16] = "";
	const char *c;
	struct device *a;
	struct devstate_record rec;
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	snprintf(opts, sizeof(opts),
		 "{\"output\": \"file\", \"path\": \"%s\"}", path);
	a = devtest_new("uart16550", opts, 8, 1);
	for (c = "abc"; *c; c++)
		devtest_write(a, 0, 0, 1, (uint8_t)*c);
	parse(save(a, 8, 0, 0), &rec);
	load(a, opts, 8, 1, &rec, 0);
	devtest_write(a, 0, 0, 1, '\n');
	a->ops->destroy(a);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f) ? got : NULL);
	fclose(f);
	unlink(path);
	assert_string_equal(got, "abc\n");
}

static void test_testdev_and_doorbell_round_trip(void **state)
{
	struct device *t = devtest_new("testdev", NULL, 0x1000, 1);
	struct device *t2 = devtest_new("testdev", NULL, 0x1000, 1);
	struct device *d = devtest_new("doorbell", NULL, 0x1000, 1);
	struct device *d2 = devtest_new("doorbell", NULL, 0x1000, 1);
	struct devstate_record rec;
	unsigned int i;

	for (i = 0; i < 5; i++)
		devtest_write(t, 0, TESTDEV_SCRATCH, 8, 0xfeed0000 + i);
	for (i = 0; i < 7; i++)
		devtest_write(d, 0, 0, 4, i);
	parse(save(t, 0x1000, 0, 0), &rec);
	load(t2, NULL, 0x1000, 1, &rec, 0);
	assert_int_equal(devtest_read(t2, 0, TESTDEV_SCRATCH, 8), 0xfeed0004);
	assert_int_equal(devtest_read(t2, 0, TESTDEV_WRITES, 8), 5);
	parse(save(d, 0x1000, 0, 0), &rec);
	load(d2, NULL, 0x1000, 1, &rec, 0);
	assert_int_equal(devtest_stat(d2, "total"), 7);
	t->ops->destroy(t);
	t2->ops->destroy(t2);
	d->ops->destroy(d);
	d2->ops->destroy(d2);
}

/* A VM's part of a shared mailbox: its inbox alone; the other VMs' inboxes
 * in the device it is loaded into stay as they are. */
static void test_mailbox_vm_part(void **state)
{
	struct device *a = devtest_new("mailbox", NULL, 0x1000, 3);
	struct device *b = devtest_new("mailbox", NULL, 0x1000, 3);
	struct devstate_record rec;

	/* In a: VM 0 sends 2 messages to VM 1. In b: VM 0 sends VM 2 one. */
	devtest_write(a, 0, MBOX_DEST, 4, 1);
	devtest_write(a, 0, MBOX_TX, 8, 0x111);
	devtest_write(a, 0, MBOX_TX, 8, 0x222);
	devtest_write(b, 0, MBOX_DEST, 4, 2);
	devtest_write(b, 0, MBOX_TX, 8, 0x333);
	parse(save(a, 0x1000, DEVSTATE_VM_PART, 1), &rec);
	assert_int_equal(rec.flags, DEVSTATE_VM_PART);
	load(b, NULL, 0x1000, 3, &rec, 1);
	assert_int_equal(devtest_read(b, 1, MBOX_DEPTH, 4), 2);
	assert_int_equal(devtest_read(b, 1, MBOX_RX, 8), 0x111);
	assert_int_equal(devtest_read(b, 1, MBOX_RX, 8), 0x222);
	/* VM 2's inbox in b is untouched. */
	assert_int_equal(devtest_read(b, 2, MBOX_DEPTH, 4), 1);
	assert_int_equal(devtest_read(b, 2, MBOX_RX, 8), 0x333);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

/* The whole of a shared mailbox and of a TPM (the restart's record). */
static void test_mailbox_and_tpm_whole(void **state)
{
	struct device *a = devtest_new("mailbox", NULL, 0x1000, 2);
	struct device *b = devtest_new("mailbox", NULL, 0x1000, 2);
	struct device *t = devtest_new("tpm-tis", NULL, 0x5000, 1);
	struct device *t2 = devtest_new("tpm-tis", NULL, 0x5000, 1);
	struct devstate_record rec;

	devtest_write(a, 0, MBOX_TX, 8, 0xabc);	/* to VM 1, the default */
	parse(save(a, 0x1000, 0, DEVICE_ALL_REQUESTERS), &rec);
	load(b, NULL, 0x1000, 2, &rec, DEVICE_ALL_REQUESTERS);
	assert_int_equal(devtest_read(b, 1, MBOX_RX, 8), 0xabc);
	/* Locality 0 requested and granted: the TPM's access register. */
	devtest_write(t, 0, TPM_ACCESS, 1, 0x02);
	assert_int_equal(devtest_read(t, 0, TPM_ACCESS, 1) & 0x20, 0x20);
	parse(save(t, 0x5000, 0, DEVICE_ALL_REQUESTERS), &rec);
	assert_string_equal(rec.device, "tpm-tis");
	load(t2, NULL, 0x5000, 1, &rec, DEVICE_ALL_REQUESTERS);
	assert_int_equal(devtest_read(t2, 0, TPM_ACCESS, 1),
			 devtest_read(t, 0, TPM_ACCESS, 1));
	assert_int_equal(devtest_read(t2, 0, TPM_ACCESS, 1) & 0x20, 0x20);
	a->ops->destroy(a);
	b->ops->destroy(b);
	t->ops->destroy(t);
	t2->ops->destroy(t2);
}

/* A model with no per-VM state gives no VM part. */
static void test_no_vm_part(void **state)
{
	struct device *t = devtest_new("testdev", NULL, 0x1000, 2);
	struct statebuf sb;

	statebuf_init(&sb, buf, sizeof(buf));
	assert_int_equal(devstate_save(t, "r0", 0x1000, DEVSTATE_VM_PART, 0,
				       &sb), -ENOTSUP);
	t->ops->destroy(t);
}

/* Every kind of wrong record: refused before anything is applied. */
static void test_refusals(void **state)
{
	struct device *src = devtest_new("testdev", NULL, 0x1000, 1);
	struct device *dst = devtest_new("testdev", NULL, 0x1000, 1);
	struct device *uart = devtest_new("uart16550", "{\"output\": \"none\"}", 8, 1);
	struct devstate_record rec;
	size_t len, at;

	devtest_write(src, 0, TESTDEV_SCRATCH, 8, 0x1111);
	devtest_write(dst, 0, TESTDEV_SCRATCH, 8, 0x2222);
	len = save(src, 0x1000, 0, 0);
	/* Another region's size. */
	refused(dst, 0x2000, len, -EINVAL, "region r0: the record is of a 4096-byte region, this one has 8192");
	/* Another device type. */
	refused(uart, 0x1000, len, -EINVAL, "the record is a testdev device's state, the region is a uart16550");
	/* Truncated: the header promises more than there is. */
	refused(dst, 0x1000, len - 1, -EBADMSG, "truncated");
	refused(dst, 0x1000, 20, -EBADMSG, "bad device or region name");
	/* A model state version this build does not know. */
	parse(len, &rec);
	at = (size_t)(rec.state - buf) - 8 - 8 - 4 - 4;
	buf[at] = 99;
	refused(dst, 0x1000, len, -EPROTO, "testdev state format version 99 is unknown (this daemon's is 1)");
	buf[at] = 1;
	/* The record format itself. */
	buf[8] = 2;
	refused(dst, 0x1000, len, -EPROTO, "device state record format 2");
	buf[8] = 1;
	/* Not a record. */
	buf[0] = 'X';
	refused(dst, 0x1000, len, -EBADMSG, "not a device state record");
	buf[0] = 'I';
	/* The model's fields cut short, header length adjusted: the scratch
	 * instance finds it out, the live one never sees it. */
	parse(len, &rec);
	rec.len -= 8;
	{
		char why[256] = "";

		assert_int_equal(devstate_validate(&rec, dst, NULL, 1, "r0",
						   0x1000, 0, why, sizeof(why)),
				 -EINVAL);
		assert_non_null(strstr(why, "does not fit the testdev device"));
		/* Region name checked too. */
		rec.len += 8;
		assert_int_equal(devstate_validate(&rec, dst, NULL, 1, "r1",
						   0x1000, 0, why, sizeof(why)),
				 -EINVAL);
		assert_non_null(strstr(why, "region r1: the record is region r0's"));
	}
	assert_int_equal(devtest_read(dst, 0, TESTDEV_SCRATCH, 8), 0x2222);
	assert_int_equal(devtest_read(dst, 0, TESTDEV_WRITES, 8), 1);
	src->ops->destroy(src);
	dst->ops->destroy(dst);
	uart->ops->destroy(uart);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ram_carries_memory),
		cmocka_unit_test(test_ram_other_fill_refused),
		cmocka_unit_test(test_ram_legacy_restart),
		cmocka_unit_test(test_uart_round_trip),
		cmocka_unit_test(test_uart_line_written_once),
		cmocka_unit_test(test_testdev_and_doorbell_round_trip),
		cmocka_unit_test(test_mailbox_vm_part),
		cmocka_unit_test(test_mailbox_and_tpm_whole),
		cmocka_unit_test(test_no_vm_part),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
