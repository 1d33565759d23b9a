/* SPDX-License-Identifier: MIT */
/*
 * ram: scratch memory the size of the region. Any access of 1, 2, 4 or 8
 * bytes that lies inside it, aligned or not. Options: "fill" (byte the
 * memory starts with and returns to on reset, default 0).
 *
 * The memory is a memfd, mapped shared and never written up front: the
 * kernel hands out zeroed pages as the guest touches them, so creating (or
 * resetting) 64 MiB costs nothing on the event loop. Bytes are stored
 * XORed with the fill byte, so a zero page reads as fill. Being a file,
 * the memory outlives the process: the daemon keeps the memfd across a
 * restart (memory_fd), and every write is in it the moment it is served.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device.h"

/* Largest ram region; bigger ones belong in guest memory, not MMIO. */
#define RAM_MAX_SIZE (64u << 20)

struct dev_ram {
	struct device dev;
	uint64_t size;
	uint64_t fill;		/* the fill byte in every byte */
	uint64_t out_of_range;
	int memfd;
	uint8_t *mem;
};

static struct dev_ram *dev_ram(struct device *dev)
{
	return container_of(dev, struct dev_ram, dev);
}

static uint8_t *dev_ram_map(int fd, uint64_t size)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, fd, 0);
}

static struct device *dev_ram_create(const json_t *options, uint64_t size,
				     unsigned int requesters, char *err,
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
	ram->memfd = memfd_create("ioregiond-ram", MFD_CLOEXEC);
	if (ram->memfd < 0 || ftruncate(ram->memfd, (off_t)size) < 0 ||
	    (ram->mem = dev_ram_map(ram->memfd, size)) == MAP_FAILED) {
		snprintf(err, errlen, "size: %s", strerror(errno));
		if (ram->memfd >= 0)
			close(ram->memfd);
		free(ram);
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

	/* Holes read as zero again, that is as fill. */
	fallocate(ram->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		  (off_t)ram->size);
	ram->out_of_range = 0;
}

static void dev_ram_destroy(struct device *dev)
{
	struct dev_ram *ram = dev_ram(dev);

	munmap(ram->mem, ram->size);
	close(ram->memfd);
	free(ram);
}

/* The contents stay in the memfd (migration copies it: devstate.h);
 * its bytes are stored XORed with fill, so a restore needs the same. */
static void dev_ram_save(struct device *dev, struct statebuf *sb)
{
	statebuf_put_u64(sb, dev_ram(dev)->out_of_range);
	statebuf_put_u8(sb, (uint8_t)dev_ram(dev)->fill);
}

/* Maps the saved instance's memfd in place of the fresh one. */
static int dev_ram_restore(struct device *dev, struct statebuf *sb,
			   int memory_fd)
{
	struct dev_ram *ram = dev_ram(dev);
	struct stat st;
	uint8_t *mem;
	int fd;

	ram->out_of_range = statebuf_get_u64(sb);
	/* A restart's save from before version 2 ends here: the memfd was
	 * this config's, fill and all. */
	if (sb->len < sb->cap && statebuf_get_u8(sb) != (uint8_t)ram->fill)
		return -1;
	if (memory_fd == ram->memfd)
		return 0;
	if (memory_fd < 0 || fstat(memory_fd, &st) < 0 ||
	    (uint64_t)st.st_size != ram->size)
		return -1;
	fd = fcntl(memory_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	mem = dev_ram_map(fd, ram->size);
	if (mem == MAP_FAILED) {
		close(fd);
		return -1;
	}
	munmap(ram->mem, ram->size);
	close(ram->memfd);
	ram->mem = mem;
	ram->memfd = fd;
	return 0;
}

static int dev_ram_memory_fd(struct device *dev)
{
	return dev_ram(dev)->memfd;
}

static void dev_ram_stats(struct device *dev, device_stat_fn *emit, void *ctx)
{
	emit(ctx, "out_of_range", dev_ram(dev)->out_of_range);
}

const struct device_ops device_ram_ops = {
	.name = "ram",
	.state_version = 2,	/* 2: the fill byte */
	.create = dev_ram_create,
	.read = dev_ram_read,
	.write = dev_ram_write,
	.reset = dev_ram_reset,
	.destroy = dev_ram_destroy,
	.stats = dev_ram_stats,
	.save = dev_ram_save,
	.restore = dev_ram_restore,
	.memory_fd = dev_ram_memory_fd,
};
