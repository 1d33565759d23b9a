/* SPDX-License-Identifier: MIT */
/*
 * ioregion-vmm: a small VMM on /dev/kvm whose devices all live in ioregiond.
 * It loads a flat 32-bit guest image, starts vCPU threads in flat protected
 * mode, attaches to ioregiond as a named VM, registers every region (in the
 * kernel with KVM_SET_IOREGION, else through libioregion's exit forwarding),
 * takes regions plugged while it runs, and exits with the code the guest
 * writes to the debug-exit port. With --save, a guest write to the save
 * port, or SIGUSR2 wherever the guest is, stops the VM and writes its vCPU,
 * its memory and ioregiond's device state to a file (vmm_state.c);
 * --restore goes on from one.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm_ioregion.h"
#include "libioregion.h"
#include "vmm.h"

void vmm_say(const struct vmm *v, const char *fmt, ...)
{
	va_list ap;

	if (v->quiet)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "ioregion-vmm[%s]: ", v->vm_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Takes every vCPU out of KVM_RUN (SIGUSR1 has a handler that does
 * nothing). */
static void vmm_kick(struct vmm *v)
{
	int i;

	for (i = 0; i < v->nvcpus; i++)
		if (v->vcpus[i].thread)
			pthread_kill(v->vcpus[i].thread, SIGUSR1);
}

/* Ends every vCPU: the first code set wins. */
static void vmm_finish(struct vmm *v, int code)
{
	if (atomic_exchange(&v->stop, true))
		return;
	atomic_store(&v->exit_code, code);
	vmm_kick(v);
}

static int vmm_load_image(struct vmm *v)
{
	struct stat st;
	int fd = open(v->image, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "ioregion-vmm: %s: %s\n", v->image, strerror(errno));
		return -1;
	}
	if (st.st_size > VMM_MEM_SIZE - VMM_LOAD_ADDR) {
		fprintf(stderr, "ioregion-vmm: %s: image too large\n", v->image);
		close(fd);
		return -1;
	}
	n = read(fd, v->mem + VMM_LOAD_ADDR, (size_t)st.st_size);
	close(fd);
	return n == st.st_size ? 0 : -1;
}

static int vmm_create_vm(struct vmm *v)
{
	struct kvm_userspace_memory_region mr = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = VMM_MEM_SIZE,
	};

	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0) {
		fprintf(stderr, "ioregion-vmm: /dev/kvm: %s\n", strerror(errno));
		return -1;
	}
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	v->run_size = (size_t)ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	v->mem = mmap(NULL, VMM_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->vm < 0 || v->mem == MAP_FAILED) {
		fprintf(stderr, "ioregion-vmm: KVM_CREATE_VM: %s\n", strerror(errno));
		return -1;
	}
	mr.userspace_addr = (uintptr_t)v->mem;
	if (ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0 ||
	    ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		fprintf(stderr, "ioregion-vmm: memory setup: %s\n", strerror(errno));
		return -1;
	}
	/* A restored VM's memory comes from its state file. */
	return v->restore_path ? 0 : vmm_load_image(v);
}

/* Flat 4 GiB code and data segments, protection on, no paging. */
static void vmm_flat_segment(struct kvm_segment *s, uint16_t selector,
			     uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector,
		.type = type, .present = 1, .dpl = 0, .db = 1, .s = 1,
		.l = 0, .g = 1,
	};
}

static int vmm_setup_vcpu(struct vmm *v, struct vmm_vcpu *c)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };

	c->fd = ioctl(v->vm, KVM_CREATE_VCPU, c->index);
	if (c->fd < 0)
		return -1;
	c->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      c->fd, 0);
	if (c->run == MAP_FAILED || ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	vmm_flat_segment(&sregs.cs, 0x08, 11);
	vmm_flat_segment(&sregs.ds, 0x10, 3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 |= 1;
	regs.rip = VMM_LOAD_ADDR;
	regs.rsp = VMM_STACK_TOP - (uint64_t)c->index * VMM_STACK_SIZE;
	regs.rsi = (uint64_t)c->index;
	regs.rflags = 2;
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(c->fd, KVM_SET_REGS, &regs) < 0)
		return -1;
	if (c->index == 0 && !v->no_coalesce &&
	    ioctl(v->vm, KVM_CHECK_EXTENSION,
				   KVM_CAP_COALESCED_MMIO) > 0)
		ioregion_vm_set_coalesced_ring(
			v->iovm, (uint8_t *)c->run +
				 KVM_COALESCED_MMIO_PAGE_OFFSET * sysconf(_SC_PAGESIZE));
	return 0;
}

