/* SPDX-License-Identifier: MIT */
/*
 * libioregion: one access on a region's data fd, for a VMM that dispatches
 * MMIO/PIO itself (QEMU's memory API under TCG) instead of forwarding KVM
 * exits through ioregion_vm_handle_exit.
 */
#include "autoconfig.h"

#include <errno.h>

#include "frame.h"
#include "ioregion.h"
#include "libioregion.h"

#define ACCESS_REPLY_TIMEOUT_MS 5000

static int access_do(const struct ioregion_region *r, uint64_t offset,
		     unsigned int size, bool write, uint64_t *value)
{
	bool posted = write && (r->flags & IOREGION_REGION_POSTED_WRITES);
	int exp = ioregion_size_exp(size);
	struct ioregion_cmd cmd;
	struct ioregion_resp resp;
	int rc;

	if (exp < 0 || offset >= r->size || size > r->size - offset)
		return -EINVAL;
	if (r->fd < 0)
		return -EBADF;
	cmd = ioregion_cmd_make(write ? IOREGION_CMD_WRITE : IOREGION_CMD_READ,
				(unsigned int)exp, !posted, r->user_data, offset,
				write ? *value & ioregion_size_mask(size) : 0);
	rc = frame_send(r->fd, &cmd, sizeof(cmd));
	if (rc < 0 || posted)
		return rc;
	rc = frame_recv_resp(r->fd, &resp, ACCESS_REPLY_TIMEOUT_MS,
			     frame_spin_default_us(), NULL);
	if (rc == 0 && !write)
		*value = resp.data & ioregion_size_mask(size);
	return rc;
}

int ioregion_region_read(const struct ioregion_region *r, uint64_t offset,
			 unsigned int size, uint64_t *value)
{
	return access_do(r, offset, size, false, value);
}

int ioregion_region_write(const struct ioregion_region *r, uint64_t offset,
			  unsigned int size, uint64_t value)
{
	return access_do(r, offset, size, true, &value);
}

int ioregion_region_wait(const struct ioregion_region *r, unsigned int size,
			 uint64_t *value, int timeout_ms)
{
	struct ioregion_resp resp;
	int rc;

	if (ioregion_size_exp(size) < 0)
		return -EINVAL;
	if (r->fd < 0)
		return -EBADF;
	rc = frame_recv_resp(r->fd, &resp, timeout_ms, 0, NULL);
	if (rc == 0 && value)
		*value = resp.data & ioregion_size_mask(size);
	return rc;
}
