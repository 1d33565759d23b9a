/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "control_io.h"
#include "ioregion.h"

static void test_info_byte_layout(void **state)
{
	/* Bits 0-3 size exponent, bit 4 response: the RFC v3 bitfield
	 * layout on little-endian hosts. */
	assert_int_equal(ioregion_info_encode(IOREGION_SIZE_1, false), 0x00);
	assert_int_equal(ioregion_info_encode(IOREGION_SIZE_8, false), 0x03);
	assert_int_equal(ioregion_info_encode(IOREGION_SIZE_4, true), 0x12);
	assert_int_equal(ioregion_info_encode(IOREGION_SIZE_2, true), 0x11);
	assert_int_equal(ioregion_info_size_exp(0x13), 3);
	assert_true(ioregion_info_resp(0x10));
	assert_false(ioregion_info_resp(0xef));
}

static void test_sizes(void **state)
{
	unsigned int bytes;

	for (bytes = 0; bytes <= 16; bytes++) {
		int exp = ioregion_size_exp(bytes);

		if (bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8)
			assert_int_equal(ioregion_size_bytes((unsigned int)exp), bytes);
		else
			assert_int_equal(exp, -1);
	}
	assert_int_equal(ioregion_size_mask(1), 0xff);
	assert_int_equal(ioregion_size_mask(2), 0xffff);
	assert_int_equal(ioregion_size_mask(4), 0xffffffffu);
	assert_int_equal(ioregion_size_mask(8), UINT64_MAX);
}

static void test_frame_bytes(void **state)
{
	struct ioregion_cmd c = ioregion_cmd_make(IOREGION_CMD_WRITE,
						  IOREGION_SIZE_4, true,
						  0x1122334455667788ull, 0x10,
						  0xcafe);
	uint8_t raw[32];

	memcpy(raw, &c, sizeof(raw));
	assert_int_equal(raw[0], 1);
	assert_int_equal(raw[1], 0x12);
	for (int i = 2; i < 8; i++)
		assert_int_equal(raw[i], 0);
	assert_memory_equal(raw + 8, &c.user_data, 8);
	assert_memory_equal(raw + 16, &c.offset, 8);
	assert_memory_equal(raw + 24, &c.data, 8);
}

static void test_check_each_defect(void **state)
{
	struct ioregion_cmd c;

	c = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_8, true, 0, 0, 0);
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_OK);
	c.cmd = 2;
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_BAD_CMD);
	c.cmd = 0xff;
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_BAD_CMD);
	c = ioregion_cmd_make(IOREGION_CMD_WRITE, 0, false, 0, 0, 0);
	c.info = 4;
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_BAD_SIZE);
	c.info = 0x0f | IOREGION_INFO_RESP;
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_BAD_SIZE);
	c = ioregion_cmd_make(IOREGION_CMD_READ, IOREGION_SIZE_4, false, 0, 0, 0);
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_READ_NO_RESP);
	/* A posted write is fine; reserved bits and pad are ignored. */
	c = ioregion_cmd_make(IOREGION_CMD_WRITE, IOREGION_SIZE_4, false, 0, 0, 0);
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_OK);
	c.info |= IOREGION_INFO_RESERVED_MASK;
	memset(c.pad, 0xff, sizeof(c.pad));
	assert_int_equal(ioregion_cmd_check(&c), IOREGION_CHECK_OK);
	assert_string_equal(ioregion_check_str(IOREGION_CHECK_BAD_SIZE),
			    "size exponent above 3");
}

static void test_names(void **state)
{
	char longname[IOREGION_NAME_MAX + 2];

	assert_true(control_name_valid("vm0"));
	assert_true(control_name_valid("a.b_c-D9"));
	assert_false(control_name_valid(""));
	assert_false(control_name_valid(NULL));
	assert_false(control_name_valid("a/b"));
	assert_false(control_name_valid("a b"));
	assert_false(control_name_valid("caf\xc3\xa9"));
	memset(longname, 'x', sizeof(longname));
	longname[IOREGION_NAME_MAX] = '\0';
	assert_true(control_name_valid(longname));
	longname[IOREGION_NAME_MAX] = 'x';
	longname[IOREGION_NAME_MAX + 1] = '\0';
	assert_false(control_name_valid(longname));
}

