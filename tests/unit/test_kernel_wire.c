/* SPDX-License-Identifier: MIT */
/*
 * protocol/ioregion.h and the kernel series' include/uapi/linux/ioregion.h
 * define the same frames: sizes, offsets, constants, and the info byte as
 * each side encodes it.
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ioregion.h"
#include "wire_layout.h"

static const struct wire_layout user_wire = WIRE_LAYOUT_OF_HEADER;

static void test_frames_same_layout(void **state)
{
	(void)state;
	assert_int_equal(kernel_wire.cmd_size, user_wire.cmd_size);
	assert_int_equal(kernel_wire.cmd_cmd, user_wire.cmd_cmd);
	assert_int_equal(kernel_wire.cmd_info, user_wire.cmd_info);
	assert_int_equal(kernel_wire.cmd_pad, user_wire.cmd_pad);
	assert_int_equal(kernel_wire.cmd_user_data, user_wire.cmd_user_data);
	assert_int_equal(kernel_wire.cmd_offset, user_wire.cmd_offset);
	assert_int_equal(kernel_wire.cmd_data, user_wire.cmd_data);
	assert_int_equal(kernel_wire.resp_size, user_wire.resp_size);
	assert_int_equal(kernel_wire.resp_data, user_wire.resp_data);
	assert_int_equal(kernel_wire.resp_pad, user_wire.resp_pad);
	assert_int_equal(kernel_wire.frame_size, user_wire.frame_size);
	assert_int_equal(kernel_wire.cmd_size, 32);
	assert_int_equal(kernel_wire.resp_size, 32);
}

static void test_constants_same(void **state)
{
	int i;

	(void)state;
	assert_int_equal(kernel_wire.cmd_read, user_wire.cmd_read);
	assert_int_equal(kernel_wire.cmd_write, user_wire.cmd_write);
	assert_int_equal(kernel_wire.size_shift, user_wire.size_shift);
	assert_int_equal(kernel_wire.size_mask, user_wire.size_mask);
	assert_int_equal(kernel_wire.resp_shift, user_wire.resp_shift);
	assert_int_equal(kernel_wire.resp_bit, user_wire.resp_bit);
	assert_int_equal(kernel_wire.reserved_mask, user_wire.reserved_mask);
	for (i = 0; i < 4; i++)
		assert_int_equal(kernel_wire.size_exp[i], user_wire.size_exp[i]);
	/* the three fields of the info byte cover it exactly once */
	assert_int_equal((kernel_wire.size_mask << kernel_wire.size_shift) |
				 kernel_wire.resp_bit | kernel_wire.reserved_mask,
			 0xff);
	assert_int_equal((kernel_wire.size_mask << kernel_wire.size_shift) &
				 kernel_wire.resp_bit,
			 0);
}

/* What the kernel writes (shifts of its constants) is what userspace
 * decodes, and what userspace encodes is what the kernel would write. */
static void test_info_byte_encoding(void **state)
{
	unsigned int exp, resp;

	(void)state;
	for (exp = 0; exp < 4; exp++) {
		for (resp = 0; resp < 2; resp++) {
			uint8_t k = (uint8_t)((kernel_wire.size_exp[exp]
					       << kernel_wire.size_shift) |
					      (resp ? kernel_wire.resp_bit : 0));

			assert_int_equal(ioregion_info_encode(exp, resp), k);
			assert_int_equal(ioregion_info_size_exp(k), exp);
			assert_int_equal(ioregion_info_resp(k), resp);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_same_layout),
		cmocka_unit_test(test_constants_same),
		cmocka_unit_test(test_info_byte_encoding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
