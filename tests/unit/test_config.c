/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

/* Parses text and expects it refused with a line containing want. */
static void config_refused(const char *text, const char *want)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_parse(text, &errs);
	char *all;

	assert_null(cfg);
	all = config_errors_join(&errs);
	if (!strstr(all, want))
		fail_msg("expected \"%s\" in:\n%s", want, all);
	free(all);
	config_errors_clear(&errs);
}

static struct config *config_ok(const char *text)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_parse(text, &errs);

	if (!cfg) {
		char *all = config_errors_join(&errs);

		fail_msg("refused:\n%s", all);
	}
	return cfg;
}

#define REGION(extra) \
	"{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\"," \
	" \"address\": 4096, \"size\": 16, \"vms\": [\"vm0\"]" extra "}]}"

static void test_builtin_default(void **state)
{
	struct config_errors errs = { 0 };
	struct config *cfg = config_load(NULL, &errs);
	unsigned int i;
	bool devices[5] = { 0 };
	static const char *const names[] = { "ram", "uart16550", "doorbell",
					     "mailbox", "testdev" };

	assert_non_null(cfg);
	for (i = 0; i < cfg->nregions; i++)
		for (unsigned int j = 0; j < 5; j++)
			devices[j] |= !strcmp(cfg->regions[i].device, names[j]);
	for (i = 0; i < 5; i++)
		assert_true(devices[i]);
	assert_false(cfg->has_access);
	config_free(cfg);
}

static void test_region_fields(void **state)
{
	struct config *cfg = config_ok(
		"{\"daemon\": {\"max_clients\": 5},"
		" \"regions\": [{\"name\": \"u\", \"device\": \"uart16550\","
		" \"bus\": \"pio\", \"address\": \"0x3f8\", \"size\": 8,"
		" \"vms\": [\"a\", \"b\"], \"posted_writes\": true,"
		" \"options\": {\"output\": \"none\"}, \"comment\": \"x\"}]}");

	assert_int_equal(cfg->max_clients, 5);
	assert_int_equal(cfg->nregions, 1);
	assert_int_equal(cfg->regions[0].bus, CONFIG_BUS_PIO);
	assert_int_equal(cfg->regions[0].address, 0x3f8);
	assert_true(cfg->regions[0].posted_writes);
	assert_int_equal(cfg->regions[0].nvms, 2);
	assert_int_equal(config_region_vm_index(&cfg->regions[0], "b"), 1);
	assert_int_equal(config_region_vm_index(&cfg->regions[0], "c"), -1);
	config_free(cfg);
}