/* Accesses no region claims: reads float high, writes vanish, as on a bus
 * with nothing behind it. */
static void vmm_unclaimed(struct vmm *v, struct kvm_run *run)
{
	atomic_fetch_add(&v->unclaimed, 1);
	if (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write)
		memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
	if (run->exit_reason == KVM_EXIT_IO &&
	    run->io.direction == KVM_EXIT_IO_IN)
		memset((uint8_t *)run + run->io.data_offset, 0xff,
		       (size_t)run->io.size * run->io.count);
}

/* KVM could not complete an access on the in-kernel path: ioregiond is
 * gone or broken, like a lost connection on the fallback path. The access
 * is never done again here: with KVM_IOREGION_FAILURE_SENT the device may
 * have done it already (a write twice, a read's side effect twice). */
static void vmm_ioregion_failure(struct vmm *v, struct vmm_vcpu *c)
{
	const struct kvm_ioregion_failure *f = kvm_run_ioregion_failure(c->run);

	fprintf(stderr,
		"ioregion-vmm[%s]: vcpu %d: KVM_EXIT_IOREGIONFD_FAILURE: %u-byte %s %s 0x%llx (%s the device): %s\n",
		v->vm_name, c->index, f->len, f->is_write ? "write" : "read",
		f->is_pio ? "port" : "at", (unsigned long long)f->gpa,
		f->flags & KVM_IOREGION_FAILURE_SENT ? "sent to" : "not sent to",
		strerror(-f->error));
	vmm_finish(v, VMM_EXIT_DAEMON_GONE);
}

static bool vmm_exit(struct vmm *v, struct vmm_vcpu *c);

/* Stops the VM for --save, the main thread writing the state once the
 * vCPU is out. An ioregion access the vCPU left in flight is finished
 * first (the pending-access rule), else the restored guest would do it a
 * second time; a device that does not answer within --save-wait refuses
 * the save and the VM runs on. Returns true when the vCPU is done. */
static bool vmm_save_stop(struct vmm *v, struct vmm_vcpu *c)
{
	bool pending = c->run->flags & KVM_RUN_IOREGION_PENDING;
	char what[160] = "";
	int rc;

	if (pending) {
		ioregion_vm_describe_pending(v->iovm, c->run, what, sizeof(what));
		vmm_say(v, "vcpu %d: a %s is in flight: completing it before saving",
			c->index, what);
	}
	/* an exit on the way (the other half of an access across a page, or
	 * one no region claims) is handled as in the run loop */
	while ((rc = ioregion_vcpu_complete_pending(c->fd, c->run,
						    v->save_wait_ms,
						    SIGUSR1)) > 0)
		if (!vmm_exit(v, c))
			return true;
	if (rc == -ETIMEDOUT) {
		fprintf(stderr,
			"ioregion-vmm[%s]: not saving: vcpu %d's %s got no answer within %d ms; the VM runs on\n",
			v->vm_name, c->index, what, v->save_wait_ms);
		return false;
	}
	if (rc < 0) {
		fprintf(stderr, "ioregion-vmm[%s]: not saving: vcpu %d's %s: %s\n",
			v->vm_name, c->index, what, strerror(-rc));
		vmm_finish(v, VMM_EXIT_DAEMON_GONE);
		return true;
	}
	if (pending)
		vmm_say(v, "vcpu %d: the %s completed", c->index, what);
	ioregion_vm_flush(v->iovm);
	v->save_vcpu = c;
	vmm_finish(v, VMM_EXIT_SAVED);
	return true;
}

/* The guest's save point. KVM finishes an OUT (RIP past it) only on the
 * next KVM_RUN: one with immediate_exit does that and returns at once, so
 * the saved vCPU goes on after the OUT. Returns true when the vCPU is
 * done. */
