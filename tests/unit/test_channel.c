/* SPDX-License-Identifier: MIT */
/* The data path's frame handling, without sockets: ordering, batching,
 * responses and error answers. */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "channel.h"
#include "region.h"
#include "vm.h"

struct fixture {
	struct ioregiond d;
	struct region *region;
	struct vm *vm;
	struct channel *ch;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct config_errors errs = { 0 };
	struct config *cfg = config_parse(
		"{\"regions\": [{\"name\": \"bell\", \"device\": \"doorbell\","
		" \"bus\": \"mmio\", \"address\": 0, \"size\": 4096,"
		" \"vms\": [\"vm0\"], \"posted_writes\": true}]}", &errs);

	assert_non_null(cfg);
	TAILQ_INIT(&f->d.regions);
	TAILQ_INIT(&f->d.vms);
	TAILQ_INIT(&f->d.sessions);
	f->region = region_new(&f->d, &cfg->regions[0], false, &errs);
	assert_non_null(f->region);
	config_free(cfg);
	f->vm = vm_get(&f->d, "vm0");
	f->ch = vm_channel(f->vm, "bell");
	/* Serve frames without a socket: bind the channel by hand. */
	f->ch->region = f->region;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->ch->region = NULL;
	vm_free_all(&f->d);
	region_free(f->region);
	free(f);
	return 0;
}

static struct ioregion_cmd frame(uint8_t cmd, uint64_t off, bool resp,
				 uint64_t data)
{
	return ioregion_cmd_make(cmd, IOREGION_SIZE_8, resp, 0, off, data);
}

static void test_posted_then_read_in_order(void **state)
{
	struct fixture *f = *state;
	struct ioregion_cmd in[10];
	unsigned int i;

	for (i = 0; i < 8; i++)
		in[i] = frame(IOREGION_CMD_WRITE, 0, false, i);
	in[8] = frame(IOREGION_CMD_READ, 0x400, true, 0);	/* total */
	in[9] = frame(IOREGION_CMD_WRITE, 8, false, 9);
	assert_int_equal(channel_serve(f->ch, (uint8_t *)in, sizeof(in)),
			 sizeof(in));
	/* The read saw all eight writes before it; one response only. */
	assert_int_equal(f->ch->out_len, sizeof(struct ioregion_resp));
	assert_int_equal(f->ch->out[0].data, 8);
	assert_int_equal(f->ch->counters.posted, 9);
	assert_int_equal(f->ch->counters.batches, 2);
	assert_int_equal(f->ch->counters.reads, 1);
}

static void test_partial_frame_left(void **state)
{
	struct fixture *f = *state;
	struct ioregion_cmd in[2] = {
		frame(IOREGION_CMD_WRITE, 0, false, 1),
		frame(IOREGION_CMD_WRITE, 0, false, 2),
	};

	assert_int_equal(channel_serve(f->ch, (uint8_t *)in, 50), 32);
	assert_int_equal(f->ch->counters.posted, 1);
}

static void test_errors_answered(void **state)
{
	struct fixture *f = *state;
	struct ioregion_cmd in[4] = {
		frame(9, 0, true, 0),				/* bad cmd */
		frame(IOREGION_CMD_READ, 0x800, true, 0),	/* refused read */
		frame(IOREGION_CMD_WRITE, 0x200, true, 5),	/* refused write */
		frame(IOREGION_CMD_READ, 0, false, 0),		/* no resp bit */
	};

	channel_serve(f->ch, (uint8_t *)in, sizeof(in));
	assert_int_equal(f->ch->out_len, 3 * sizeof(struct ioregion_resp));
	assert_int_equal(f->ch->out[0].data, UINT64_MAX);
	assert_int_equal(f->ch->out[1].data, UINT64_MAX);
	assert_int_equal(f->ch->out[2].data, 0);
	assert_int_equal(f->ch->counters.errors, 4);
}

static void test_write_data_cut_to_size(void **state)
{
	struct fixture *f = *state;
	struct ioregion_cmd in[2];

	in[0] = ioregion_cmd_make(IOREGION_CMD_WRITE, IOREGION_SIZE_2, true, 0,
				  0, 0x123456789ull);
	in[1] = frame(IOREGION_CMD_READ, 0, true, 0);
	channel_serve(f->ch, (uint8_t *)in, sizeof(in));
	assert_int_equal(f->ch->out[1].data, 0x6789);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_posted_then_read_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_frame_left, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_data_cut_to_size, setup, teardown),
	};

	return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
