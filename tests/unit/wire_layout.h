/* SPDX-License-Identifier: MIT */
/*
 * The facts of the ioregion wire frames that both definitions must agree
 * on: protocol/ioregion.h and the kernel series' include/uapi/linux/
 * ioregion.h. Each is read in its own translation unit, since they use the
 * same names.
 */
#ifndef WIRE_LAYOUT_H
#define WIRE_LAYOUT_H

#include <stddef.h>

struct wire_layout {
	size_t cmd_size, cmd_cmd, cmd_info, cmd_pad, cmd_user_data, cmd_offset,
		cmd_data;
	size_t resp_size, resp_data, resp_pad;
	unsigned int cmd_read, cmd_write;
	unsigned int size_shift, size_mask, resp_shift, resp_bit, reserved_mask;
	unsigned int size_exp[4]; /* IOREGION_SIZE_1 .. IOREGION_SIZE_8 */
	unsigned int frame_size;
};

/* From the kernel series (tests/unit/kernel_wire.c). */
extern const struct wire_layout kernel_wire;

#define WIRE_LAYOUT_OF_HEADER                                               \
	{                                                                   \
		sizeof(struct ioregion_cmd),                                \
		offsetof(struct ioregion_cmd, cmd),                         \
		offsetof(struct ioregion_cmd, info),                        \
		offsetof(struct ioregion_cmd, pad),                         \
		offsetof(struct ioregion_cmd, user_data),                   \
		offsetof(struct ioregion_cmd, offset),                      \
		offsetof(struct ioregion_cmd, data),                        \
		sizeof(struct ioregion_resp),                               \
		offsetof(struct ioregion_resp, data),                       \
		offsetof(struct ioregion_resp, pad),                        \
		IOREGION_CMD_READ, IOREGION_CMD_WRITE,                      \
		IOREGION_INFO_SIZE_SHIFT, IOREGION_INFO_SIZE_MASK,          \
		IOREGION_INFO_RESP_SHIFT, IOREGION_INFO_RESP,               \
		IOREGION_INFO_RESERVED_MASK,                                \
		{ IOREGION_SIZE_1, IOREGION_SIZE_2, IOREGION_SIZE_4,        \
		  IOREGION_SIZE_8 },                                        \
		IOREGION_FRAME_SIZE,                                        \
	}

#endif
