/* SPDX-License-Identifier: MIT */
/* A device's state record: header, the model's fields, its memory. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devstate.h"

static void devstate_put_name(struct statebuf *sb, const char *name)
{
	size_t n = strlen(name);

	statebuf_put_u32(sb, (uint32_t)n);
	statebuf_put_bytes(sb, name, n);
}

/* Appends the memory file's first size bytes. */
static int devstate_put_memory(struct statebuf *sb, int fd, uint64_t size)
{
	uint64_t off = 0;
	ssize_t n;

	if (sb->error || size > sb->cap - sb->len) {
		sb->error = true;
		return -ENOSPC;
	}
	while (off < size) {
		n = pread(fd, sb->data + sb->len + off, size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		off += (uint64_t)n;
	}
	sb->len += size;
	return 0;
}

int devstate_save(struct device *dev, const char *region, uint64_t size,
		  unsigned int flags, unsigned int requester,
		  struct statebuf *sb)
{
	const struct device_ops *ops = dev->ops;
	size_t len_at;
	uint64_t len;
	int rc;

	if ((flags & DEVSTATE_VM_PART) && !ops->save_vm)
		return -ENOTSUP;
	if (!ops->memory_fd)
		flags &= ~DEVSTATE_MEMORY;
	statebuf_put_bytes(sb, DEVSTATE_MAGIC, 8);
	statebuf_put_u32(sb, DEVSTATE_VERSION);
	devstate_put_name(sb, ops->name);
	devstate_put_name(sb, region);
	statebuf_put_u32(sb, ops->state_version);
	statebuf_put_u32(sb, flags);
	statebuf_put_u64(sb, size);
	len_at = sb->len;
	statebuf_put_u64(sb, 0);	/* the length, filled in below */
	if (flags & DEVSTATE_VM_PART)
		ops->save_vm(dev, requester, sb);
	else
		ops->save(dev, sb);
	if (flags & DEVSTATE_MEMORY) {
		rc = devstate_put_memory(sb, ops->memory_fd(dev), size);
		if (rc < 0)
			return rc;
	}
	if (sb->error)
		return -ENOSPC;
	len = sb->len - len_at - 8;
	statebuf_set_u64(sb, len_at, len);
	return 0;
}

static int devstate_get_name(struct statebuf *sb, char *out)
{
	uint32_t n = statebuf_get_u32(sb);

	if (sb->error || n == 0 || n > IOREGION_NAME_MAX)
		return -1;
	statebuf_get_bytes(sb, out, n);
	out[n] = '\0';
	return sb->error || strlen(out) != n ? -1 : 0;
}

int devstate_parse(struct statebuf *sb, struct devstate_record *rec,
		   char *why, size_t whylen)
{
	char magic[8];
	uint32_t version;
	uint64_t len;

	memset(rec, 0, sizeof(*rec));
	statebuf_get_bytes(sb, magic, sizeof(magic));
	if (sb->error || memcmp(magic, DEVSTATE_MAGIC, 8) != 0) {
		snprintf(why, whylen, "not a device state record");
		return -EBADMSG;
	}
	version = statebuf_get_u32(sb);
	if (!sb->error && version != DEVSTATE_VERSION) {
		snprintf(why, whylen,
			 "device state record format %u (this daemon reads %u)",
			 version, DEVSTATE_VERSION);
		return -EPROTO;
	}
	if (devstate_get_name(sb, rec->device) < 0 ||
	    devstate_get_name(sb, rec->region) < 0) {
		snprintf(why, whylen, "device state record: bad device or region name");
		return -EBADMSG;
	}
	rec->version = statebuf_get_u32(sb);
	rec->flags = statebuf_get_u32(sb);
	rec->size = statebuf_get_u64(sb);
	len = statebuf_get_u64(sb);
	if (sb->error || len > sb->cap - sb->len) {
		snprintf(why, whylen, "region %s: device state record truncated",
			 rec->region);
		return -EBADMSG;
	}
	rec->state = sb->data + sb->len;
	rec->len = (size_t)len;
	sb->len += (size_t)len;
	return 0;
}

int devstate_check(const struct devstate_record *rec,
		   const struct device *dev, const char *region,
		   uint64_t size, char *why, size_t whylen)
{
	const struct device_ops *ops = dev->ops;

	if (strcmp(rec->region, region) != 0) {
		snprintf(why, whylen, "region %s: the record is region %s's",
			 region, rec->region);
		return -EINVAL;
	}
	if (strcmp(rec->device, ops->name) != 0) {
		snprintf(why, whylen,
			 "region %s: the record is a %s device's state, the region is a %s",
			 region, rec->device, ops->name);
		return -EINVAL;
	}
	if (rec->version != ops->state_version) {
		snprintf(why, whylen,
			 "region %s: %s state format version %u is unknown (this daemon's is %u)",
			 region, ops->name, rec->version, ops->state_version);
		return -EPROTO;
	}
	if (rec->size != size) {
		snprintf(why, whylen,
			 "region %s: the record is of a %llu-byte region, this one has %llu",
			 region, (unsigned long long)rec->size,
			 (unsigned long long)size);
		return -EINVAL;
	}
	if (rec->flags & ~DEVSTATE_FLAGS) {
		snprintf(why, whylen, "region %s: unknown record flags 0x%x",
			 region, rec->flags);
		return -EPROTO;
	}
	if ((rec->flags & DEVSTATE_VM_PART) && !ops->restore_vm) {
		snprintf(why, whylen,
			 "region %s: a %s has no per-VM state to load", region,
			 ops->name);
		return -ENOTSUP;
	}
	if ((rec->flags & DEVSTATE_MEMORY) &&
	    (!ops->memory_fd || rec->len < size)) {
		snprintf(why, whylen, "region %s: %s", region,
			 ops->memory_fd ? "the record's memory is truncated"
					: "the record carries memory the device does not have");
		return -EBADMSG;
	}
	return 0;
}

/* Writes the record's memory into the device's memory file. */
static int devstate_write_memory(const struct devstate_record *rec, int fd)
{
	const uint8_t *mem = rec->state + rec->len - rec->size;
	uint64_t off = 0;
	ssize_t n;

	while (off < rec->size) {
		n = pwrite(fd, mem + off, rec->size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (uint64_t)n;
	}
	return 0;
}

/* The model's fields, then (memory set) its memory. A record with
 * DEVSTATE_MEMORY restores the model over its own memory file, which then
 * takes the record's bytes. */
static int devstate_restore(struct device *dev,
			    const struct devstate_record *rec,
			    unsigned int requester, int memory_fd, bool memory,
			    char *why, size_t whylen)
{
	size_t len = rec->len;
	struct statebuf sb;
	int rc;

	if (rec->flags & DEVSTATE_MEMORY) {
		len -= rec->size;
		memory_fd = dev->ops->memory_fd(dev);
	}
	statebuf_init(&sb, (void *)rec->state, len);
	if (rec->flags & DEVSTATE_VM_PART)
		rc = dev->ops->restore_vm(dev, requester, &sb);
	else
		rc = dev->ops->restore(dev, &sb, memory_fd);
	if (rc < 0 || !statebuf_done(&sb)) {
		snprintf(why, whylen,
			 "region %s: the saved state does not fit the %s device",
			 rec->region, dev->ops->name);
		return -1;
	}
	if (memory && (rec->flags & DEVSTATE_MEMORY) &&
	    devstate_write_memory(rec, dev->ops->memory_fd(dev)) < 0) {
		snprintf(why, whylen, "region %s: writing its memory: %s",
			 rec->region, strerror(errno));
		return -1;
	}
	return 0;
}

int devstate_apply(struct device *dev, const struct devstate_record *rec,
		   unsigned int requester, int memory_fd, char *why,
		   size_t whylen)
{
	return devstate_restore(dev, rec, requester, memory_fd, true, why,
				whylen);
}

/* Allocates every page of dev's memory a record will write, so that
 * applying it cannot run out of room half-way (tmpfs, a memcg's limit)
 * and leave the memory part old, part new. */
static int devstate_reserve(const struct devstate_record *rec,
			    struct device *dev, char *why, size_t whylen)
{
	int rc;

	if (!(rec->flags & DEVSTATE_MEMORY))
		return 0;
	rc = posix_fallocate(dev->ops->memory_fd(dev), 0, (off_t)rec->size);
	if (rc == 0)
		return 0;
	snprintf(why, whylen, "region %s: no room for its %llu bytes of memory: %s",
		 rec->region, (unsigned long long)rec->size, strerror(rc));
	return -rc;
}

int devstate_validate(const struct devstate_record *rec,
		      struct device *dev, const json_t *options,
		      unsigned int requesters, const char *region,
		      uint64_t size, unsigned int requester, char *why,
		      size_t whylen)
{
	struct device *scratch;
	char err[256];
	int rc;

	rc = devstate_check(rec, dev, region, size, why, whylen);
	if (rc == 0)
		rc = devstate_reserve(rec, dev, why, whylen);
	if (rc < 0)
		return rc;
	/* No host: the scratch instance signals no interrupt and logs
	 * nothing. */
	scratch = device_create(dev->ops, options, size, requesters, NULL, err,
				sizeof(err));
	if (!scratch) {
		snprintf(why, whylen, "region %s: %s", region, err);
		return -ENOMEM;
	}
	/* The memory is plain bytes: only the model's fields can be
	 * refused. */
	rc = devstate_restore(scratch, rec, requester, -1, false, why,
			      whylen);
	scratch->handed_over = true;
	scratch->ops->destroy(scratch);
	return rc < 0 ? -EINVAL : 0;
}
