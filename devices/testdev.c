/* SPDX-License-Identifier: MIT */
/*
 * testdev: registers for protocol tests.
 *   0x000 ID       R  0x494f5254 ("TROI", reads as "IORT" in memory)
 *   0x004 VERSION  R  1
 *   0x010-0x02f    RW scratch bytes, any access inside
 *   0x040 ECHO     RW 8 bytes: a read returns the last value written,
 *                     cut to the access size
 *   0x100-0x1ff    R  each read returns its own offset, cut to the size
 *   0x200 READS    R  reads served so far (4 or 8 bytes)
 *   0x208 WRITES   R  writes served so far (4 or 8 bytes)
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"

#define TESTDEV_ID 0x000
#define TESTDEV_VERSION 0x004
#define TESTDEV_SCRATCH 0x010
#define TESTDEV_SCRATCH_END 0x030
#define TESTDEV_ECHO 0x040
#define TESTDEV_OFFSETS 0x100
#define TESTDEV_OFFSETS_END 0x200
#define TESTDEV_READS 0x200
#define TESTDEV_WRITES 0x208
#define TESTDEV_MIN_SIZE 0x210

#define TESTDEV_MAGIC 0x494f5254u

struct dev_testdev {
	struct device dev;
	uint8_t scratch[TESTDEV_SCRATCH_END - TESTDEV_SCRATCH];
	uint64_t echo;
	uint64_t reads, writes, bad_access;
};

static struct dev_testdev *dev_testdev(struct device *dev)
{
	return container_of(dev, struct dev_testdev, dev);
}

static struct device *dev_testdev_create(const json_t *options, uint64_t size,
					 unsigned int requesters, char *err,
					 size_t errlen)
{
	static const char *const keys[] = { NULL };
	struct dev_testdev *t;

	if (device_opt_known(options, keys, err, errlen) < 0)
		return NULL;
	if (size < TESTDEV_MIN_SIZE) {
		snprintf(err, errlen, "size: testdev needs at least 0x%x bytes",
			 TESTDEV_MIN_SIZE);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		snprintf(err, errlen, "out of memory");
	return t ? &t->dev : NULL;
}

static bool testdev_in(uint64_t offset, unsigned int size, uint64_t start,
		       uint64_t end)
{
	return offset >= start && offset < end && size <= end - offset;
}

static int dev_testdev_read(struct device *dev, unsigned int requester,
			    uint64_t offset, unsigned int size,
			    uint64_t *value)
{
	struct dev_testdev *t = dev_testdev(dev);
	uint64_t mask = ioregion_size_mask(size);

	if (testdev_in(offset, size, TESTDEV_SCRATCH, TESTDEV_SCRATCH_END))
		*value = device_load(t->scratch + (offset - TESTDEV_SCRATCH),
				     size);
	else if (offset == TESTDEV_ECHO)
		*value = t->echo & mask;
	else if (testdev_in(offset, size, TESTDEV_OFFSETS, TESTDEV_OFFSETS_END))
		*value = offset & mask;
	else if (size == 4 && offset == TESTDEV_ID)
		*value = TESTDEV_MAGIC;
	else if (size == 4 && offset == TESTDEV_VERSION)
		*value = 1;
	else if ((size == 4 || size == 8) && offset == TESTDEV_READS)
		*value = t->reads & mask;
	else if ((size == 4 || size == 8) && offset == TESTDEV_WRITES)
		*value = t->writes & mask;
	else {
		t->bad_access++;
		return -1;
	}
	t->reads++;
	return 0;
}

static int dev_testdev_write(struct device *dev, unsigned int requester,
			     uint64_t offset, unsigned int size,
			     uint64_t value)
{
	struct dev_testdev *t = dev_testdev(dev);

	if (testdev_in(offset, size, TESTDEV_SCRATCH, TESTDEV_SCRATCH_END))
		device_store(t->scratch + (offset - TESTDEV_SCRATCH), size,
			     value);
	else if (offset == TESTDEV_ECHO)
		t->echo = value & ioregion_size_mask(size);
	else {
		t->bad_access++;
		return -1;
	}
	t->writes++;
	return 0;
}

static void dev_testdev_reset(struct device *dev)
{
	struct dev_testdev *t = dev_testdev(dev);

	memset(t->scratch, 0, sizeof(t->scratch));
	t->echo = t->reads = t->writes = t->bad_access = 0;
}

static void dev_testdev_destroy(struct device *dev)
{
	free(dev_testdev(dev));
}

static void dev_testdev_stats(struct device *dev, device_stat_fn *emit,
			      void *ctx)
{
	struct dev_testdev *t = dev_testdev(dev);

	emit(ctx, "reads", t->reads);
	emit(ctx, "writes", t->writes);
	emit(ctx, "bad_access", t->bad_access);
}

static void dev_testdev_save(struct device *dev, struct statebuf *sb)
{
	struct dev_testdev *t = dev_testdev(dev);

	statebuf_put_bytes(sb, t->scratch, sizeof(t->scratch));
	statebuf_put_u64(sb, t->echo);
	statebuf_put_u64(sb, t->reads);
	statebuf_put_u64(sb, t->writes);
	statebuf_put_u64(sb, t->bad_access);
}

static int dev_testdev_restore(struct device *dev, struct statebuf *sb,
			       int memory_fd)
{
	struct dev_testdev *t = dev_testdev(dev);

	statebuf_get_bytes(sb, t->scratch, sizeof(t->scratch));
	t->echo = statebuf_get_u64(sb);
	t->reads = statebuf_get_u64(sb);
	t->writes = statebuf_get_u64(sb);
	t->bad_access = statebuf_get_u64(sb);
	return 0;
}

const struct device_ops device_testdev_ops = {
	.name = "testdev",
	.state_version = 1,
	.create = dev_testdev_create,
	.read = dev_testdev_read,
	.write = dev_testdev_write,
	.reset = dev_testdev_reset,
	.destroy = dev_testdev_destroy,
	.stats = dev_testdev_stats,
	.save = dev_testdev_save,
	.restore = dev_testdev_restore,
};