static void test_every_defect_has_a_path(void **state)
{
	config_refused("{", "(config):1:");
	config_refused("[]", "(root): expected an object");
	config_refused("{}", "regions: missing");
	config_refused("{\"regions\": [], \"extra\": 1}", "(root).extra: unknown key");
	config_refused(REGION(", \"colour\": 1"), "regions[0].colour: unknown key");
	config_refused("{\"regions\": [{}]}", "regions[0].name: missing");
	config_refused("{\"regions\": [7]}", "regions[0]: expected an object");
	config_refused(REGION(", \"posted_writes\": 1"),
		       "regions[0].posted_writes: expected true or false");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"isa\","
		       " \"address\": 0, \"size\": 16, \"vms\": [\"v\"]}]}",
		       "regions[0].bus: \"isa\" is not mmio or pio");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"gpu\", \"bus\": \"mmio\","
		       " \"address\": 0, \"size\": 16, \"vms\": [\"v\"]}]}",
		       "regions[0].device: unknown device \"gpu\"");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": \"0xzz\", \"size\": 16, \"vms\": [\"v\"]}]}",
		       "regions[0].address: \"0xzz\" is not a number");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": -1, \"size\": 16, \"vms\": [\"v\"]}]}",
		       "regions[0].address: must not be negative");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": \"0xfffffffffffffff8\", \"size\": 16, \"vms\": [\"v\"]}]}",
		       "wraps around");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"pio\","
		       " \"address\": \"0xfff8\", \"size\": 16, \"vms\": [\"v\"]}]}",
		       "beyond the 64 KiB port space");
	/* Ends at 2^64: no wrap in the sum, still far outside port space. */
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"pio\","
		       " \"address\": \"0xffffffffffffff00\", \"size\": 256, \"vms\": [\"v\"]}]}",
		       "regions[0].address: 0xffffffffffffff00+0x100 is beyond the 64 KiB port space");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"pio\","
		       " \"address\": \"0x10000\", \"size\": 1, \"vms\": [\"v\"]}]}",
		       "beyond the 64 KiB port space");
	config_free(config_ok("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"pio\","
			      " \"address\": 0, \"size\": \"0x10000\", \"vms\": [\"v\"]}]}"));
	/* MMIO may end exactly at 2^64, not past it. */
	config_free(config_ok("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
			      " \"address\": \"0xfffffffffffff000\", \"size\": 4096, \"vms\": [\"v\"]}]}"));
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": \"0xfffffffffffff001\", \"size\": 4096, \"vms\": [\"v\"]}]}",
		       "wraps around");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"uart16550\", \"bus\": \"pio\","
		       " \"address\": \"0x3f8\", \"size\": 16, \"vms\": [\"v\"]}]}",
		       "regions[0].size: uart16550 has exactly 8 registers");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": 0, \"size\": 0, \"vms\": [\"v\"]}]}",
		       "regions[0].size: must not be zero");
	config_refused(REGION(", \"options\": {\"fill\": 300}"),
		       "regions[0].options.fill");
	config_refused(REGION(", \"options\": []"), "regions[0].options: expected an object");
	config_refused("{\"regions\": [{\"name\": \"a b\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": 0, \"size\": 16, \"vms\": [\"v\"]}]}",
		       "regions[0].name: \"a b\" is not a name");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": 0, \"size\": 16, \"vms\": []}]}",
		       "regions[0].vms: expected an array of 1..64 VM names");
	config_refused("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		       " \"address\": 0, \"size\": 16, \"vms\": [\"v\", \"v\"]}]}",
		       "regions[0].vms[1]: \"v\" listed twice");
	config_refused("{\"regions\": [], \"regions\": []}", "duplicate object key");
	config_refused("{\"daemon\": {\"max_clients\": 0}, \"regions\": []}",
		       "daemon.max_clients: must be 1..65536");
}

static void test_overlaps_and_names(void **state)
{
	/* Same range, different VMs: fine. Same VM: refused. */
	config_free(config_ok(
		"{\"regions\": ["
		"{\"name\": \"uart0\", \"device\": \"uart16550\", \"bus\": \"pio\","
		" \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm1\"], \"options\": {\"output\": \"none\"}},"
		"{\"name\": \"uart1\", \"device\": \"uart16550\", \"bus\": \"pio\","
		" \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm2\"], \"options\": {\"output\": \"none\"}},"
		"{\"name\": \"m\", \"device\": \"ram\", \"bus\": \"mmio\","
		" \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm1\"]}]}"));
	config_refused(
		"{\"regions\": ["
		"{\"name\": \"uart0\", \"device\": \"uart16550\", \"bus\": \"pio\","
		" \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm1\"], \"options\": {\"output\": \"none\"}},"
		"{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"pio\","
		" \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm0\", \"vm1\"]},"
		"{\"name\": \"uart0\", \"device\": \"ram\", \"bus\": \"pio\","
		" \"address\": \"0x100\", \"size\": 8, \"vms\": [\"vm9\"]}]}",
		"regions[1].address: 0x3f8+8 overlaps region \"uart0\" of VM \"vm1\"");
	config_refused(
		"{\"regions\": ["
		"{\"name\": \"a\", \"device\": \"ram\", \"bus\": \"pio\","
		" \"address\": 0, \"size\": 8, \"vms\": [\"v\"]},"
		"{\"name\": \"a\", \"device\": \"ram\", \"bus\": \"pio\","
		" \"address\": 16, \"size\": 8, \"vms\": [\"w\"]}]}",
		"regions[1].name: \"a\" is already the name of regions[0]");
}