static bool vmm_save_point(struct vmm *v, struct vmm_vcpu *c)
{
	if (!v->save_path)
		return false;
	c->run->immediate_exit = 1;
	if (ioctl(c->fd, KVM_RUN, 0) == 0 || errno != EINTR)
		fprintf(stderr, "ioregion-vmm[%s]: completing the save point's OUT: %s\n",
			v->vm_name, strerror(errno));
	c->run->immediate_exit = 0;
	return vmm_save_stop(v, c);
}

/* Returns false when the vCPU is done. */
static bool vmm_exit(struct vmm *v, struct vmm_vcpu *c)
{
	struct kvm_run *run = c->run;
	int rc;

	/* a device's answer for KVM's completion, not an exit: enter again */
	if (run->flags & KVM_RUN_IOREGION_ANSWERED)
		return true;
	if (run->exit_reason == KVM_EXIT_IO && run->io.port == VMM_EXIT_PORT &&
	    run->io.direction == KVM_EXIT_IO_OUT) {
		ioregion_vm_flush(v->iovm);
		vmm_finish(v, *((uint8_t *)run + run->io.data_offset));
		return false;
	}
	if (run->exit_reason == KVM_EXIT_IO && run->io.port == VMM_SAVE_PORT &&
	    run->io.direction == KVM_EXIT_IO_OUT)
		return !vmm_save_point(v, c);
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
	case KVM_EXIT_IO:
		rc = ioregion_vm_handle_exit(v->iovm, run);
		if (rc < 0) {
			fprintf(stderr, "ioregion-vmm[%s]: vcpu %d: ioregiond: %s\n",
				v->vm_name, c->index, strerror(-rc));
			vmm_finish(v, VMM_EXIT_DAEMON_GONE);
			return false;
		}
		if (rc == 0)
			vmm_unclaimed(v, run);
		return true;
	case KVM_EXIT_HLT:
		return false;
	case KVM_EXIT_IOREGIONFD_FAILURE:
		vmm_ioregion_failure(v, c);
		return false;
	default:
		fprintf(stderr, "ioregion-vmm[%s]: vcpu %d: unexpected exit %u\n",
			v->vm_name, c->index, run->exit_reason);
		vmm_finish(v, VMM_EXIT_GUEST_FAULT);
		return false;
	}
}

static void *vmm_vcpu_thread(void *arg)
{
	struct vmm_vcpu *c = arg;
	struct vmm *v = c->vmm;

	while (!atomic_load(&v->stop)) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				fprintf(stderr, "ioregion-vmm: KVM_RUN: %s\n",
					strerror(errno));
				vmm_finish(v, VMM_EXIT_GUEST_FAULT);
				break;
			}
			/* kicked out for a save (SIGUSR2) */
			if (atomic_exchange(&v->save_asked, false) &&
			    vmm_save_stop(v, c))
				break;
			continue;
		}
		if (!vmm_exit(v, c))
			break;
	}
	/* The last vCPU to halt ends the VM. */
	if (atomic_fetch_sub(&v->running, 1) == 1)
		vmm_finish(v, 0);
	return NULL;
}

/* Opens the region's line once: KVM_IRQFD where the VM has an irqchip
 * (ioregion-vmm creates none), else the VMM polls it. */
static void vmm_add_irq(struct vmm *v, const struct ioregion_region *r)
{
	unsigned int i;
	int fd, rc;

	for (i = 0; i < v->nirqs; i++)
		if (v->irqs[i].line == (unsigned int)r->irq)
			return;
	if (v->nirqs == VMM_MAX_IRQS) {
		vmm_say(v, "region %s: irq %d: more than %d lines", r->name,
			r->irq, VMM_MAX_IRQS);
		return;
	}
	rc = ioregion_irq_open(v->client, v->vm, (unsigned int)r->irq, &fd);
	if (rc < 0) {
		vmm_say(v, "region %s: irq %d: %s", r->name, r->irq,
			ioregion_client_error(v->client));
		return;
	}
	if (rc == IOREGION_IRQ_KVM) {
		vmm_say(v, "irq %d: KVM_IRQFD", r->irq);
		close(fd);
		return;
	}
	v->irqs[v->nirqs++] = (struct vmm_irq){ .line = (unsigned int)r->irq,
						.fd = fd };
}

