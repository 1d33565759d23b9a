/* SPDX-License-Identifier: MIT */
/*
 * libioregion: binding regions to a KVM VM, through KVM_SET_IOREGION where
 * the kernel has it, or by forwarding exits over the same fds.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "frame.h"
#include "ioregion.h"
#include "kvm_ioregion.h"
#include "libioregion.h"

/* A daemon that neither answers nor closes within this is treated as gone. */
#define VM_REPLY_TIMEOUT_MS 10000
/* Accesses that do not spin after a spin was preempted: on a host whose
 * CPUs are all busy, spinning takes the CPU from the daemon. */
#define VM_SPIN_PAUSE 256
/* Frames per write when flushing the coalesced ring. */
#define VM_FLUSH_BATCH 64

struct vm_region {
	struct ioregion_region r;
	enum ioregion_path path;
	bool coalesced;
	pthread_mutex_t io_lock;	/* one request/response at a time */
	struct vm_region *next;
};

struct ioregion_vm {
	struct ioregion_client *client;
	int vm_fd;
	bool kernel;
	pthread_rwlock_t lock;		/* the region list */
	struct vm_region *regions;
	struct kvm_coalesced_mmio_ring *ring;
	unsigned int ring_max;
	pthread_mutex_t ring_lock;
	unsigned int spin_us;		/* see ioregion_vm_set_spin_us */
	unsigned int spin_pause;	/* accesses left without spinning */
};

/*
 * The capability number alone can be another feature's on a kernel without
 * the series, so ask the ioctl itself: deassigning a range that was never
 * assigned is ENOENT with ioregionfd, and ENOTTY or EINVAL without it.
 */
static bool vm_kernel_has_ioregionfd(int kvm_vm_fd)
{
	struct kvm_ioregion probe = {
		.memory_size = 1,
		.flags = KVM_IOREGION_DEASSIGN,
	};

	if (ioctl(kvm_vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOREGIONFD) <= 0)
		return false;
	return ioctl(kvm_vm_fd, KVM_SET_IOREGION, &probe) < 0 &&
	       errno == ENOENT;
}

int ioregion_vm_new(struct ioregion_client *c, int kvm_vm_fd,
		    unsigned int flags, struct ioregion_vm **out)
{
	struct ioregion_vm *vm = calloc(1, sizeof(*vm));

	*out = NULL;
	if (!vm)
		return -ENOMEM;
	vm->client = c;
	vm->vm_fd = kvm_vm_fd;
	vm->kernel = !(flags & IOREGION_VM_FORCE_FALLBACK) &&
		     vm_kernel_has_ioregionfd(kvm_vm_fd);
	vm->spin_us = frame_spin_default_us();
	pthread_rwlock_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->ring_lock, NULL);
	*out = vm;
	return 0;
}

bool ioregion_vm_kernel_capable(const struct ioregion_vm *vm)
{
	return vm_kernel_has_ioregionfd(vm->vm_fd);
}

int ioregion_vm_set_spin_us(struct ioregion_vm *vm, unsigned int us)
{
	if (us > IOREGION_SPIN_MAX_US)
		return -EINVAL;
	__atomic_store_n(&vm->spin_us, us, __ATOMIC_RELAXED);
	return 0;
}

void ioregion_vm_set_coalesced_ring(struct ioregion_vm *vm, void *ring)
{
	long page = sysconf(_SC_PAGESIZE);

	vm->ring = ring;
	vm->ring_max = (unsigned int)((page - sizeof(*vm->ring)) /
				      sizeof(struct kvm_coalesced_mmio));
}

static void vm_region_free(struct vm_region *vr)
{
	if (vr->r.fd >= 0)
		close(vr->r.fd);
	pthread_mutex_destroy(&vr->io_lock);
	free(vr);
}

void ioregion_vm_free(struct ioregion_vm *vm)
{
	struct vm_region *vr;

	if (!vm)
		return;
	while ((vr = vm->regions)) {
		vm->regions = vr->next;
		vm_region_free(vr);
	}
	pthread_rwlock_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->ring_lock);
	free(vm);
}