#define UART(name, vm, extra) \
	"{\"name\": \"" name "\", \"device\": \"uart16550\", \"bus\": \"pio\"," \
	" \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"" vm "\"]," \
	" \"options\": {\"output\": \"none\"}" extra "}"

static void test_irq_and_input(void **state)
{
	struct config *cfg = config_ok("{\"regions\": ["
		UART("a", "vm0", ", \"irq\": 4, \"input\": {\"socket\": \"/run/a.sock\"}")
		"]}");

	assert_true(cfg->regions[0].has_irq);
	assert_int_equal(cfg->regions[0].irq, 4);
	assert_string_equal(cfg->regions[0].input_socket, "/run/a.sock");
	config_free(cfg);
	cfg = config_ok(REGION(""));
	assert_false(cfg->regions[0].has_irq);
	assert_null(cfg->regions[0].input_socket);
	config_free(cfg);
	config_refused(REGION(", \"irq\": -1"), "regions[0].irq: expected a line number 0..1023");
	config_refused(REGION(", \"irq\": \"4\""), "regions[0].irq: expected a line number");
	config_refused(REGION(", \"input\": {\"socket\": \"/run/r.sock\"}"),
		       "regions[0].input: device \"ram\" takes no input");
	config_refused("{\"regions\": [" UART("a", "vm0", ", \"input\": {\"socket\": \"rel.sock\"}") "]}",
		       "regions[0].input.socket: \"rel.sock\" is not an absolute path");
	config_refused("{\"regions\": [" UART("a", "vm0", ", \"input\": {\"pty\": true}") "]}",
		       "regions[0].input.pty: unknown key");
	config_refused("{\"regions\": ["
		       UART("a", "vm0", ", \"input\": {\"socket\": \"/run/c.sock\"}") ","
		       UART("b", "vm1", ", \"input\": {\"socket\": \"/run/c.sock\"}") "]}",
		       "regions[1].input.socket: \"/run/c.sock\" is already the console of regions[0]");
}

static void test_all_errors_reported(void **state)
{
	struct config_errors errs = { 0 };

	assert_null(config_parse(
		"{\"regions\": [{\"name\": 1}, {\"name\": \"x\", \"bus\": 3}],"
		" \"bogus\": 1}", &errs));
	/* name, device, bus, address, size, vms of [0]; device, bus, ... of [1]. */
	assert_true(errs.count >= 10);
	config_errors_clear(&errs);
}

static void test_access_rules(void **state)
{
	struct config *cfg = config_ok(
		"{\"access\": [{\"uid\": 1000, \"vms\": [\"vm1\", \"*\"], \"admin\": true},"
		"              {\"group\": \"root\"}],"
		" \"regions\": []}");

	assert_true(cfg->has_access);
	assert_int_equal(cfg->naccess, 2);
	assert_true(cfg->access[0].has_uid);
	assert_true(cfg->access[0].all_vms);
	assert_true(cfg->access[0].admin);
	assert_true(cfg->access[1].has_gid);
	assert_int_equal(cfg->access[1].gid, 0);
	config_free(cfg);
	config_refused("{\"access\": [{\"vms\": [\"x\"]}], \"regions\": []}",
		       "access[0]: needs uid, user, gid or group");
	config_refused("{\"access\": [{\"user\": \"no-such-user-here\"}], \"regions\": []}",
		       "access[0].user: no such user");
	config_refused("{\"access\": [{\"uid\": 0, \"gid\": 0, \"group\": \"root\"}], \"regions\": []}",
		       "access[0]: give gid or group, not both");
	config_refused("{\"access\": {}, \"regions\": []}", "access: expected an array");
}