static void vmm_report_path(void *ctx, const struct ioregion_region *r,
			    enum ioregion_path path)
{
	struct vmm *v = ctx;

	vmm_say(v, "region %s (%s, %s 0x%llx+0x%llx%s): %s", r->name, r->device,
		r->bus == IOREGION_BUS_PIO ? "pio" : "mmio",
		(unsigned long long)r->address, (unsigned long long)r->size,
		r->flags & IOREGION_REGION_POSTED_WRITES ? ", posted" : "",
		path == IOREGION_PATH_KERNEL ? "in-kernel KVM_SET_IOREGION"
					     : "fallback (exits forwarded)");
	if (r->irq >= 0)
		vmm_add_irq(v, r);
}

static void vmm_count_irq(void *ctx, unsigned int line)
{
	struct vmm_irq *irq = ctx;

	(void)line;
	irq->delivered++;
}

/* Interrupts on the polled lines; pfds[0] is the control socket. */
static void vmm_poll_irqs(struct vmm *v, const struct pollfd *pfds)
{
	unsigned int i;

	for (i = 0; i < v->nirqs; i++)
		if (pfds[i + 1].revents & POLLIN)
			ioregion_irq_handle(v->irqs[i].fd, v->irqs[i].line,
					    vmm_count_irq, &v->irqs[i]);
}

static volatile sig_atomic_t vmm_save_signalled;

static void vmm_on_save_signal(int sig)
{
	(void)sig;
	vmm_save_signalled = 1;
}

/* A save asked by SIGUSR2 is done by the vCPU once out of KVM_RUN: kicked
 * until it takes the request (a kick between two KVM_RUNs is lost). */
static void vmm_ask_save(struct vmm *v)
{
	if (vmm_save_signalled) {
		vmm_save_signalled = 0;
		vmm_say(v, "SIGUSR2: saving to %s", v->save_path);
		atomic_store(&v->save_asked, true);
	}
	if (atomic_load(&v->save_asked))
		vmm_kick(v);
}

/* Events, interrupts, save requests and daemon liveness, until the guest
 * is done. */
static void vmm_watch_daemon(struct vmm *v)
{
	struct pollfd pfds[1 + VMM_MAX_IRQS];
	struct ioregion_event ev;
	unsigned int i;
	int rc;

	pfds[0] = (struct pollfd){ .fd = ioregion_client_fd(v->client),
				   .events = POLLIN };
	while (!atomic_load(&v->stop)) {
		vmm_ask_save(v);
		/* Plugged regions may have added lines. */
		for (i = 0; i < v->nirqs; i++)
			pfds[i + 1] = (struct pollfd){ .fd = v->irqs[i].fd,
						       .events = POLLIN };
		if (poll(pfds, 1 + v->nirqs, 100) <= 0)
			continue;
		vmm_poll_irqs(v, pfds);
		while ((rc = ioregion_client_next_event(v->client, &ev)) == 1) {
			if (ev.type == IOREGION_EVENT_REGION_ADDED) {
				if (ev.region.irq >= 0)
					vmm_add_irq(v, &ev.region);
				rc = ioregion_vm_register(v->iovm, ev.region.name);
				if (rc < 0)
					vmm_say(v, "region %s: %s", ev.region.name,
						ioregion_client_error(v->client));
				else
					vmm_say(v, "region %s plugged: %s", ev.region.name,
						ioregion_vm_path(v->iovm, ev.region.name) ==
						IOREGION_PATH_KERNEL ? "in-kernel" : "fallback");
			} else {
				ioregion_vm_unregister(v->iovm, ev.region.name);
				vmm_say(v, "region %s unplugged", ev.region.name);
			}
		}
		if (rc < 0) {
			fprintf(stderr, "ioregion-vmm[%s]: ioregiond went away: %s\n",
				v->vm_name, ioregion_client_error(v->client));
			vmm_finish(v, VMM_EXIT_DAEMON_GONE);
		}
	}
}