static int vm_kvm_assign(struct ioregion_vm *vm, const struct ioregion_region *r,
			 bool deassign)
{
	struct kvm_ioregion io = {
		.guest_paddr = r->address,
		.memory_size = r->size,
		.user_data = r->user_data,
		.read_fd = r->fd,
		.write_fd = r->fd,
	};

	if (r->bus == IOREGION_BUS_PIO)
		io.flags |= KVM_IOREGION_PIO;
	if (r->flags & IOREGION_REGION_POSTED_WRITES)
		io.flags |= KVM_IOREGION_POSTED_WRITES;
	if (deassign)
		io.flags |= KVM_IOREGION_DEASSIGN;
	return ioctl(vm->vm_fd, KVM_SET_IOREGION, &io) < 0 ? -errno : 0;
}

static int vm_coalesce(struct ioregion_vm *vm, const struct ioregion_region *r,
		       bool on)
{
	struct kvm_coalesced_mmio_zone zone = {
		.addr = r->address,
		.size = (__u32)r->size,
		.pio = r->bus == IOREGION_BUS_PIO,
	};
	unsigned long req = on ? KVM_REGISTER_COALESCED_MMIO
			       : KVM_UNREGISTER_COALESCED_MMIO;

	if (zone.pio && ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
			      KVM_CAP_COALESCED_PIO) <= 0)
		return -EOPNOTSUPP;
	return ioctl(vm->vm_fd, req, &zone) < 0 ? -errno : 0;
}

/* Takes ownership of r->fd. */
static int vm_add(struct ioregion_vm *vm, const struct ioregion_region *r)
{
	struct vm_region *vr = calloc(1, sizeof(*vr));
	int rc;

	if (!vr) {
		close(r->fd);
		return -ENOMEM;
	}
	vr->r = *r;
	pthread_mutex_init(&vr->io_lock, NULL);
	if (vm->kernel) {
		rc = vm_kvm_assign(vm, r, false);
		if (rc < 0) {
			vm_region_free(vr);
			return rc;
		}
		vr->path = IOREGION_PATH_KERNEL;
	} else {
		vr->path = IOREGION_PATH_FALLBACK;
		/* Posted writes then cost no exit: KVM queues them in the
		 * ring and the next exit flushes them as one batch. */
		vr->coalesced = vm->ring &&
				(r->flags & IOREGION_REGION_POSTED_WRITES) &&
				vm_coalesce(vm, r, true) == 0;
	}
	pthread_rwlock_wrlock(&vm->lock);
	vr->next = vm->regions;
	vm->regions = vr;
	pthread_rwlock_unlock(&vm->lock);
	return 0;
}

int ioregion_vm_register(struct ioregion_vm *vm, const char *name)
{
	struct ioregion_region r;
	int rc = ioregion_client_open(vm->client, name, &r);

	if (rc < 0)
		return rc;
	rc = vm_add(vm, &r);
	/* vm_add closed the fd, but the daemon frees the channel only when
	 * it reads the EOF, in its own time: a caller that opens the region
	 * again at once (to forward it after KVM_SET_IOREGION said EEXIST)
	 * could find it still open (EBUSY). CloseRegion frees it now. The
	 * caller gets vm_add's error; the client's message is CloseRegion's. */
	if (rc < 0)
		ioregion_client_close_region(vm->client, name);
	return rc;
}

int ioregion_vm_register_all(struct ioregion_vm *vm)
{
	struct ioregion_region *regions;
	int n = ioregion_client_list(vm->client, NULL, &regions), i, rc = 0;

	if (n < 0)
		return n;
	for (i = 0; i < n && rc == 0; i++)
		rc = ioregion_vm_register(vm, regions[i].name);
	free(regions);
	return rc < 0 ? rc : n;
}

int ioregion_vm_unregister(struct ioregion_vm *vm, const char *name)
{
	struct vm_region **p, *vr = NULL;

	pthread_rwlock_wrlock(&vm->lock);
	for (p = &vm->regions; *p; p = &(*p)->next) {
		if (strcmp((*p)->r.name, name) == 0) {
			vr = *p;
			*p = vr->next;
			break;
		}
	}
	pthread_rwlock_unlock(&vm->lock);
	if (!vr)
		return -ENOENT;
	if (vr->path == IOREGION_PATH_KERNEL)
		vm_kvm_assign(vm, &vr->r, true);
	else if (vr->coalesced)
		vm_coalesce(vm, &vr->r, false);
	vm_region_free(vr);
	return 0;
}

