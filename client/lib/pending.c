/* SPDX-License-Identifier: MIT */
/*
 * libioregion: the pending-access rule of the in-kernel path. KVM_RUN can
 * return while a KVM_SET_IOREGION access's instruction is not complete
 * (KVM_RUN_IOREGION_PENDING): a vCPU saved, written or reset then would
 * replay or lose it. Before any of those the VMM finishes it here, with
 * KVM_RUN in "complete and wait" mode, for a bounded time.
 */
#include "autoconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kvm_ioregion.h"
#include "libioregion.h"

/* Debian 12's glibc names the thread of SIGEV_THREAD_ID only this way. */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* After the bound, the kick is repeated this often: a signal that landed
 * just before KVM_RUN was entered interrupted nothing. */
#define PENDING_REKICK_NS 20000000L

struct pending_bound {
	timer_t timer;
	struct timespec deadline;
};

static struct timespec pending_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static bool pending_expired(const struct pending_bound *b)
{
	struct timespec now = pending_now();

	return now.tv_sec > b->deadline.tv_sec ||
	       (now.tv_sec == b->deadline.tv_sec &&
		now.tv_nsec >= b->deadline.tv_nsec);
}

/* KVM_RUN waits for the device in the kernel: only a signal to this
 * thread bounds that wait. */
static int pending_bound_start(struct pending_bound *b, int timeout_ms,
			       int kick_signal)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = kick_signal,
	};
	struct itimerspec when = {
		.it_value = { .tv_sec = timeout_ms / 1000,
			      .tv_nsec = (long)(timeout_ms % 1000) * 1000000L },
		.it_interval = { .tv_nsec = PENDING_REKICK_NS },
	};

	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &b->timer) < 0)
		return -errno;
	b->deadline = pending_now();
	b->deadline.tv_sec += when.it_value.tv_sec;
	b->deadline.tv_nsec += when.it_value.tv_nsec;
	if (b->deadline.tv_nsec >= 1000000000L) {
		b->deadline.tv_sec++;
		b->deadline.tv_nsec -= 1000000000L;
	}
	if (timer_settime(b->timer, 0, &when, NULL) < 0) {
		int err = errno;

		timer_delete(b->timer);
		return -err;
	}
	return 0;
}

/*
 * The access failed in KVM (KVM_EXIT_IOREGIONFD_FAILURE): it completes as
 * on a bus with nothing behind it, a read as all ones, a write as nothing.
 * With KVM_IOREGION_FAILURE_SENT the device may have performed it, so it
 * must not be done again by any path; without, nothing reached the device
 * and a VMM could perform it itself, but this library has no path to
 * forward it on (KVM owns the region), so it completes it the same way.
 */
static int pending_unserved(struct kvm_run *run)
{
	struct kvm_ioregion_failure *f = kvm_run_ioregion_failure(run);

	if (!f->is_write)
		memset(f->data, 0xff, sizeof(f->data));
	return f->error < 0 ? f->error : -EIO;
}

/*
 * KVM_RUN in "complete and wait" mode (api.rst, "Accesses in flight")
 * until it fails with EINTR and nothing is pending. A failure exit is
 * completed here; a KVM_EXIT_MMIO or KVM_EXIT_IO with
 * KVM_RUN_IOREGION_ANSWERED needs nothing (its data is the device's
 * answer, for KVM's completion); any other exit is the caller's.
 */
static int pending_complete(int vcpu_fd, struct kvm_run *run,
			    const struct pending_bound *b)
{
	int failed = 0;

	for (;;) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) == 0) {
			if (run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE)
				failed = pending_unserved(run);
			else if (!(run->flags & KVM_RUN_IOREGION_ANSWERED))
				return 1;
		} else if (errno != EINTR) {
			return -errno;
		} else if (!(run->flags & KVM_RUN_IOREGION_PENDING)) {
			return failed;
		}
		/* a signal while KVM waited for the device, or an exit
		 * completed here: enter again, within the bound */
		if ((run->flags & KVM_RUN_IOREGION_PENDING) &&
		    pending_expired(b))
			return -ETIMEDOUT;
	}
}

int ioregion_vcpu_complete_pending(int vcpu_fd, struct kvm_run *run,
				   int timeout_ms, int kick_signal)
{
	struct pending_bound b;
	int rc;

	/*
	 * Even with nothing pending: after an exit handed back (1), the
	 * KVM_RUN that completes it may start another access that waits.
	 * A zero it_value would disarm the timer.
	 */
	rc = pending_bound_start(&b, timeout_ms > 0 ? timeout_ms : 1,
				 kick_signal);
	if (rc < 0)
		return rc;
	run->immediate_exit = 1;
	*kvm_run_ioregion_complete(run) = 1;
	rc = pending_complete(vcpu_fd, run, &b);
	*kvm_run_ioregion_complete(run) = 0;
	run->immediate_exit = 0;
	timer_delete(b.timer);
	return rc;
}

struct pending_lookup {
	bool pio;
	uint64_t addr;
	char name[IOREGION_NAME_MAX + 1];
};

static void pending_find(void *ctx, const struct ioregion_region *r,
			 enum ioregion_path path)
{
	struct pending_lookup *l = ctx;

	if (path == IOREGION_PATH_KERNEL &&
	    (r->bus == IOREGION_BUS_PIO) == l->pio &&
	    l->addr >= r->address && l->addr - r->address < r->size)
		snprintf(l->name, sizeof(l->name), "%s", r->name);
}

/*
 * Without KVM_RUN_IOREGION_ANSWERED, ioregion_failure describes the
 * access; with it, that part of the union is kvm_run.mmio (or io) as the
 * architecture's completion will read it, and only that tells the access.
 */
void ioregion_vm_describe_pending(const struct ioregion_vm *vm,
				  struct kvm_run *run, char *buf, size_t len)
{
	const struct kvm_ioregion_failure *f = kvm_run_ioregion_failure(run);
	struct pending_lookup l = { .name = "unknown" };
	unsigned int size;
	bool is_write;
	const char *state = "";

	if (run->flags & KVM_RUN_IOREGION_ANSWERED) {
		state = ", answered, its completion pending";
		if (run->exit_reason == KVM_EXIT_IO) {
			l.pio = true;
			l.addr = run->io.port;
			size = run->io.size;
			is_write = run->io.direction == KVM_EXIT_IO_OUT;
		} else if (run->exit_reason == KVM_EXIT_MMIO) {
			l.addr = run->mmio.phys_addr;
			size = run->mmio.len;
			is_write = run->mmio.is_write;
		} else {
			snprintf(buf, len,
				 "access answered, its completion pending (exit %u)",
				 run->exit_reason);
			return;
		}
	} else {
		l.pio = f->is_pio;
		l.addr = f->gpa;
		size = f->len;
		is_write = f->is_write;
		/* error 0: in flight, whatever exit_reason KVM_RUN left */
		if (run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE &&
		    f->error)
			state = f->flags & KVM_IOREGION_FAILURE_SENT ?
					", failed after it reached the device" :
					", failed before it reached the device";
	}
	ioregion_vm_foreach(vm, pending_find, &l);
	snprintf(buf, len, "%u-byte %s %s 0x%llx (region %s)%s", size,
		 is_write ? "write" : "read", l.pio ? "to port" : "at",
		 (unsigned long long)l.addr, l.name, state);
}
