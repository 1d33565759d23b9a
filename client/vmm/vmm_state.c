/* SPDX-License-Identifier: MIT */
/*
 * ioregion-vmm's state file: the VM stopped at the guest's save point, to
 * go on in another ioregion-vmm (on this daemon or another one). Host byte
 * order, KVM's own structs, so a file goes back to a host like the one
 * that wrote it:
 *   "IORVMM01"  u32 version 1  u32 vCPUs (1)  u64 memory bytes
 *   struct kvm_regs, kvm_sregs, kvm_fpu   the memory
 *   u64 n, then n bytes: ioregiond's VM state (SaveVmState's memfd)
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"

#define VMM_STATE_MAGIC "IORVMM01"
#define VMM_STATE_VERSION 1
/* ioregiond's part: as much as a daemon loads at most. */
#define VMM_STATE_DEVICES_MAX (256ull << 20)

struct vmm_state_header {
	char magic[8];
	uint32_t version;
	uint32_t nvcpus;
	uint64_t mem_size;
};

static int vmm_state_fail(struct vmm *v, const char *what, int err)
{
	fprintf(stderr, "ioregion-vmm[%s]: %s: %s\n", v->vm_name, what,
		err ? strerror(err) : "not an ioregion-vmm state file");
	return -1;
}

static int vmm_state_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int vmm_state_read(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The daemon's state memfd, appended to out. */
static int vmm_state_copy(int out, int memfd, uint64_t bytes)
{
	uint8_t *buf = malloc(1 << 20);
	uint64_t off = 0;
	ssize_t n;
	int rc = 0;

	if (!buf)
		return -1;
	while (off < bytes && rc == 0) {
		n = pread(memfd, buf,
			  bytes - off < (1 << 20) ? bytes - off : (1 << 20),
			  (off_t)off);
		if (n <= 0)
			rc = -1;
		else if (vmm_state_write(out, buf, (size_t)n) < 0)
			rc = -1;
		else
			off += (uint64_t)n;
	}
	free(buf);
	return rc;
}

int vmm_state_save(struct vmm *v, struct vmm_vcpu *c)
{
	struct vmm_state_header h = {
		.magic = VMM_STATE_MAGIC,
		.version = VMM_STATE_VERSION,
		.nvcpus = 1,
		.mem_size = VMM_MEM_SIZE,
	};
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	char tmp[4096];
	uint64_t bytes;
	int memfd = -1, fd = -1, rc, err = 0;

	if (ioctl(c->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0 ||
	    ioctl(c->fd, KVM_GET_FPU, &fpu) < 0)
		return vmm_state_fail(v, "reading the vCPU", errno);
	/* What the guest sent before its save point is served, then the
	 * daemon reads no more and hands out the device state. */
	if (ioregion_client_stop_vm(v->client, NULL) < 0 ||
	    (rc = ioregion_client_save_vm_state(v->client, NULL, &memfd,
						 &bytes)) < 0) {
		fprintf(stderr, "ioregion-vmm[%s]: ioregiond: %s\n", v->vm_name,
			ioregion_client_error(v->client));
		return -1;
	}
	/* Written aside and renamed: a failed save leaves no half file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", v->save_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    vmm_state_write(fd, &h, sizeof(h)) < 0 ||
	    vmm_state_write(fd, &regs, sizeof(regs)) < 0 ||
	    vmm_state_write(fd, &sregs, sizeof(sregs)) < 0 ||
	    vmm_state_write(fd, &fpu, sizeof(fpu)) < 0 ||
	    vmm_state_write(fd, v->mem, VMM_MEM_SIZE) < 0 ||
	    vmm_state_write(fd, &bytes, sizeof(bytes)) < 0 ||
	    vmm_state_copy(fd, memfd, bytes) < 0 || fsync(fd) < 0)
		err = errno ? errno : EIO;
	/* Closed once, whatever failed: the vCPU threads may reuse the
	 * number at once. */
	if (fd >= 0 && close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, v->save_path) < 0)
		err = errno;
	if (err) {
		unlink(tmp);
		close(memfd);
		return vmm_state_fail(v, v->save_path, err);
	}
	close(memfd);
	vmm_say(v, "saved %d regions of device state (%llu bytes)", rc,
		(unsigned long long)bytes);
	return 0;
}

int vmm_state_restore(struct vmm *v, struct vmm_vcpu *c)
{
	struct vmm_state_header h;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint64_t bytes;
	uint8_t *buf;
	int fd = open(v->restore_path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return vmm_state_fail(v, v->restore_path, errno);
	if (vmm_state_read(fd, &h, sizeof(h)) < 0 ||
	    memcmp(h.magic, VMM_STATE_MAGIC, 8) != 0 ||
	    h.version != VMM_STATE_VERSION || h.nvcpus != 1 ||
	    h.mem_size != VMM_MEM_SIZE ||
	    vmm_state_read(fd, &regs, sizeof(regs)) < 0 ||
	    vmm_state_read(fd, &sregs, sizeof(sregs)) < 0 ||
	    vmm_state_read(fd, &fpu, sizeof(fpu)) < 0 ||
	    vmm_state_read(fd, v->mem, VMM_MEM_SIZE) < 0 ||
	    vmm_state_read(fd, &bytes, sizeof(bytes)) < 0 ||
	    bytes > VMM_STATE_DEVICES_MAX) {
		rc = errno;
		close(fd);
		return vmm_state_fail(v, v->restore_path, rc);
	}
	buf = malloc(bytes ? bytes : 1);
	v->restore_fd = memfd_create("ioregion-vmm-state", MFD_CLOEXEC);
	if (!buf || v->restore_fd < 0 || vmm_state_read(fd, buf, bytes) < 0 ||
	    vmm_state_write(v->restore_fd, buf, bytes) < 0) {
		rc = errno;
		free(buf);
		close(fd);
		return vmm_state_fail(v, v->restore_path, rc);
	}
	free(buf);
	close(fd);
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(c->fd, KVM_SET_REGS, &regs) < 0 ||
	    ioctl(c->fd, KVM_SET_FPU, &fpu) < 0)
		return vmm_state_fail(v, "setting the vCPU", errno);
	return 0;
}

int vmm_state_load_devices(struct vmm *v)
{
	int rc, tries;

	/* A VMM that saved and quit on this daemon may still be leaving. */
	for (tries = 0; tries < 20; tries++) {
		rc = ioregion_client_load_vm_state(v->client, NULL,
						   v->restore_fd);
		if (rc != -EBUSY)
			break;
		usleep(50000);
	}
	if (rc < 0) {
		fprintf(stderr, "ioregion-vmm[%s]: loading the device state: %s\n",
			v->vm_name, ioregion_client_error(v->client));
		return -1;
	}
	vmm_say(v, "restored from %s: %s", v->restore_path,
		ioregion_client_reply_message(v->client));
	return 0;
}