enum ioregion_path ioregion_vm_path(const struct ioregion_vm *vm,
				    const char *name)
{
	struct ioregion_vm *mvm = (struct ioregion_vm *)vm;
	enum ioregion_path path = IOREGION_PATH_NONE;
	struct vm_region *vr;

	pthread_rwlock_rdlock(&mvm->lock);
	for (vr = vm->regions; vr; vr = vr->next)
		if (strcmp(vr->r.name, name) == 0)
			path = vr->path;
	pthread_rwlock_unlock(&mvm->lock);
	return path;
}

void ioregion_vm_foreach(const struct ioregion_vm *vm,
			 void (*fn)(void *ctx, const struct ioregion_region *r,
				    enum ioregion_path path),
			 void *ctx)
{
	struct ioregion_vm *mvm = (struct ioregion_vm *)vm;
	struct vm_region *vr;

	pthread_rwlock_rdlock(&mvm->lock);
	for (vr = vm->regions; vr; vr = vr->next)
		fn(ctx, &vr->r, vr->path);
	pthread_rwlock_unlock(&mvm->lock);
}

/* The fallback region holding [addr, addr+len) on a bus. */
static struct vm_region *vm_lookup(struct ioregion_vm *vm,
				   enum ioregion_bus bus, uint64_t addr,
				   uint64_t len)
{
	struct vm_region *vr;

	for (vr = vm->regions; vr; vr = vr->next)
		if (vr->path == IOREGION_PATH_FALLBACK && vr->r.bus == bus &&
		    addr >= vr->r.address &&
		    addr - vr->r.address + len <= vr->r.size)
			return vr;
	return NULL;
}

/* The spin of this access: none for a while after a preempted one. The
 * pause is counted down loosely: vCPU threads race on it harmlessly. */
static unsigned int vm_spin_us(struct ioregion_vm *vm)
{
	unsigned int pause = __atomic_load_n(&vm->spin_pause, __ATOMIC_RELAXED);

	if (pause) {
		__atomic_store_n(&vm->spin_pause, pause - 1, __ATOMIC_RELAXED);
		return 0;
	}
	return __atomic_load_n(&vm->spin_us, __ATOMIC_RELAXED);
}

/* One access of 1, 2, 4 or 8 bytes on a fallback region. */
static int vm_access(struct ioregion_vm *vm, struct vm_region *vr,
		     uint64_t addr, unsigned int size, bool write,
		     uint8_t *data)
{
	bool posted = write && (vr->r.flags & IOREGION_REGION_POSTED_WRITES);
	struct ioregion_cmd cmd;
	struct ioregion_resp resp;
	bool preempted = false;
	uint64_t value = 0;
	int rc;

	if (write)
		memcpy(&value, data, size);
	cmd = ioregion_cmd_make(write ? IOREGION_CMD_WRITE : IOREGION_CMD_READ,
				(unsigned int)ioregion_size_exp(size), !posted,
				vr->r.user_data, addr - vr->r.address, value);
	pthread_mutex_lock(&vr->io_lock);
	rc = frame_send(vr->r.fd, &cmd, sizeof(cmd));
	if (rc == 0 && !posted)
		rc = frame_recv_resp(vr->r.fd, &resp, VM_REPLY_TIMEOUT_MS,
				     vm_spin_us(vm), &preempted);
	pthread_mutex_unlock(&vr->io_lock);
	if (preempted)
		__atomic_store_n(&vm->spin_pause, VM_SPIN_PAUSE,
				 __ATOMIC_RELAXED);
	if (rc == 0 && !write)
		memcpy(data, &resp.data, size);
	return rc;
}

/* KVM hands over 1..8 bytes; sizes the protocol lacks go byte by byte. */
static int vm_access_any(struct ioregion_vm *vm, struct vm_region *vr,
			 uint64_t addr, unsigned int len, bool write,
			 uint8_t *data)
{
	unsigned int i;
	int rc = 0;

	if (ioregion_size_exp(len) >= 0)
		return vm_access(vm, vr, addr, len, write, data);
	for (i = 0; i < len && rc == 0; i++)
		rc = vm_access(vm, vr, addr + i, 1, write, data + i);
	return rc;
}