static void test_region_equality(void **state)
{
	struct config *a = config_ok(REGION(""));
	struct config *b = config_ok(REGION(""));
	struct config *c = config_ok(REGION(", \"options\": {\"fill\": 1}"));

	assert_true(config_region_equal(&a->regions[0], &b->regions[0]));
	assert_false(config_region_equal(&a->regions[0], &c->regions[0]));
	config_free(a);
	config_free(b);
	config_free(c);
	/* Equal in meaning: spelling, key order and comments do not count. */
	a = config_ok("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"pio\","
		      " \"address\": \"0x3f8\", \"size\": \"0x8\", \"vms\": [\"v\"],"
		      " \"comment\": \"old\", \"options\": {\"fill\": 0}}]}");
	b = config_ok("{\"regions\": [{\"comment\": \"new\", \"vms\": [\"v\"], \"size\": 8,"
		      " \"address\": 1016, \"bus\": \"pio\", \"device\": \"ram\", \"name\": \"r\","
		      " \"posted_writes\": false, \"options\": {\"fill\": 0}}]}");
	c = config_ok("{\"regions\": [{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"pio\","
		      " \"address\": 1016, \"size\": 8, \"vms\": [\"v\", \"w\"]}]}");
	assert_true(config_region_equal(&a->regions[0], &b->regions[0]));
	assert_false(config_region_equal(&b->regions[0], &c->regions[0]));
	config_free(a);
	config_free(b);
	config_free(c);
}

/* A file that cannot be opened is named with the reason, no position. */
static void test_unopenable_file(void **state)
{
	struct config_errors errs = { 0 };
	const char *path = EXAMPLES_DIR "/no-such-config.json";
	char want[512];

	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_null(config_load(path, &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.lines[0], want);
	config_errors_clear(&errs);
}

/* poll_us: per region and daemon-wide, in range, reloaded in place. */
static void test_poll_us(void **state)
{
	struct config *cfg, *other;

	(void)state;
	cfg = config_ok(REGION(""));
	assert_false(cfg->regions[0].has_poll_us);
	assert_int_equal(cfg->poll_us, CONFIG_POLL_US);
	config_free(cfg);
	cfg = config_ok(REGION(", \"poll_us\": 1000"));
	assert_true(cfg->regions[0].has_poll_us);
	assert_int_equal(cfg->regions[0].poll_us, 1000);
	other = config_ok(REGION(""));
	/* A reload that changes only poll_us keeps the region. */
	assert_true(config_region_equal(&cfg->regions[0], &other->regions[0]));
	config_free(other);
	config_free(cfg);
	cfg = config_ok("{\"daemon\": {\"poll_us\": 0}, \"regions\": []}");
	assert_int_equal(cfg->poll_us, 0);
	config_free(cfg);
	config_refused(REGION(", \"poll_us\": 1001"),
		       "regions[0].poll_us: expected microseconds 0..1000");
	config_refused(REGION(", \"poll_us\": -1"), "regions[0].poll_us");
	config_refused(REGION(", \"poll_us\": \"50\""), "regions[0].poll_us");
	config_refused("{\"daemon\": {\"poll_us\": 5000}, \"regions\": []}",
		       "daemon.poll_us: must be 0..1000");
}

static void test_examples_load(void **state)
{
	DIR *dir = opendir(EXAMPLES_DIR);
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir))) {
		struct config_errors errs = { 0 };
		struct config *cfg;
		char path[512];

		if (!strstr(e->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", EXAMPLES_DIR, e->d_name);
		cfg = config_load(path, &errs);
		if (!cfg)
			fail_msg("%s: %s", path, errs.lines[0]);
		config_free(cfg);
		n++;
	}
	closedir(dir);
	assert_true(n >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_default),
		cmocka_unit_test(test_region_fields),
		cmocka_unit_test(test_every_defect_has_a_path),
		cmocka_unit_test(test_overlaps_and_names),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_access_rules),
		cmocka_unit_test(test_region_equality),
		cmocka_unit_test(test_unopenable_file),
		cmocka_unit_test(test_examples_load),
		cmocka_unit_test(test_poll_us),
		cmocka_unit_test(test_irq_and_input),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
