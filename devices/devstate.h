/* SPDX-License-Identifier: MIT */
/*
 * A device's state as one versioned record: the one serializer behind the
 * fd-store restart and migration. The header names the device type, the
 * model's state format version, the region and its size, so a record is
 * refused whole (never half-applied) when it belongs to another device;
 * the body is what the model's save wrote, then with DEVSTATE_MEMORY its
 * bulk memory (the region's size in bytes). Format in docs/protocol.md.
 */
#ifndef DEVSTATE_H
#define DEVSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "ioregion_common.h"
#include "statebuf.h"

#define DEVSTATE_MAGIC "IORDEVST"
#define DEVSTATE_VERSION 1

/* One VM's part of a shared device (device_ops.save_vm). */
#define DEVSTATE_VM_PART (1u << 0)
/* The bulk memory (device_ops.memory_fd) follows the state. */
#define DEVSTATE_MEMORY (1u << 1)
#define DEVSTATE_FLAGS (DEVSTATE_VM_PART | DEVSTATE_MEMORY)

/* A parsed record; state points into the buffer it was parsed from. */
struct devstate_record {
	char device[IOREGION_NAME_MAX + 1];
	char region[IOREGION_NAME_MAX + 1];
	uint32_t version;	/* the model's state format version */
	uint32_t flags;
	uint64_t size;		/* the region's */
	const uint8_t *state;
	size_t len;
};

/* Writes dev's record into sb: the whole device, or with DEVSTATE_VM_PART
 * requester's part. Returns 0, -ENOTSUP (no per-VM part in the model),
 * -EIO (its memory could not be read) or -ENOSPC (sb too small). */
int devstate_save(struct device *dev, const char *region, uint64_t size,
		  unsigned int flags, unsigned int requester,
		  struct statebuf *sb);
/* Reads the record at sb's position and moves past it. Returns 0, or
 * -EBADMSG with why set (not a record, truncated, malformed header). */
int devstate_parse(struct statebuf *sb, struct devstate_record *rec,
		   char *why, size_t whylen);
/* Whether rec is the state of this device: its type, region, size, a
 * format version the model has, flags it can take. 0 or -errno with why:
 * -EPROTO (version), -EINVAL (another device or size), -ENOTSUP. */
int devstate_check(const struct devstate_record *rec,
		   const struct device *dev, const char *region,
		   uint64_t size, char *why, size_t whylen);
/* Checks rec and restores it into a scratch instance of the same config
 * (options, requesters); of the live device only the memory a record
 * carries is allocated, its bytes untouched. 0 when applying it will
 * take, else -errno with why. */
int devstate_validate(const struct devstate_record *rec,
		      struct device *dev, const json_t *options,
		      unsigned int requesters, const char *region,
		      uint64_t size, unsigned int requester, char *why,
		      size_t whylen);
/* Restores rec into dev (requester's part for a DEVSTATE_VM_PART one).
 * memory_fd is the device's kept memory for a record without
 * DEVSTATE_MEMORY (the restart), else ignored. Returns 0 or -1 with why;
 * on failure the model may hold part of the state: callers validate
 * first, or reset it. */
int devstate_apply(struct device *dev, const struct devstate_record *rec,
		   unsigned int requester, int memory_fd, char *why,
		   size_t whylen);

#endif