/* Posted frames share the fd with other vCPUs' requests: send whole. */
static int vm_send_locked(struct vm_region *vr, const void *buf, size_t len)
{
	int rc;

	pthread_mutex_lock(&vr->io_lock);
	rc = frame_send(vr->r.fd, buf, len);
	pthread_mutex_unlock(&vr->io_lock);
	return rc;
}

static int vm_flush_locked(struct ioregion_vm *vm)
{
	struct kvm_coalesced_mmio_ring *ring = vm->ring;
	struct ioregion_cmd frames[VM_FLUSH_BATCH];
	struct vm_region *batch_region = NULL;
	unsigned int nframes = 0;
	int sent = 0, rc = 0;

	while (ring->first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
		struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[ring->first];
		struct vm_region *vr = vm_lookup(vm, e->pio ? IOREGION_BUS_PIO
							    : IOREGION_BUS_MMIO,
						 e->phys_addr, e->len);
		uint64_t value = 0;

		/* Frames go out per region, in ring order. */
		if (nframes && (vr != batch_region || nframes == VM_FLUSH_BATCH)) {
			rc = vm_send_locked(batch_region, frames,
					    nframes * sizeof(frames[0]));
			if (rc < 0)
				break;
			sent += (int)nframes;
			nframes = 0;
		}
		if (vr && ioregion_size_exp(e->len) >= 0) {
			memcpy(&value, e->data, e->len);
			frames[nframes++] = ioregion_cmd_make(
				IOREGION_CMD_WRITE,
				(unsigned int)ioregion_size_exp(e->len), false,
				vr->r.user_data, e->phys_addr - vr->r.address,
				value);
			batch_region = vr;
		}
		__atomic_store_n(&ring->first, (ring->first + 1) % vm->ring_max,
				 __ATOMIC_RELEASE);
	}
	if (rc == 0 && nframes) {
		rc = vm_send_locked(batch_region, frames,
				    nframes * sizeof(frames[0]));
		sent += (int)nframes;
	}
	return rc < 0 ? rc : sent;
}

int ioregion_vm_flush(struct ioregion_vm *vm)
{
	int rc;

	if (!vm->ring)
		return 0;
	pthread_mutex_lock(&vm->ring_lock);
	pthread_rwlock_rdlock(&vm->lock);
	rc = vm_flush_locked(vm);
	pthread_rwlock_unlock(&vm->lock);
	pthread_mutex_unlock(&vm->ring_lock);
	return rc;
}

static int vm_handle_mmio(struct ioregion_vm *vm, struct kvm_run *run)
{
	struct vm_region *vr = vm_lookup(vm, IOREGION_BUS_MMIO,
					 run->mmio.phys_addr, run->mmio.len);
	int rc;

	if (!vr)
		return 0;
	rc = vm_access_any(vm, vr, run->mmio.phys_addr, run->mmio.len,
			   run->mmio.is_write, run->mmio.data);
	return rc < 0 ? rc : 1;
}

/* String and rep I/O come as count elements of size bytes. */
static int vm_handle_pio(struct ioregion_vm *vm, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	struct vm_region *vr = vm_lookup(vm, IOREGION_BUS_PIO, run->io.port,
					 run->io.size);
	unsigned int i;
	int rc = 0;

	if (!vr)
		return 0;
	for (i = 0; i < run->io.count && rc == 0; i++)
		rc = vm_access_any(vm, vr, run->io.port, run->io.size,
				   run->io.direction == KVM_EXIT_IO_OUT,
				   data + (size_t)i * run->io.size);
	return rc < 0 ? rc : 1;
}

int ioregion_vm_handle_exit(struct ioregion_vm *vm, struct kvm_run *run)
{
	int rc = ioregion_vm_flush(vm);

	if (rc < 0)
		return rc;
	/* the device's answer, left for KVM's completion: no exit */
	if (run->flags & KVM_RUN_IOREGION_ANSWERED)
		return 1;
	pthread_rwlock_rdlock(&vm->lock);
	if (run->exit_reason == KVM_EXIT_MMIO)
		rc = vm_handle_mmio(vm, run);
	else if (run->exit_reason == KVM_EXIT_IO)
		rc = vm_handle_pio(vm, run);
	else
		rc = 0;
	pthread_rwlock_unlock(&vm->lock);
	return rc;
}
