/* SPDX-License-Identifier: MIT */
/*
 * ram: scratch memory the size of the region. Any access of 1, 2, 4 or 8
 * bytes that lies inside it, aligned or not. Options: "fill" (byte the
 * memory starts with and returns to on reset, default 0).
 *
 * The memory is anonymous and mapped, never written up front: the kernel
 * hands out zeroed pages as the guest touches them, so creating (or
 * resetting) 64 MiB costs nothing on the event loop. Bytes are stored
 * XORed with the fill byte, so a zero page reads as fill.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "device.h"

/* Largest ram region; bigger ones belong in guest memory, not MMIO. */
#define RAM_MAX_SIZE (64u << 20)

struct dev_ram {
	struct device dev;
	uint64_t size;
	uint64_t fill;		/* the fill byte in every byte */
	uint64_t out_of_range;
	uint8_t *mem;
};

static struct dev_ram *dev_ram(struct device *dev)
{
	return (struct dev_ram *)dev;
}

static struct device *dev_ram_create(const json_t *options, uint64_t size,
				     unsigned int requesters,
				     const struct device_host *host, char *err,
				     size_t errlen)
{
	static const char *const keys[] = { "fill", NULL };
	struct dev_ram *ram;
	uint64_t fill;

	if (device_opt_known(options, keys, err, errlen) < 0 ||
	    device_opt_uint(options, "fill", 0, 0, 255, &fill, err, errlen) < 0)
		return NULL;
	if (size == 0 || size > RAM_MAX_SIZE) {
		snprintf(err, errlen, "size: ram serves 1..%u bytes",
			 RAM_MAX_SIZE);
		return NULL;
	}
	ram = calloc(1, sizeof(*ram));
	if (!ram) {
		snprintf(err, errlen, "size: out of memory");
		return NULL;
	}
	ram->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram->mem == MAP_FAILED) {
		free(ram);
		snprintf(err, errlen, "size: out of memory");
		return NULL;
	}
	ram->size = size;
	ram->fill = fill * UINT64_C(0x0101010101010101);
	return &ram->dev;
}

static bool dev_ram_inside(struct dev_ram *ram, uint64_t offset,
			   unsigned int size)
{
	if (offset >= ram->size || size > ram->size - offset) {
		ram->out_of_range++;
		return false;
	}
	return true;
}

static int dev_ram_read(struct device *dev, unsigned int requester,
			uint64_t offset, unsigned int size, uint64_t *value)
{
	struct dev_ram *ram = dev_ram(dev);

	if (!dev_ram_inside(ram, offset, size))
		return -1;
	*value = (device_load(ram->mem + offset, size) ^ ram->fill) &
		 ioregion_size_mask(size);
	return 0;
}

static int dev_ram_write(struct device *dev, unsigned int requester,
			 uint64_t offset, unsigned int size, uint64_t value)
{
	struct dev_ram *ram = dev_ram(dev);

	if (!dev_ram_inside(ram, offset, size))
		return -1;
	device_store(ram->mem + offset, size, value ^ ram->fill);
	return 0;
}

static void dev_ram_reset(struct device *dev)
{
	struct dev_ram *ram = dev_ram(dev);

	/* Private anonymous pages read as zero again, that is as fill. */
	madvise(ram->mem, ram->size, MADV_DONTNEED);
}

static void dev_ram_destroy(struct device *dev)
{
	struct dev_ram *ram = dev_ram(dev);

	munmap(ram->mem, ram->size);
	free(ram);
}

static void dev_ram_stats(struct device *dev, device_stat_fn *emit, void *ctx)
{
	emit(ctx, "out_of_range", dev_ram(dev)->out_of_range);
}

const struct device_ops device_ram_ops = {
	.name = "ram",
	.create = dev_ram_create,
	.read = dev_ram_read,
	.write = dev_ram_write,
	.reset = dev_ram_reset,
	.destroy = dev_ram_destroy,
	.stats = dev_ram_stats,
};