static void test_message_checks(void **state)
{
	Ior__ClientMessage m = IOR__CLIENT_MESSAGE__INIT;
	Ior__Hello hello = IOR__HELLO__INIT;
	Ior__OpenRegion open = IOR__OPEN_REGION__INIT;

	assert_string_equal(control_client_message_check(&m), "message has no body");
	{
		/* id 7 and field 31, a request of a later protocol. */
		static const uint8_t later[] = { 0x08, 0x07, 0xfa, 0x01, 0x00 };
		Ior__ClientMessage *u = ior__client_message__unpack(
			NULL, sizeof(later), later);

		assert_non_null(u);
		assert_int_equal(u->body_case, IOR__CLIENT_MESSAGE__BODY__NOT_SET);
		assert_string_equal(control_client_message_check(u),
				    "unknown request type");
		ior__client_message__free_unpacked(u, NULL);
	}
	m.body_case = IOR__CLIENT_MESSAGE__BODY_HELLO;
	m.hello = &hello;
	hello.client_name = "qemu";
	assert_null(control_client_message_check(&m));
	hello.vm_name = "";
	assert_null(control_client_message_check(&m));
	hello.vm_name = "../x";
	assert_non_null(control_client_message_check(&m));
	hello.client_name = "";
	hello.vm_name = NULL;
	assert_non_null(control_client_message_check(&m));
	m.body_case = IOR__CLIENT_MESSAGE__BODY_OPEN_REGION;
	m.open_region = &open;
	open.name = "";
	assert_non_null(control_client_message_check(&m));
}

static void test_packets_and_fds(void **state)
{
	Ior__ClientMessage m = IOR__CLIENT_MESSAGE__INIT;
	Ior__Subscribe sub = IOR__SUBSCRIBE__INIT;
	uint8_t buf[128], small[2];
	int sv[2], pair[2], fd;
	ssize_t n;
	Ior__ClientMessage *back;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	m.id = 77;
	m.body_case = IOR__CLIENT_MESSAGE__BODY_SUBSCRIBE;
	m.subscribe = &sub;
	assert_int_equal(control_send(sv[0], &m.base, pair[0]), 0);
	n = control_recv(sv[1], buf, sizeof(buf), &fd, 0);
	assert_true(n > 0);
	assert_true(fd >= 0);
	back = ior__client_message__unpack(NULL, (size_t)n, buf);
	assert_non_null(back);
	assert_int_equal(back->id, 77);
	assert_int_equal(back->body_case, IOR__CLIENT_MESSAGE__BODY_SUBSCRIBE);
	ior__client_message__free_unpacked(back, NULL);
	/* The fd works: it is the other end's peer. */
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(pair[1], buf, 1), 1);
	close(fd);
	/* Unwanted fds are closed; oversize packets are refused. */
	assert_int_equal(control_send(sv[0], &m.base, pair[0]), 0);
	assert_true(control_recv(sv[1], buf, sizeof(buf), NULL, 0) > 0);
	assert_int_equal(control_send(sv[0], &m.base, pair[0]), 0);
	assert_int_equal(control_recv(sv[1], small, sizeof(small), &fd, 0), -EMSGSIZE);
	assert_int_equal(fd, -1);
	assert_int_equal(control_recv(sv[1], buf, sizeof(buf), NULL, MSG_DONTWAIT), -EAGAIN);
	close(sv[0]);
	assert_int_equal(control_recv(sv[1], buf, sizeof(buf), NULL, 0), 0);
	close(sv[1]);
	close(pair[0]);
	close(pair[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_byte_layout),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_frame_bytes),
		cmocka_unit_test(test_check_each_defect),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_message_checks),
		cmocka_unit_test(test_packets_and_fds),
	};

	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
