/* SPDX-License-Identifier: MIT */
/*
 * ioregion wire frames: what KVM (or libioregion's fallback path) writes to a
 * region fd for each guest access, and what the device server answers.
 *
 * Host byte order, fixed 32-byte frames, no framing header. The kernel
 * series defines the same frames in include/uapi/linux/ioregion.h; a test
 * compiles both and compares them.
 */
#ifndef IOREGION_H
#define IOREGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IOREGION_CMD_READ 0
#define IOREGION_CMD_WRITE 1

/*
 * The info byte. Written with shifts and masks, never bitfields, so the
 * layout is the same on every ABI and equals the RFC v3 bitfield layout on
 * little-endian hosts.
 */
#define IOREGION_INFO_SIZE_SHIFT 0
#define IOREGION_INFO_SIZE_MASK 0x0fu
#define IOREGION_INFO_RESP_SHIFT 4
#define IOREGION_INFO_RESP (1u << IOREGION_INFO_RESP_SHIFT)
#define IOREGION_INFO_RESERVED_MASK 0xe0u

#define IOREGION_SIZE_1 0
#define IOREGION_SIZE_2 1
#define IOREGION_SIZE_4 2
#define IOREGION_SIZE_8 3
#define IOREGION_SIZE_MAX_EXP IOREGION_SIZE_8

#define IOREGION_FRAME_SIZE 32

struct ioregion_cmd {
	uint8_t cmd;
	uint8_t info;
	uint8_t pad[6];
	uint64_t user_data;
	uint64_t offset;
	uint64_t data;
};

struct ioregion_resp {
	uint64_t data;
	uint8_t pad[24];
};

_Static_assert(sizeof(struct ioregion_cmd) == IOREGION_FRAME_SIZE, "cmd size");
_Static_assert(offsetof(struct ioregion_cmd, cmd) == 0, "cmd.cmd");
_Static_assert(offsetof(struct ioregion_cmd, info) == 1, "cmd.info");
_Static_assert(offsetof(struct ioregion_cmd, pad) == 2, "cmd.pad");
_Static_assert(offsetof(struct ioregion_cmd, user_data) == 8, "cmd.user_data");
_Static_assert(offsetof(struct ioregion_cmd, offset) == 16, "cmd.offset");
_Static_assert(offsetof(struct ioregion_cmd, data) == 24, "cmd.data");
_Static_assert(sizeof(struct ioregion_resp) == IOREGION_FRAME_SIZE, "resp size");
_Static_assert(offsetof(struct ioregion_resp, data) == 0, "resp.data");
_Static_assert(offsetof(struct ioregion_resp, pad) == 8, "resp.pad");

/* Why a command was refused; each defect has its own code. */
enum ioregion_check {
	IOREGION_CHECK_OK = 0,
	IOREGION_CHECK_BAD_CMD,        /* cmd is neither READ nor WRITE */
	IOREGION_CHECK_BAD_SIZE,       /* size exponent > 3 */
	IOREGION_CHECK_READ_NO_RESP,   /* a read must want a response */
};

static inline uint8_t ioregion_info_encode(unsigned int size_exp, bool resp)
{
	return (uint8_t)(((size_exp & IOREGION_INFO_SIZE_MASK)
			  << IOREGION_INFO_SIZE_SHIFT) |
			 (resp ? IOREGION_INFO_RESP : 0));
}

static inline unsigned int ioregion_info_size_exp(uint8_t info)
{
	return (info >> IOREGION_INFO_SIZE_SHIFT) & IOREGION_INFO_SIZE_MASK;
}

static inline bool ioregion_info_resp(uint8_t info)
{
	return info & IOREGION_INFO_RESP;
}

/* Access size in bytes (1, 2, 4, 8) for a valid exponent. */
static inline unsigned int ioregion_size_bytes(unsigned int size_exp)
{
	return 1u << size_exp;
}

/* Exponent for an access size in bytes, or -1 if KVM cannot produce it. */
static inline int ioregion_size_exp(unsigned int bytes)
{
	switch (bytes) {
	case 1: return IOREGION_SIZE_1;
	case 2: return IOREGION_SIZE_2;
	case 4: return IOREGION_SIZE_4;
	case 8: return IOREGION_SIZE_8;
	default: return -1;
	}
}

/* Mask of the low `bytes` bytes of a 64-bit value. */
static inline uint64_t ioregion_size_mask(unsigned int bytes)
{
	return bytes >= 8 ? UINT64_MAX : (UINT64_C(1) << (bytes * 8)) - 1;
}

/* Reserved info bits and pad are ignored on receive, as the protocol says. */
static inline enum ioregion_check
ioregion_cmd_check(const struct ioregion_cmd *c)
{
	if (c->cmd != IOREGION_CMD_READ && c->cmd != IOREGION_CMD_WRITE)
		return IOREGION_CHECK_BAD_CMD;
	if (ioregion_info_size_exp(c->info) > IOREGION_SIZE_MAX_EXP)
		return IOREGION_CHECK_BAD_SIZE;
	if (c->cmd == IOREGION_CMD_READ && !ioregion_info_resp(c->info))
		return IOREGION_CHECK_READ_NO_RESP;
	return IOREGION_CHECK_OK;
}

static inline const char *ioregion_check_str(enum ioregion_check check)
{
	switch (check) {
	case IOREGION_CHECK_OK: return "ok";
	case IOREGION_CHECK_BAD_CMD: return "unknown command";
	case IOREGION_CHECK_BAD_SIZE: return "size exponent above 3";
	case IOREGION_CHECK_READ_NO_RESP: return "read without response bit";
	}
	return "unknown defect";
}

/* A command with every reserved field zero, as senders must produce it. */
static inline struct ioregion_cmd ioregion_cmd_make(uint8_t cmd,
						    unsigned int size_exp,
						    bool resp,
						    uint64_t user_data,
						    uint64_t offset,
						    uint64_t data)
{
	struct ioregion_cmd c = {
		.cmd = cmd,
		.info = ioregion_info_encode(size_exp, resp),
		.user_data = user_data,
		.offset = offset,
		.data = data,
	};
	return c;
}

#endif /* IOREGION_H */
