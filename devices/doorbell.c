/* SPDX-License-Identifier: MIT */
/*
 * doorbell: made for posted writes. "registers" bells (1..64, default 16),
 * each 8 bytes wide; every write to a bell counts, and the last value is
 * kept. Counters are readable, so a guest or a test can prove that no posted
 * write was lost. Layout (accesses start at a register's first byte):
 *   0x000 + 8*i  bell i   W: ring (any size)  R: last value written
 *   0x200 + 8*i  count i  R: writes to bell i (4 or 8 bytes)
 *   0x400        total    R: writes to every bell
 *   0x408        nregs    R: number of bells
 * Every write that rings a bell pulses the region's interrupt line towards
 * each of its VMs (once per batch of posted writes).
 */
#include "autoconfig.h"

#include <stdlib.h>

#include "device.h"

#define DOORBELL_MAX 64
#define DOORBELL_COUNT_BASE 0x200
#define DOORBELL_TOTAL 0x400
#define DOORBELL_NREGS 0x408
#define DOORBELL_MIN_SIZE 0x410

struct dev_doorbell {
	struct device dev;
	unsigned int nregs;
	uint64_t last[DOORBELL_MAX];
	uint64_t count[DOORBELL_MAX];
	uint64_t total;
	uint64_t bad_access;
};

static struct dev_doorbell *dev_doorbell(struct device *dev)
{
	return container_of(dev, struct dev_doorbell, dev);
}

static struct device *dev_doorbell_create(const json_t *options, uint64_t size,
					  unsigned int requesters, char *err,
					  size_t errlen)
{
	static const char *const keys[] = { "registers", NULL };
	struct dev_doorbell *db;
	uint64_t nregs;

	if (device_opt_known(options, keys, err, errlen) < 0 ||
	    device_opt_uint(options, "registers", 16, 1, DOORBELL_MAX, &nregs,
			    err, errlen) < 0)
		return NULL;
	if (size < DOORBELL_MIN_SIZE) {
		snprintf(err, errlen, "size: doorbell needs at least 0x%x bytes",
			 DOORBELL_MIN_SIZE);
		return NULL;
	}
	db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->nregs = (unsigned int)nregs;
	return &db->dev;
}

/* The bell an access starts on, or -1. */
static int dev_doorbell_bell(struct dev_doorbell *db, uint64_t offset)
{
	if (offset % 8 || offset / 8 >= db->nregs)
		return -1;
	return (int)(offset / 8);
}

static int dev_doorbell_ring(struct dev_doorbell *db, uint64_t offset,
			     uint64_t value)
{
	int bell = dev_doorbell_bell(db, offset);

	if (bell < 0) {
		db->bad_access++;
		return -1;
	}
	db->count[bell]++;
	db->last[bell] = value;
	db->total++;
	return 0;
}

static void dev_doorbell_notify(struct dev_doorbell *db)
{
	device_set_irq(&db->dev, DEVICE_ALL_REQUESTERS, true);
	device_set_irq(&db->dev, DEVICE_ALL_REQUESTERS, false);
}

static int dev_doorbell_read(struct device *dev, unsigned int requester,
			     uint64_t offset, unsigned int size,
			     uint64_t *value)
{
	struct dev_doorbell *db = dev_doorbell(dev);
	int bell;

	if (offset < DOORBELL_COUNT_BASE) {
		bell = dev_doorbell_bell(db, offset);
		if (bell >= 0) {
			*value = db->last[bell] & ioregion_size_mask(size);
			return 0;
		}
	} else if (size == 4 || size == 8) {
		uint64_t v;

		if (offset == DOORBELL_TOTAL)
			v = db->total;
		else if (offset == DOORBELL_NREGS)
			v = db->nregs;
		else if (offset < DOORBELL_TOTAL &&
			 (bell = dev_doorbell_bell(db, offset -
						   DOORBELL_COUNT_BASE)) >= 0)
			v = db->count[bell];
		else
			goto bad;
		*value = size == 4 ? (uint32_t)v : v;
		return 0;
	}
bad:
	db->bad_access++;
	return -1;
}

static int dev_doorbell_write(struct device *dev, unsigned int requester,
			      uint64_t offset, unsigned int size,
			      uint64_t value)
{
	struct dev_doorbell *db = dev_doorbell(dev);

	if (dev_doorbell_ring(db, offset, value) < 0)
		return -1;
	dev_doorbell_notify(db);
	return 0;
}

static unsigned int dev_doorbell_write_batch(struct device *dev,
					     const struct device_write *writes,
					     unsigned int count)
{
	struct dev_doorbell *db = dev_doorbell(dev);
	unsigned int i, failed = 0;

	for (i = 0; i < count; i++)
		if (dev_doorbell_ring(db, writes[i].offset, writes[i].data) < 0)
			failed++;
	if (failed < count)
		dev_doorbell_notify(db);
	return failed;
}

static void dev_doorbell_reset(struct device *dev)
{
	struct dev_doorbell *db = dev_doorbell(dev);
	unsigned int nregs = db->nregs;
	struct device saved = db->dev;

	*db = (struct dev_doorbell){ .dev = saved, .nregs = nregs };
}

static void dev_doorbell_destroy(struct device *dev)
{
	free(dev_doorbell(dev));
}

static void dev_doorbell_stats(struct device *dev, device_stat_fn *emit,
			       void *ctx)
{
	struct dev_doorbell *db = dev_doorbell(dev);

	emit(ctx, "total", db->total);
	emit(ctx, "bad_access", db->bad_access);
}

static void dev_doorbell_save(struct device *dev, struct statebuf *sb)
{
	struct dev_doorbell *db = dev_doorbell(dev);
	unsigned int i;

	statebuf_put_u32(sb, db->nregs);
	for (i = 0; i < db->nregs; i++) {
		statebuf_put_u64(sb, db->last[i]);
		statebuf_put_u64(sb, db->count[i]);
	}
	statebuf_put_u64(sb, db->total);
	statebuf_put_u64(sb, db->bad_access);
}

static int dev_doorbell_restore(struct device *dev, struct statebuf *sb,
				int memory_fd)
{
	struct dev_doorbell *db = dev_doorbell(dev);
	unsigned int i;

	if (statebuf_get_u32(sb) != db->nregs)
		return -1;
	for (i = 0; i < db->nregs; i++) {
		db->last[i] = statebuf_get_u64(sb);
		db->count[i] = statebuf_get_u64(sb);
	}
	db->total = statebuf_get_u64(sb);
	db->bad_access = statebuf_get_u64(sb);
	return 0;
}

const struct device_ops device_doorbell_ops = {
	.name = "doorbell",
	.state_version = 1,
	.create = dev_doorbell_create,
	.read = dev_doorbell_read,
	.write = dev_doorbell_write,
	.write_batch = dev_doorbell_write_batch,
	.reset = dev_doorbell_reset,
	.destroy = dev_doorbell_destroy,
	.stats = dev_doorbell_stats,
	.save = dev_doorbell_save,
	.restore = dev_doorbell_restore,
};