static int vmm_connect(struct vmm *v)
{
	int rc = ioregion_client_connect(v->socket, "ioregion-vmm", v->vm_name,
					 &v->client);

	if (rc < 0) {
		fprintf(stderr, "ioregion-vmm: %s\n",
			v->client ? ioregion_client_error(v->client) : strerror(-rc));
		return -1;
	}
	if (ioregion_client_subscribe(v->client) < 0 ||
	    ioregion_vm_new(v->client, v->vm,
			    v->force_fallback ? IOREGION_VM_FORCE_FALLBACK : 0,
			    &v->iovm) < 0) {
		fprintf(stderr, "ioregion-vmm: %s\n", ioregion_client_error(v->client));
		return -1;
	}
	vmm_say(v, "KVM_CAP_IOREGIONFD: %s%s",
		ioregion_vm_kernel_capable(v->iovm) ? "yes" :
		"no (this kernel has no ioregionfd: exits are forwarded)",
		v->force_fallback ? " (fallback forced)" : "");
	return 0;
}

static void vmm_on_signal(int sig)
{
	(void)sig;
}

static uint64_t vmm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int vmm_run(struct vmm *v)
{
	struct sigaction sa = { .sa_handler = vmm_on_signal };
	uint64_t start;
	int i, rc;

	sigaction(SIGUSR1, &sa, NULL);
	if (v->save_path) {
		sa.sa_handler = vmm_on_save_signal;
		sigaction(SIGUSR2, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	if (vmm_create_vm(v) < 0 || vmm_connect(v) < 0)
		return VMM_EXIT_SETUP;
	for (i = 0; i < v->nvcpus; i++) {
		v->vcpus[i] = (struct vmm_vcpu){ .vmm = v, .index = i };
		if (vmm_setup_vcpu(v, &v->vcpus[i]) < 0) {
			fprintf(stderr, "ioregion-vmm: vcpu %d: %s\n", i, strerror(errno));
			return VMM_EXIT_SETUP;
		}
	}
	/* The device state goes in before any region is opened. */
	if (v->restore_path && (vmm_state_restore(v, &v->vcpus[0]) < 0 ||
				vmm_state_load_devices(v) < 0))
		return VMM_EXIT_SETUP;
	rc = ioregion_vm_register_all(v->iovm);
	if (rc < 0) {
		fprintf(stderr, "ioregion-vmm: registering regions: %s\n",
			ioregion_client_error(v->client));
		return VMM_EXIT_SETUP;
	}
	ioregion_vm_foreach(v->iovm, vmm_report_path, v);
	atomic_store(&v->running, v->nvcpus);
	start = vmm_now_ns();
	for (i = 0; i < v->nvcpus; i++)
		pthread_create(&v->vcpus[i].thread, NULL, vmm_vcpu_thread, &v->vcpus[i]);
	vmm_watch_daemon(v);
	for (i = 0; i < v->nvcpus; i++)
		pthread_join(v->vcpus[i].thread, NULL);
	/* for benchmarks: guest time without the VMM's own set-up */
	if (v->timed)
		fprintf(stderr, "ioregion-vmm[%s]: guest ran %llu ns\n", v->vm_name,
			(unsigned long long)(vmm_now_ns() - start));
	if (atomic_load(&v->unclaimed))
		vmm_say(v, "%lu accesses hit no region", atomic_load(&v->unclaimed));
	for (i = 0; i < (int)v->nirqs; i++) {
		/* edges still pending when the guest stopped count too */
		ioregion_irq_handle(v->irqs[i].fd, v->irqs[i].line,
				    vmm_count_irq, &v->irqs[i]);
		vmm_say(v, "irq %u: %lu interrupts", v->irqs[i].line,
			v->irqs[i].delivered);
	}
	if (v->save_vcpu) {
		/* Only the main thread talks to the daemon. */
		if (vmm_state_save(v, v->save_vcpu) < 0)
			return VMM_EXIT_SETUP;
		vmm_say(v, "VM stopped: state saved to %s",
			v->save_path);
		return 0;
	}
	if (v->save_path)
		vmm_say(v, "the guest never reached its save point: nothing saved");
	vmm_say(v, "guest exit code %d", atomic_load(&v->exit_code));
	return atomic_load(&v->exit_code);
}

static void vmm_usage(FILE *out)
{
	fprintf(out,
		"Usage: ioregion-vmm [OPTION]... IMAGE\n"
		"       ioregion-vmm [OPTION]... --restore FILE\n"
		"Run a flat 32-bit guest image on /dev/kvm with its devices in ioregiond.\n"
		"\n"
		"  -s, --socket PATH     ioregiond's control socket\n"
		"  -n, --vm NAME         attach as this VM (default vm0)\n"
		"  -c, --vcpus N         vCPU threads (1..%d, default 1)\n"
		"  -f, --force-fallback  forward exits even if KVM has KVM_SET_IOREGION\n"
		"      --no-coalesce     one exit per posted write on the fallback path\n"
		"  -q, --quiet           print only errors\n"
		"  -t, --time            print how long the guest ran, in ns\n"
		"      --save FILE       at the guest's save point (a write to port\n"
		"                        0x%x) or on SIGUSR2 stop, save the vCPU,\n"
		"                        memory and ioregiond's device state to\n"
		"                        FILE, exit 0\n"
		"      --save-wait MS    how long a save waits for a device to\n"
		"                        answer an access in flight; then it is\n"
		"                        refused and the VM runs on (default %d)\n"
		"      --restore FILE    go on from FILE instead of starting IMAGE\n"
		"                        (on this daemon or another with the VM's\n"
		"                        regions); one vCPU with either\n"
		"  -h, --help            this help\n"
		"\n"
		"The guest starts at 0x%x in flat protected mode with ESI = vCPU index\n"
		"and ends by writing its exit code to port 0x%x. Exit status: the\n"
		"guest's code, %d if ioregiond went away, %d on setup errors.\n",
		VMM_MAX_VCPUS, VMM_SAVE_PORT, VMM_SAVE_WAIT_MS, VMM_LOAD_ADDR, VMM_EXIT_PORT, VMM_EXIT_DAEMON_GONE,
		VMM_EXIT_SETUP);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "vm", required_argument, NULL, 'n' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "force-fallback", no_argument, NULL, 'f' },
		{ "no-coalesce", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "time", no_argument, NULL, 't' },
		{ "save", required_argument, NULL, 'S' },
		{ "restore", required_argument, NULL, 'R' },
		{ "save-wait", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmm *v = calloc(1, sizeof(*v));
	int c, rc;

	v->vm_name = "vm0";
	v->nvcpus = 1;
	v->save_wait_ms = VMM_SAVE_WAIT_MS;
	while ((c = getopt_long(argc, argv, "s:n:c:fqth", opts, NULL)) != -1) {
		switch (c) {
		case 's': v->socket = optarg; break;
		case 'n': v->vm_name = optarg; break;
		case 'c': v->nvcpus = atoi(optarg); break;
		case 'f': v->force_fallback = true; break;
		case 'C': v->no_coalesce = true; break;
		case 'q': v->quiet = true; break;
		case 't': v->timed = true; break;
		case 'S': v->save_path = optarg; break;
		case 'R': v->restore_path = optarg; break;
		case 'W': v->save_wait_ms = atoi(optarg); break;
		case 'h': vmm_usage(stdout); return 0;
		default: vmm_usage(stderr); return 2;
		}
	}
	v->restore_fd = -1;
	if (optind + (v->restore_path ? 0 : 1) != argc || v->nvcpus < 1 ||
	    v->nvcpus > VMM_MAX_VCPUS || v->save_wait_ms <= 0 ||
	    ((v->save_path || v->restore_path) && v->nvcpus != 1)) {
		vmm_usage(stderr);
		return 2;
	}
	v->image = v->restore_path ? v->restore_path : argv[optind];
	rc = vmm_run(v);
	ioregion_vm_free(v->iovm);
	ioregion_client_free(v->client);
	if (v->restore_fd >= 0)
		close(v->restore_fd);
	free(v);
	return rc;
}
