// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioregion_test_ppc: the ioregionfd (KVM_SET_IOREGION) selftest cases on
 * powerpc Book3S, KVM-PR and KVM-HV, for tests/kernel/run.
 *
 * The series' own selftest (tools/testing/selftests/kvm/ioregion_test.c,
 * kernel-patch/0014) is built on kvm_util, which has no powerpc support in
 * Linux 6.12; this test keeps powerpc covered with raw ioctls and a few
 * hand-assembled real-mode instructions.  Every case drives real guest
 * accesses: each snippet does one MMIO access and then signals "done" with
 * a store to an unbacked address.  The test plays both the VMM and the
 * device server, which runs in a thread on the other end of a socketpair.
 * The cases, their names and what they expect are those of the kvm_util
 * test that apply to powerpc.  Where a case needs the vCPU asleep on the
 * device, it polls the ioregion_waits statistic; no case depends on a
 * sleep.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/ioregion.h>
#include <linux/kvm.h>

#include "kselftest.h"

#define CODE_GPA	0x1000
#define SNIPPET_SIZE	16
#define REGION_SIZE	0x2000
#define USER_DATA	0xfeedf00d12345678ULL
/* PAPR hcall numbers and returns (asm/hvcall.h is not uapi) */
#define H_LOGICAL_CI_LOAD	0x3c
#define H_PRIVILEGE		(-3)

#define RAM_GPA		0x0
#define RAM_SIZE	0x100000
#define MMIO_GPA	0x10000000
#define DONE_GPA	0x1f000000

#define POSTED_GPA	(MMIO_GPA + 0x4000)
#define DOORBELL_GPA	(MMIO_GPA + 0x6000)

enum op {
	OP_W1, OP_W2, OP_W4, OP_W8,
	OP_R1, OP_R2, OP_R4, OP_R8,
	OP_HCALL_CI_LOAD,
	OP_RS2, OP_RS4, OP_R4BR, OP_W4BR,
	OP_W4BE, OP_R4BE,
	NR_OPS
};

/* little-endian real mode; r3: address, r4: value, r5: DONE_GPA */
#define SNIPPET(insn) { insn, 0xf8850000, 0x48000000 }
#define SNIPPET_BE(insn) { __builtin_bswap32(insn), \
			   __builtin_bswap32(0xf8850000), \
			   __builtin_bswap32(0x48000000) }
static const uint32_t snippets[NR_OPS][SNIPPET_SIZE / 4] = {
	[OP_W1] = SNIPPET(0x98830000),	/* stb r4,0(r3) */
	[OP_W2] = SNIPPET(0xb0830000),	/* sth r4,0(r3) */
	[OP_W4] = SNIPPET(0x90830000),	/* stw r4,0(r3) */
	[OP_W8] = SNIPPET(0xf8830000),	/* std r4,0(r3) */
	[OP_R1] = SNIPPET(0x88830000),	/* lbz r4,0(r3) */
	[OP_R2] = SNIPPET(0xa0830000),	/* lhz r4,0(r3) */
	[OP_R4] = SNIPPET(0x80830000),	/* lwz r4,0(r3) */
	[OP_R8] = SNIPPET(0xe8830000),	/* ld r4,0(r3) */
	/* sc 1 with r3 = H_LOGICAL_CI_LOAD, r4 = size, r5 = address */
	[OP_HCALL_CI_LOAD] = { 0x44000022, 0xf8860000, 0x48000000 },
	[OP_RS2] = SNIPPET(0xa8830000),	/* lha r4,0(r3) */
	[OP_RS4] = SNIPPET(0xe8830002),	/* lwa r4,0(r3) */
	[OP_R4BR] = SNIPPET(0x7c801c2c),	/* lwbrx r4,0,r3 */
	[OP_W4BR] = SNIPPET(0x7c801d2c),	/* stwbrx r4,0,r3 */
	/* big-endian real mode (MSR_LE clear): the same, byte-swapped */
	[OP_W4BE] = SNIPPET_BE(0x90830000),	/* stw r4,0(r3) */
	[OP_R4BE] = SNIPPET_BE(0x80830000),	/* lwz r4,0(r3) */
};

struct vm {
	int kvm_fd;
	int fd;
	uint8_t *ram;
	size_t run_size;
};

struct vcpu {
	struct vm *vm;
	int fd;
	struct kvm_run *run;
};

static void die(const char *what)
{
	ksft_exit_fail_msg("%s: %s\n", what, strerror(errno));
}

/*
 * With both KVM-HV and KVM-PR built in, IOREGION_TEST_VM_TYPE selects one:
 * KVM_VM_PPC_HV (1) or KVM_VM_PPC_PR (2).
 */
static unsigned long vm_type(void)
{
	const char *type = getenv("IOREGION_TEST_VM_TYPE");

	if (type)
		return strtoul(type, NULL, 0);
	return 0;
}

static struct vm *vm_new(void)
{
	struct kvm_userspace_memory_region mem = {
		.guest_phys_addr = RAM_GPA,
		.memory_size = RAM_SIZE,
	};
	struct vm *vm = calloc(1, sizeof(*vm));

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		ksft_exit_skip("/dev/kvm: %s\n", strerror(errno));
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, vm_type());
	if (vm->fd < 0)
		die("KVM_CREATE_VM");
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ram == MAP_FAILED)
		die("mmap");
	memcpy(vm->ram + CODE_GPA, snippets, sizeof(snippets));
	mem.userspace_addr = (uintptr_t)vm->ram;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mem))
		die("KVM_SET_USER_MEMORY_REGION");
	return vm;
}

static void vm_free(struct vm *vm)
{
	close(vm->fd);
	close(vm->kvm_fd);
	munmap(vm->ram, RAM_SIZE);
	free(vm);
}

static void vcpu_arch_init(struct vcpu *vcpu)
{
	struct kvm_enable_cap papr = { .cap = KVM_CAP_PPC_PAPR };

	/* needed by KVM-HV; KVM-PR accepts it too */
	ioctl(vcpu->fd, KVM_ENABLE_CAP, &papr);
}

static struct vcpu *vcpu_new(struct vm *vm, int id)
{
	struct vcpu *vcpu = calloc(1, sizeof(*vcpu));

	vcpu->vm = vm;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0)
		die("KVM_CREATE_VCPU");
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED)
		die("mmap kvm_run");
	vcpu_arch_init(vcpu);
	return vcpu;
}

static void vcpu_free(struct vcpu *vcpu)
{
	munmap(vcpu->run, vcpu->vm->run_size);
	close(vcpu->fd);
	free(vcpu);
}

/*
 * Point the vCPU at the snippet for @op.  @addr is a guest physical
 * address; @val is the value written.
 */
static void vcpu_prepare(struct vcpu *vcpu, enum op op, uint64_t addr,
			 uint64_t val)
{
	uint64_t pc = CODE_GPA + op * SNIPPET_SIZE;
	struct kvm_regs regs;

	/*
	 * Let KVM complete the previous "done" store first (powerpc steps
	 * past it on the next KVM_RUN), without running the guest, so that
	 * the registers set below are not touched.
	 */
	vcpu->run->immediate_exit = 1;
	ioctl(vcpu->fd, KVM_RUN, 0);
	vcpu->run->immediate_exit = 0;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs))
		die("KVM_GET_REGS");
	regs.pc = pc;
	regs.msr = (1ULL << 63) | (1ULL << 12) | 1;	/* SF, ME, LE */
	if (op == OP_W4BE || op == OP_R4BE)
		regs.msr &= ~1ULL;
	regs.gpr[3] = addr;
	regs.gpr[4] = val;
	regs.gpr[5] = DONE_GPA;
	regs.gpr[6] = DONE_GPA;
	if (op == OP_HCALL_CI_LOAD) {
		regs.gpr[3] = H_LOGICAL_CI_LOAD;
		regs.gpr[4] = val;
		regs.gpr[5] = addr;
	}
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs))
		die("KVM_SET_REGS");
}

/* The value register after a read snippet. */
static uint64_t vcpu_value(struct vcpu *vcpu, enum op op)
{
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs))
		die("KVM_GET_REGS");
	return regs.gpr[4];
}

static bool vcpu_is_done(struct vcpu *vcpu)
{
	return vcpu->run->exit_reason == KVM_EXIT_MMIO &&
	       vcpu->run->mmio.phys_addr == DONE_GPA;
}

/* One KVM_RUN: 0 or -errno. */
static int vcpu_run(struct vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_RUN, 0) ? -errno : 0;
}

/* r3 after a hypercall: its status. */
static uint64_t vcpu_hcall_status(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs))
		die("KVM_GET_REGS");
	return regs.gpr[3];
}

/* Run until the snippet is done; false on any other exit. */
static bool vcpu_run_to_done(struct vcpu *vcpu)
{
	int ret = vcpu_run(vcpu);

	if (ret || !vcpu_is_done(vcpu)) {
		ksft_print_msg("KVM_RUN: %d, exit_reason %u\n", ret,
			       vcpu->run->exit_reason);
		return false;
	}
	return true;
}

static uint64_t size_mask(uint64_t size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* The device server: memory-like registers behind a socketpair. */
enum dev_mode {
	DEV_ANSWER,	/* answer every command that wants a response */
	DEV_SILENT,	/* read commands, never answer */
	DEV_SHORT,	/* answer with half a frame */
	DEV_CLOSE,	/* read a command, then close */
	DEV_HOLD,	/* answer every command but the hold_at-th */
	DEV_TWICE,	/* answer every command that wants a response twice */
};

#define DEV_LOG_MAX	512

struct dev {
	int kvm_end;
	int fd;
	enum dev_mode mode;
	unsigned int hold_at;		/* DEV_HOLD: left to the test (1-based) */
	pthread_t thread;
	pthread_mutex_t lock;
	unsigned int nr_cmds;
	struct ioregion_cmd log[DEV_LOG_MAX];
	uint8_t mem[REGION_SIZE];
};

static void thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int ret = pthread_create(t, NULL, fn, arg);

	if (ret)
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(ret));
}

/* fcntl(F_SETFL) that fails the test instead of turning into a hang. */
static void fd_set_flags(int fd, int flags)
{
	if (fcntl(fd, F_SETFL, flags))
		die("fcntl");
}

static bool read_full(int fd, void *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n <= 0)
			return false;
		buf += n;
		len -= n;
	}
	return true;
}

/* Send @len bytes of @resp; a peer the test already shut is no error. */
static void dev_send(struct dev *dev, const struct ioregion_resp *resp,
		     size_t len)
{
	ssize_t n = send(dev->fd, resp, len, MSG_NOSIGNAL);

	if (n != (ssize_t)len && !(n < 0 && (errno == EPIPE ||
					     errno == ECONNRESET)))
		die("device write");
}

static void dev_serve_one(struct dev *dev, struct ioregion_cmd *cmd)
{
	unsigned int exp = cmd->info & IOREGION_INFO_SIZE_MASK;
	unsigned int size = 1 << exp;
	struct ioregion_resp resp = { 0 };
	uint64_t off = cmd->offset;
	unsigned int n;

	if (exp > IOREGION_SIZE_8 || off + size > REGION_SIZE)
		ksft_exit_fail_msg("bad frame: info %#x offset %#llx\n",
				   cmd->info, (unsigned long long)off);

	pthread_mutex_lock(&dev->lock);
	n = ++dev->nr_cmds;
	if (n <= DEV_LOG_MAX)
		dev->log[n - 1] = *cmd;
	if (cmd->cmd == IOREGION_CMD_WRITE)
		memcpy(dev->mem + off, &cmd->data, size);
	else
		memcpy(&resp.data, dev->mem + off, size);
	pthread_mutex_unlock(&dev->lock);

	if (!(cmd->info & IOREGION_INFO_RESP) || dev->mode == DEV_SILENT ||
	    (dev->mode == DEV_HOLD && n == dev->hold_at))
		return;
	if (dev->mode == DEV_CLOSE) {
		shutdown(dev->fd, SHUT_RDWR);
		return;
	}
	if (dev->mode == DEV_SHORT) {
		dev_send(dev, &resp, sizeof(resp) / 2);
		return;
	}
	dev_send(dev, &resp, sizeof(resp));
	if (dev->mode == DEV_TWICE)
		dev_send(dev, &resp, sizeof(resp));
}

static void *dev_thread(void *arg)
{
	struct dev *dev = arg;
	struct ioregion_cmd cmd;

	while (read_full(dev->fd, &cmd, sizeof(cmd)))
		dev_serve_one(dev, &cmd);
	return NULL;
}

static struct dev *dev_start_type(enum dev_mode mode, int type)
{
	struct dev *dev = calloc(1, sizeof(*dev));
	int sv[2];

	if (!dev)
		die("calloc");
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	dev->kvm_end = sv[0];
	dev->fd = sv[1];
	dev->mode = mode;
	pthread_mutex_init(&dev->lock, NULL);
	thread_start(&dev->thread, dev_thread, dev);
	return dev;
}

static struct dev *dev_start(enum dev_mode mode)
{
	return dev_start_type(mode, SOCK_STREAM);
}

/* Send @len bytes of a response carrying @data, as a silent device would. */
static void dev_answer(struct dev *dev, uint64_t data, size_t off, size_t len)
{
	struct ioregion_resp resp = { .data = data };

	if (send(dev->fd, (uint8_t *)&resp + off, len, MSG_NOSIGNAL) !=
	    (ssize_t)len)
		die("write response");
}

static unsigned int dev_nr_cmds(struct dev *dev)
{
	unsigned int n;

	pthread_mutex_lock(&dev->lock);
	n = dev->nr_cmds;
	pthread_mutex_unlock(&dev->lock);
	return n;
}

/* Wait (bounded: nested guests on a busy host are slow) for @n commands. */
static bool dev_wait_cmds(struct dev *dev, unsigned int n)
{
	int i;

	for (i = 0; i < 10000 && dev_nr_cmds(dev) < n; i++)
		usleep(1000);
	return dev_nr_cmds(dev) >= n;
}

/*
 * Wait (bounded) until exactly @n bytes wait on KVM's end of the socket:
 * 0 once KVM consumed what the device sent.
 */
static bool kvm_end_wait_bytes(struct dev *dev, int n)
{
	int i, queued;

	for (i = 0; i < 10000; i++) {
		if (ioctl(dev->kvm_end, FIONREAD, &queued))
			die("FIONREAD");
		if (queued == n)
			return true;
		usleep(1000);
	}
	ksft_print_msg("%d bytes queued for KVM, want %d\n", queued, n);
	return false;
}

static void dev_stop(struct dev *dev)
{
	shutdown(dev->fd, SHUT_RDWR);
	pthread_join(dev->thread, NULL);
	close(dev->fd);
	close(dev->kvm_end);
	free(dev);
}

/* KVM_RUN of one vCPU in a thread of its own, so that the test can wait. */
struct runner {
	struct vcpu *vcpu;
	pthread_t thread;
	int ret;
	bool done;
};

static void *runner_thread(void *arg)
{
	struct runner *r = arg;

	r->ret = vcpu_run(r->vcpu);
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void runner_start(struct runner *r, struct vcpu *vcpu)
{
	r->vcpu = vcpu;
	r->done = false;
	thread_start(&r->thread, runner_thread, r);
}

/* Wait up to @ms for a flag another thread sets. */
static bool wait_flag(bool *flag, int ms)
{
	for (; ms > 0 && !__atomic_load_n(flag, __ATOMIC_ACQUIRE); ms--)
		usleep(1000);
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/* Interrupt a runner that is still in KVM_RUN, and reap it. */
static void runner_stop(struct runner *r)
{
	while (!wait_flag(&r->done, 100))
		pthread_kill(r->thread, SIGUSR1);
	pthread_join(r->thread, NULL);
}

/* The binary stats fd of @vcpu (KVM_GET_STATS_FD). */
static int vcpu_stats_fd(struct vcpu *vcpu)
{
	int fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL);

	if (fd < 0)
		die("KVM_GET_STATS_FD");
	return fd;
}

/* The descriptor of statistic @name in @descs, which has @h's layout. */
static struct kvm_stats_desc *stats_desc_find(char *descs,
					      const struct kvm_stats_header *h,
					      const char *name)
{
	size_t dsize = sizeof(struct kvm_stats_desc) + h->name_size;
	struct kvm_stats_desc *d;
	unsigned int i;

	for (i = 0; i < h->num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsize);
		if (!strcmp(d->name, name))
			return d;
	}
	ksft_exit_fail_msg("no vCPU statistic %s\n", name);
	return NULL;
}

/* A statistic from a vCPU's stats fd, by name. */
static uint64_t stats_fd_read(int fd, const char *name)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t size;
	uint64_t val;
	char *descs;

	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		die("stats header");
	size = h.num_desc * (sizeof(*d) + h.name_size);
	descs = malloc(size);
	if (!descs || pread(fd, descs, size, h.desc_offset) != (ssize_t)size)
		die("stats descriptors");
	d = stats_desc_find(descs, &h, name);
	if (pread(fd, &val, sizeof(val), h.data_offset + d->offset) !=
	    sizeof(val))
		die("stats data");
	free(descs);
	return val;
}

static uint64_t vcpu_stat(struct vcpu *vcpu, const char *name)
{
	int fd = vcpu_stats_fd(vcpu);
	uint64_t val = stats_fd_read(fd, name);

	close(fd);
	return val;
}

/*
 * Wait (bounded) until the vCPU went to sleep on a device @n times in all:
 * ioregion_waits counts just before it sleeps.  @stats_fd is opened before
 * KVM_RUN, which holds the vCPU's mutex.
 */
static bool vcpu_wait_sleeps(int stats_fd, uint64_t n)
{
	int i;

	for (i = 0; i < 10000; i++) {
		if (stats_fd_read(stats_fd, "ioregion_waits") >= n)
			return true;
		usleep(1000);
	}
	ksft_print_msg("the vCPU did not wait for the device\n");
	return false;
}

/* Each region its own: a frame must carry its region's. */
static uint64_t region_user_data(uint64_t gpa)
{
	return USER_DATA ^ gpa;
}

static int set_ioregion(struct vm *vm, uint64_t gpa, uint64_t size, int rfd,
			int wfd, uint32_t flags)
{
	struct kvm_ioregion r = {
		.guest_paddr = gpa,
		.memory_size = size,
		.user_data = region_user_data(gpa),
		.read_fd = rfd,
		.write_fd = wfd,
		.flags = flags,
	};

	return ioctl(vm->fd, KVM_SET_IOREGION, &r) ? -errno : 0;
}

static int add_region(struct vm *vm, struct dev *dev, uint64_t gpa,
		      uint64_t size, uint32_t flags)
{
	return set_ioregion(vm, gpa, size, dev->kvm_end, dev->kvm_end, flags);
}

static void assign(struct vm *vm, struct dev *dev, uint64_t gpa,
		   uint64_t size, uint32_t flags)
{
	int ret = add_region(vm, dev, gpa, size, flags);

	if (ret)
		ksft_exit_fail_msg("KVM_SET_IOREGION %#llx+%#llx: %d\n",
				   (unsigned long long)gpa,
				   (unsigned long long)size, ret);
}

/* The frame @c, for the region at @region, is exactly as described. */
static bool check_frame(const struct ioregion_cmd *c, uint64_t region,
			int cmd, int size, bool resp, uint64_t offset,
			uint64_t data)
{
	static const uint8_t zero[sizeof(c->pad)];
	int exp = __builtin_ctz(size);
	uint8_t info = exp << IOREGION_INFO_SIZE_SHIFT |
		       (resp ? IOREGION_INFO_RESP : 0);

	if (c->cmd == cmd && c->info == info &&
	    c->user_data == region_user_data(region) &&
	    !memcmp(c->pad, zero, sizeof(zero)) &&
	    c->offset == offset && c->data == data)
		return true;
	ksft_print_msg("got cmd %u info %#x user_data %#llx offset %#llx data %#llx\n",
		       c->cmd, c->info, (unsigned long long)c->user_data,
		       (unsigned long long)c->offset,
		       (unsigned long long)c->data);
	ksft_print_msg("want cmd %d info %#x user_data %#llx offset %#llx data %#llx, zero pad\n",
		       cmd, info,
		       (unsigned long long)region_user_data(region),
		       (unsigned long long)offset, (unsigned long long)data);
	return false;
}

static uint64_t failure_data(struct kvm_run *run)
{
	uint64_t v;

	memcpy(&v, run->ioregion_failure.data, sizeof(v));
	return v;
}

static void set_failure_data(struct kvm_run *run, uint64_t v)
{
	memcpy(run->ioregion_failure.data, &v, sizeof(v));
}

/*
 * Complete the failure exit of a 4-byte read with @data.  Any other exit
 * means the guest already did its access: it is not run again, as a
 * silent device would then hang it.
 */
static bool failure_complete(struct vcpu *vcpu, int error, uint64_t data)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason != KVM_EXIT_IOREGIONFD_FAILURE ||
	    run->ioregion_failure.error != error) {
		ksft_print_msg("exit %u, error %d; want the failure exit, error %d\n",
			       run->exit_reason, run->ioregion_failure.error,
			       error);
		return false;
	}
	set_failure_data(run, data);
	return vcpu_run_to_done(vcpu) && vcpu_value(vcpu, OP_R4) == data;
}

static void expect(const char *name, int got, int want)
{
	if (got != want)
		ksft_print_msg("%s: got %d, want %d\n", name, got, want);
	ksft_test_result(got == want, "%s: %s\n", name,
			 want ? strerror(-want) : "ok");
}

/* Every flag outside KVM_IOREGION_VALID_FLAG_MASK: EINVAL. */
static void test_unknown_flags(struct vm *vm, struct dev *dev)
{
	int i, bad = 0;

	for (i = 0; i < 32; i++)
		if (!((1U << i) & KVM_IOREGION_VALID_FLAG_MASK))
			bad += add_region(vm, dev, MMIO_GPA, 8, 1U << i) !=
			       -EINVAL;
	ksft_test_result(!bad, "every unknown flag: EINVAL\n");
}

/* Each byte of kvm_ioregion.pad non-zero on its own: EINVAL. */
static void test_pad_bytes(struct vm *vm, struct dev *dev)
{
	struct kvm_ioregion r = { .guest_paddr = MMIO_GPA, .memory_size = 8,
				  .read_fd = dev->kvm_end,
				  .write_fd = dev->kvm_end };
	int i, bad = 0;

	for (i = 0; i < (int)sizeof(r.pad); i++) {
		memset(r.pad, 0, sizeof(r.pad));
		r.pad[i] = 1;
		bad += (ioctl(vm->fd, KVM_SET_IOREGION, &r) ? -errno : 0) !=
		       -EINVAL;
	}
	ksft_test_result(!bad, "every non-zero pad byte: EINVAL\n");
}

/* An fd number that is surely closed. */
static int closed_fd(int fd)
{
	int dup_fd = dup(fd);

	if (dup_fd < 0 || close(dup_fd))
		die("dup");
	return dup_fd;
}

static void test_ioctl_errors(void)
{
	struct vm *vm = vm_new();
	struct dev *dev = dev_start(DEV_ANSWER);
	struct kvm_ioeventfd ioe = { .len = 4 };
	int efd = eventfd(0, EFD_CLOEXEC);
	int ret;

	if (efd < 0)
		die("eventfd");
	expect("deassign without a region",
	       set_ioregion(vm, MMIO_GPA, 8, dev->kvm_end, dev->kvm_end,
			    KVM_IOREGION_DEASSIGN), -ENOENT);
	test_unknown_flags(vm, dev);
	expect("zero size without POSTED_WRITES",
	       add_region(vm, dev, MMIO_GPA, 0, 0), -EINVAL);
	expect("address wrap-around", add_region(vm, dev, ~0ULL - 3, 8, 0),
	       -EINVAL);
	test_pad_bytes(vm, dev);
	expect("bad read_fd",
	       set_ioregion(vm, MMIO_GPA, 8, closed_fd(dev->kvm_end),
			    dev->kvm_end, 0), -EBADF);
	expect("bad write_fd",
	       set_ioregion(vm, MMIO_GPA, 8, dev->kvm_end, -1, 0), -EBADF);

	expect("assign", add_region(vm, dev, MMIO_GPA, 0x100, 0), 0);
	expect("overlapping ioregion",
	       add_region(vm, dev, MMIO_GPA + 0xf8, 0x10, 0), -EEXIST);
	ioe.addr = MMIO_GPA + 0x10;
	ioe.fd = efd;
	ret = ioctl(vm->fd, KVM_IOEVENTFD, &ioe) ? -errno : 0;
	expect("ioeventfd inside an ioregion", ret, -EEXIST);
	ioe.addr = MMIO_GPA + 0x1000;
	ret = ioctl(vm->fd, KVM_IOEVENTFD, &ioe) ? -errno : 0;
	expect("ioeventfd outside", ret, 0);
	expect("ioregion over an ioeventfd",
	       add_region(vm, dev, MMIO_GPA + 0xf00, 0x200, 0), -EEXIST);
	expect("adjacent ioregion",
	       add_region(vm, dev, MMIO_GPA + 0x100, 0x100, 0), 0);
	expect("deassign with another size",
	       set_ioregion(vm, MMIO_GPA, 0x80, dev->kvm_end, dev->kvm_end,
			    KVM_IOREGION_DEASSIGN), -ENOENT);
	expect("deassign",
	       set_ioregion(vm, MMIO_GPA, 0x100, dev->kvm_end, dev->kvm_end,
			    KVM_IOREGION_DEASSIGN), 0);
	expect("assign again after deassign",
	       add_region(vm, dev, MMIO_GPA, 0x100, 0), 0);
	close(efd);
	vm_free(vm);
	dev_stop(dev);
}

/* Write then read back each size at several offsets; check the frames. */
static void test_mmio_sizes(void)
{
	static const uint64_t offsets[] = { 0, 0x18, 0x1ff8 };
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_ANSWER);
	int s, i, bad = 0;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	for (s = 0; s < 4; s++) {
		for (i = 0; i < 3; i++) {
			uint64_t size = 1 << s;
			uint64_t val = 0x8877665544332211ULL * (s + i + 1);
			uint64_t want = val & size_mask(size);
			unsigned int n = dev_nr_cmds(dev);
			uint64_t got;

			vcpu_prepare(vcpu, OP_W1 + s, MMIO_GPA + offsets[i],
				     val);
			if (!vcpu_run_to_done(vcpu))
				bad++;
			vcpu_prepare(vcpu, OP_R1 + s, MMIO_GPA + offsets[i],
				     0);
			if (!vcpu_run_to_done(vcpu))
				bad++;
			got = vcpu_value(vcpu, OP_R1 + s) & size_mask(size);
			if (got != want || dev_nr_cmds(dev) != n + 2 ||
			    !check_frame(&dev->log[n], MMIO_GPA,
					 IOREGION_CMD_WRITE, size, true,
					 offsets[i], want) ||
			    !check_frame(&dev->log[n + 1], MMIO_GPA,
					 IOREGION_CMD_READ, size, true,
					 offsets[i], 0)) {
				ksft_print_msg("size %lu offset %#lx: read %#lx want %#lx\n",
					       (unsigned long)size,
					       (unsigned long)offsets[i],
					       (unsigned long)got,
					       (unsigned long)want);
				bad++;
			}
		}
	}
	ksft_test_result(!bad, "MMIO reads and writes of 1, 2, 4 and 8 bytes\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

static void test_posted_writes(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_ANSWER);
	bool ok = true;
	int i;

	assign(vm, dev, POSTED_GPA, 0x1000, KVM_IOREGION_POSTED_WRITES);
	for (i = 0; i < 3; i++) {
		vcpu_prepare(vcpu, OP_W4, POSTED_GPA + 4 * i, 0xa0 + i);
		ok &= vcpu_run_to_done(vcpu);
	}
	vcpu_prepare(vcpu, OP_R4, POSTED_GPA + 8, 0);
	ok &= vcpu_run_to_done(vcpu);
	ok &= (uint32_t)vcpu_value(vcpu, OP_R4) == 0xa2;
	ok &= dev_nr_cmds(dev) == 4;
	for (i = 0; ok && i < 3; i++)
		ok &= check_frame(&dev->log[i], POSTED_GPA, IOREGION_CMD_WRITE,
				  4, false, 4 * i, 0xa0 + i);
	ok &= check_frame(&dev->log[3], POSTED_GPA, IOREGION_CMD_READ, 4, true,
			  8, 0);
	ksft_test_result(ok, "posted writes carry no response bit and are not waited for\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

static void test_doorbell(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_ANSWER);
	bool ok;

	expect("zero-length doorbell",
	       add_region(vm, dev, DOORBELL_GPA, 0, KVM_IOREGION_POSTED_WRITES),
	       0);
	vcpu_prepare(vcpu, OP_W4, DOORBELL_GPA, 0x1234);
	ok = vcpu_run_to_done(vcpu) && dev_wait_cmds(dev, 1) &&
	     check_frame(&dev->log[0], DOORBELL_GPA, IOREGION_CMD_WRITE, 1,
			 false, 0, 0);
	/*
	 * A read of a doorbell is left to userspace.  The doorbell is not on
	 * KVM_FAST_MMIO_BUS, so VMX decodes the read instead of skipping it.
	 */
	vcpu_prepare(vcpu, OP_R4, DOORBELL_GPA, 0);
	ok &= vcpu_run(vcpu) == 0 &&
	      vcpu->run->exit_reason == KVM_EXIT_MMIO &&
	      vcpu->run->mmio.phys_addr == DOORBELL_GPA &&
	      !vcpu->run->mmio.is_write;
	ok &= vcpu_run_to_done(vcpu) && dev_nr_cmds(dev) == 1;
	ksft_test_result(ok, "doorbell write sent as a posted frame, read exits to userspace\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/* lock-free atomics: safe in a signal handler, seen by the other threads */
static int nr_sigusr1;

static void sigusr1(int sig)
{
	__atomic_add_fetch(&nr_sigusr1, 1, __ATOMIC_RELAXED);
}

/*
 * A signal while the vCPU sleeps on the device: -EINTR, and the next
 * KVM_RUN waits for the response without sending the command again.  The
 * answer comes only after the -EINTR, so nothing else can explain it.
 */
static void test_signal_resume(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);
	int stats_fd = vcpu_stats_fd(vcpu);
	uint64_t waits = stats_fd_read(stats_fd, "ioregion_waits");
	struct runner r;
	bool ok;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x40, 0);
	runner_start(&r, vcpu);
	ok = dev_wait_cmds(dev, 1) && vcpu_wait_sleeps(stats_fd, waits + 1);
	pthread_kill(r.thread, SIGUSR1);
	ok &= wait_flag(&r.done, 10000);
	runner_stop(&r);
	ok &= r.ret == -EINTR && vcpu->run->exit_reason == KVM_EXIT_INTR;
	dev_answer(dev, 0xcafe, 0, sizeof(struct ioregion_resp));
	ok &= vcpu_run_to_done(vcpu) &&
	      (uint32_t)vcpu_value(vcpu, OP_R4) == 0xcafe &&
	      dev_nr_cmds(dev) == 1;
	ksft_test_result(ok, "signal while waiting: KVM_EXIT_INTR, resumed without resending\n");
	close(stats_fd);
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * The failure exit in @run describes the 4-byte access at @gpa exactly,
 * and whether its command had been sent (@want_flags).
 */
static bool failure_exit_ok(struct kvm_run *run, uint64_t gpa, bool is_write,
			    int want_error, unsigned int want_flags)
{
	bool ok = run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE &&
		  run->ioregion_failure.gpa == gpa &&
		  run->ioregion_failure.len == 4 &&
		  run->ioregion_failure.is_write == is_write &&
		  !run->ioregion_failure.is_pio &&
		  run->ioregion_failure.user_data ==
		  region_user_data(MMIO_GPA) &&
		  run->ioregion_failure.flags == want_flags &&
		  !run->ioregion_failure.reserved &&
		  failure_data(run) == (is_write ? 0x77 : 0) &&
		  run->ioregion_failure.error == want_error;

	if (!ok)
		ksft_print_msg("exit %u gpa %#llx len %u write %u error %d flags %#x user_data %#llx\n",
			       run->exit_reason,
			       (unsigned long long)run->ioregion_failure.gpa,
			       run->ioregion_failure.len,
			       run->ioregion_failure.is_write,
			       run->ioregion_failure.error,
			       run->ioregion_failure.flags,
			       (unsigned long long)run->ioregion_failure.user_data);
	return ok;
}

/*
 * A failure exit carries the access, and whether its command had been
 * sent; userspace supplies the read value and the next KVM_RUN completes
 * the instruction with it.
 */
static void test_failure(const char *name, enum dev_mode mode, int type,
			 bool close_peer, enum op op, int want_error,
			 unsigned int want_flags)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start_type(mode, type);
	bool is_write = op <= OP_W8;
	struct kvm_run *run = vcpu->run;
	uint64_t gpa = MMIO_GPA + 0x80;
	bool ok;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	if (close_peer)
		shutdown(dev->fd, SHUT_RDWR);
	vcpu_prepare(vcpu, op, gpa, 0x77);
	ok = vcpu_run(vcpu) == 0 &&
	     failure_exit_ok(run, gpa, is_write, want_error, want_flags);
	set_failure_data(run, 0x5a5a5a5a);
	ok &= vcpu_run_to_done(vcpu);
	if (!is_write)
		ok &= (uint32_t)vcpu_value(vcpu, op) == 0x5a5a5a5a;
	/* a broken channel fails every later access too, sending nothing */
	if (mode == DEV_SHORT || mode == DEV_CLOSE) {
		vcpu_prepare(vcpu, op, gpa, 0x77);
		ok &= vcpu_run(vcpu) == 0 &&
		      run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE &&
		      run->ioregion_failure.error == want_error &&
		      !run->ioregion_failure.flags &&
		      dev_nr_cmds(dev) == 1;
		ok &= vcpu_run_to_done(vcpu);
	}
	ksft_test_result(ok, "%s: failure exit with error %d, completed by userspace\n",
			 name, want_error);
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * A response that no command asked for breaks the channel with EIO,
 * whether KVM reads it as soon as it comes or finds it waiting when the
 * next access is about to send; it is never taken for the answer to the
 * next command.
 */
static void test_unsolicited(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);
	struct runner r;
	bool ok;
	int i;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x10, 0);
	runner_start(&r, vcpu);
	ok = dev_wait_cmds(dev, 1);
	/* the answer, and one more before the next access */
	dev_answer(dev, 0x44332211, 0, sizeof(struct ioregion_resp));
	dev_answer(dev, 0x55555555, 0, sizeof(struct ioregion_resp));
	ok &= wait_flag(&r.done, 10000);
	runner_stop(&r);
	ok &= !r.ret && vcpu_is_done(vcpu) &&
	      (uint32_t)vcpu_value(vcpu, OP_R4) == 0x44332211;
	for (i = 0; i < 2; i++) {
		vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x10, 0);
		ok &= vcpu_run(vcpu) == 0 && failure_complete(vcpu, -EIO, i);
	}
	ok &= dev_nr_cmds(dev) == 1;
	ksft_test_result(ok, "unsolicited response breaks the channel with EIO\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

struct deassign_args {
	struct vm *vm;
	struct dev *dev;
	int stats_fd;
	uint64_t waits;
	bool slept;
	int ret;
};

/* Deassign once the vCPU sleeps: the deassign must wake it. */
static void *deassign_later(void *arg)
{
	struct deassign_args *a = arg;

	a->slept = dev_wait_cmds(a->dev, 1) &&
		   vcpu_wait_sleeps(a->stats_fd, a->waits + 1);
	a->ret = set_ioregion(a->vm, MMIO_GPA, REGION_SIZE, a->dev->kvm_end,
			      a->dev->kvm_end, KVM_IOREGION_DEASSIGN);
	return NULL;
}

/* The region goes while @vcpu sleeps on it: -ENODEV, then plain MMIO. */
static bool removed_while_waiting(struct vm *vm, struct vcpu *vcpu,
				  struct dev *dev)
{
	struct deassign_args a = { .vm = vm, .dev = dev, .ret = 1 };
	struct kvm_run *run = vcpu->run;
	pthread_t t;
	bool ok;
	int ret;

	a.stats_fd = vcpu_stats_fd(vcpu);
	a.waits = stats_fd_read(a.stats_fd, "ioregion_waits");
	thread_start(&t, deassign_later, &a);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x100, 0);
	ret = vcpu_run(vcpu);
	pthread_join(t, NULL);
	close(a.stats_fd);
	ok = !ret && run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE &&
	     run->ioregion_failure.error == -ENODEV &&
	     run->ioregion_failure.flags == KVM_IOREGION_FAILURE_SENT &&
	     a.ret == 0 && a.slept;
	set_failure_data(run, 1);
	ok &= vcpu_run_to_done(vcpu) && vcpu_value(vcpu, OP_R4) == 1;
	/* the range is plain userspace MMIO again */
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x100, 0);
	ok &= vcpu_run(vcpu) == 0 && run->exit_reason == KVM_EXIT_MMIO;
	ok &= vcpu_run_to_done(vcpu);
	if (!ok)
		ksft_print_msg("KVM_RUN %d, deassign %d, error %d\n", ret, a.ret,
			       run->ioregion_failure.error);
	return ok;
}

/*
 * The deassign handed the socket back with the response still owed:
 * reused undrained, the stale answer breaks the new region's channel.
 */
static bool reused_undrained(struct vm *vm, struct vcpu *vcpu,
			     struct dev *dev)
{
	dev_answer(dev, 0xdead, 0, sizeof(struct ioregion_resp));
	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x100, 0);
	return vcpu_run(vcpu) == 0 && failure_complete(vcpu, -EIO, 2) &&
	       dev_nr_cmds(dev) == 1;
}

static void test_removed_while_waiting(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	ksft_test_result(removed_while_waiting(vm, vcpu, dev),
			 "deassign wakes the vCPU waiting on the region: ENODEV, sent\n");
	ksft_test_result(reused_undrained(vm, vcpu, dev),
			 "socket reused undrained after the last deassign: EIO\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

struct reader_args {
	struct vcpu *vcpu;
	uint64_t base;
	int bad;
};

static void *reader(void *arg)
{
	struct reader_args *a = arg;
	int i;

	for (i = 0; i < 200; i++) {
		uint64_t off = a->base + 8 * (i % 16);

		vcpu_prepare(a->vcpu, OP_R8, MMIO_GPA + off, 0);
		if (!vcpu_run_to_done(a->vcpu) ||
		    vcpu_value(a->vcpu, OP_R8) != 0x0101010101010101ULL * off)
			a->bad++;
	}
	return NULL;
}

/* Two vCPUs share one fd: every response reaches the vCPU that asked. */
static void test_shared_fd(void)
{
	struct vm *vm = vm_new();
	struct dev *dev = dev_start(DEV_ANSWER);
	struct reader_args a[2] = {
		{ .vcpu = vcpu_new(vm, 0), .base = 0x100 },
		{ .vcpu = vcpu_new(vm, 1), .base = 0x800 },
	};
	pthread_t t[2];
	bool ok;
	int i;

	for (i = 0; i < 16; i++) {
		uint64_t v;

		v = 0x0101010101010101ULL * (0x100 + 8 * i);
		memcpy(dev->mem + 0x100 + 8 * i, &v, 8);
		v = 0x0101010101010101ULL * (0x800 + 8 * i);
		memcpy(dev->mem + 0x800 + 8 * i, &v, 8);
	}
	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	for (i = 0; i < 2; i++)
		thread_start(&t[i], reader, &a[i]);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ok = !a[0].bad && !a[1].bad && dev_nr_cmds(dev) == 400;
	if (!ok)
		ksft_print_msg("%d and %d wrong values, %u commands\n",
			       a[0].bad, a[1].bad, dev_nr_cmds(dev));
	ksft_test_result(ok, "two vCPUs on one fd: each gets its own response\n");
	for (i = 0; i < 2; i++)
		vcpu_free(a[i].vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * O_NONBLOCK on the socket changes nothing: the vCPU waits for the
 * response.  (v6 failed the access with -EAGAIN once its command was
 * sent, and userspace could then do it a second time.)
 */
static void test_nonblock_ignored(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);
	struct runner r;
	bool ok;

	fd_set_flags(dev->kvm_end, O_NONBLOCK);
	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x20, 0);
	runner_start(&r, vcpu);
	ok = dev_wait_cmds(dev, 1);
	dev_answer(dev, 0xbbbb, 0, sizeof(struct ioregion_resp));
	ok &= wait_flag(&r.done, 10000);
	runner_stop(&r);
	ok &= !r.ret && vcpu_is_done(vcpu) &&
	      (uint32_t)vcpu_value(vcpu, OP_R4) == 0xbbbb &&
	      dev_nr_cmds(dev) == 1;
	if (!ok)
		ksft_print_msg("KVM_RUN %d exit %u error %d, read %#x\n", r.ret,
			       vcpu->run->exit_reason,
			       vcpu->run->ioregion_failure.error,
			       (uint32_t)vcpu_value(vcpu, OP_R4));
	ksft_test_result(ok, "O_NONBLOCK socket: the vCPU still waits for the response\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * vCPU 0 leaves on a signal while its response is owed; vCPU 1 then uses
 * the same fd.  vCPU 1 must not wait for vCPU 0 to run again, and each
 * gets its own response.  (v1 blocked vCPU 1 on a semaphore.)
 */
static void test_late_after_signal(void)
{
	struct vm *vm = vm_new();
	struct vcpu *v0 = vcpu_new(vm, 0), *v1 = vcpu_new(vm, 1);
	struct dev *dev = dev_start(DEV_SILENT);
	struct runner r0, r1;
	bool ok, sent;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(v0, OP_R4, MMIO_GPA + 0x10, 0);
	vcpu_prepare(v1, OP_R4, MMIO_GPA + 0x20, 0);
	runner_start(&r0, v0);
	ok = dev_wait_cmds(dev, 1);
	pthread_kill(r0.thread, SIGUSR1);
	ok &= wait_flag(&r0.done, 10000);
	runner_stop(&r0);
	ok &= r0.ret == -EINTR && v0->run->exit_reason == KVM_EXIT_INTR;
	dev_answer(dev, 0xaaaa, 0, sizeof(struct ioregion_resp));

	runner_start(&r1, v1);
	sent = dev_wait_cmds(dev, 2);
	if (sent)
		dev_answer(dev, 0xbbbb, 0, sizeof(struct ioregion_resp));
	ok &= sent && wait_flag(&r1.done, 10000);
	runner_stop(&r1);
	ok &= !r1.ret && vcpu_is_done(v1) &&
	      (uint32_t)vcpu_value(v1, OP_R4) == 0xbbbb;
	ok &= sent && vcpu_run_to_done(v0) &&
	      (uint32_t)vcpu_value(v0, OP_R4) == 0xaaaa;
	if (!ok)
		ksft_print_msg("other vCPU %s, read %#x %#x\n",
			       sent ? "sent" : "blocked",
			       (uint32_t)vcpu_value(v0, OP_R4),
			       (uint32_t)vcpu_value(v1, OP_R4));
	ksft_test_result(ok, "owed to a vCPU out on a signal: the other vCPU goes on\n");
	vcpu_free(v0);
	vcpu_free(v1);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * A SOCK_STREAM response in pieces is put together, and the stream stays
 * in step for the next access.  (v1 failed with -EIO and then read the
 * rest of the frame as the next response.)
 */
static void test_partial_frames(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);
	uint64_t got[2] = { 0 };
	struct runner r;
	bool ok = true;
	int i;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	for (i = 0; i < 2; i++) {
		uint64_t want = 0x1122334455667788ULL + i;

		vcpu_prepare(vcpu, OP_R8, MMIO_GPA + 0x30, 0);
		runner_start(&r, vcpu);
		ok &= dev_wait_cmds(dev, i + 1);
		/* each piece is read on its own before the next is sent */
		dev_answer(dev, want, 0, 5);
		ok &= kvm_end_wait_bytes(dev, 0);
		dev_answer(dev, want, 5, 20);
		ok &= kvm_end_wait_bytes(dev, 0);
		dev_answer(dev, want, 25, 7);
		ok &= wait_flag(&r.done, 10000);
		runner_stop(&r);
		got[i] = vcpu_value(vcpu, OP_R8);
		ok &= !r.ret && vcpu_is_done(vcpu) && got[i] == want;
	}
	if (!ok)
		ksft_print_msg("read %#llx, then %#llx\n",
			       (unsigned long long)got[0],
			       (unsigned long long)got[1]);
	ksft_test_result(ok, "responses in 5+20+7 byte pieces\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

struct slot_args {
	struct vm *vm;
	struct dev *dev;
	void *mem;
	int slot_ret;
	int ioregion_ret;
	bool done;
};

static void *change_slots(void *arg)
{
	struct slot_args *a = arg;
	struct kvm_userspace_memory_region mem = {
		.slot = 1,
		.guest_phys_addr = 0x200000,
		.memory_size = 0x10000,
		.userspace_addr = (uintptr_t)a->mem,
	};

	a->slot_ret = ioctl(a->vm->fd, KVM_SET_USER_MEMORY_REGION, &mem) ?
		      -errno : 0;
	a->ioregion_ret = add_region(a->vm, a->dev, POSTED_GPA, 0x100, 0);
	__atomic_store_n(&a->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * While a vCPU waits on a device that does not answer, another thread adds
 * a memslot and an ioregion: both complete.  (On v1 the vCPU slept inside
 * kvm->srcu and both waited for the device: a deadlock here.)
 */
static void test_memslot_while_waiting(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);
	struct slot_args a = { .vm = vm, .dev = dev };
	struct runner r;
	pthread_t t;
	bool ok, changed;

	a.mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a.mem == MAP_FAILED)
		die("mmap");
	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x40, 0);
	runner_start(&r, vcpu);
	ok = dev_wait_cmds(dev, 1);
	thread_start(&t, change_slots, &a);
	changed = wait_flag(&a.done, 20000);
	ok &= changed && !__atomic_load_n(&r.done, __ATOMIC_ACQUIRE);
	dev_answer(dev, 0x600d, 0, sizeof(struct ioregion_resp));
	ok &= wait_flag(&r.done, 10000);
	runner_stop(&r);
	pthread_join(t, NULL);
	ok &= !r.ret && vcpu_is_done(vcpu) &&
	      (uint32_t)vcpu_value(vcpu, OP_R4) == 0x600d;
	ok &= !a.slot_ret && !a.ioregion_ret;
	if (!ok)
		ksft_print_msg("%s (%d, %d)\n",
			       changed ? "completed" : "stalled behind the vCPU",
			       a.slot_ret, a.ioregion_ret);
	ksft_test_result(ok, "memslot and ioregion changes while a vCPU waits\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
	munmap(a.mem, 0x10000);
}

/* Block SIGUSR1 in @vcpu while it is in KVM_RUN. */
static void vcpu_block_sigusr1(struct vcpu *vcpu)
{
	uint64_t set = 1ULL << (SIGUSR1 - 1);
	struct kvm_signal_mask *mask = calloc(1, sizeof(*mask) + sizeof(set));

	if (!mask)
		die("calloc");
	/* the kernel's sigset_t: one bit per signal, no padding */
	mask->len = sizeof(set);
	memcpy(mask->sigset, &set, sizeof(set));
	if (ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, mask))
		die("KVM_SET_SIGNAL_MASK");
	free(mask);
}

/*
 * KVM_SET_SIGNAL_MASK applies while the vCPU waits: a signal it blocks,
 * sent while the vCPU sleeps on the device, does not interrupt the access
 * and is delivered after KVM_RUN.
 */
static void test_signal_mask(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);
	int stats_fd = vcpu_stats_fd(vcpu);
	uint64_t waits = stats_fd_read(stats_fd, "ioregion_waits");
	int before = __atomic_load_n(&nr_sigusr1, __ATOMIC_RELAXED);
	struct runner r;
	bool ok;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_block_sigusr1(vcpu);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x50, 0);
	runner_start(&r, vcpu);
	ok = dev_wait_cmds(dev, 1) && vcpu_wait_sleeps(stats_fd, waits + 1);
	pthread_kill(r.thread, SIGUSR1);
	dev_answer(dev, 0x5150, 0, sizeof(struct ioregion_resp));
	ok &= wait_flag(&r.done, 10000);
	runner_stop(&r);
	ok &= !r.ret && vcpu_is_done(vcpu) &&
	      (uint32_t)vcpu_value(vcpu, OP_R4) == 0x5150 &&
	      dev_nr_cmds(dev) == 1 &&
	      __atomic_load_n(&nr_sigusr1, __ATOMIC_RELAXED) == before + 1;
	ksft_test_result(ok, "KVM_SET_SIGNAL_MASK applies while waiting\n");
	close(stats_fd);
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * The VM goes away while a vCPU is out on a signal with a response owed;
 * the device answers afterwards.  Nothing hangs, and the socket's last
 * reference from KVM goes with the VM.
 */
static void test_teardown_while_waiting(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_SILENT);
	struct pollfd hup = { .fd = dev->fd, .events = POLLRDHUP };
	struct runner r;
	bool ok;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x60, 0);
	runner_start(&r, vcpu);
	ok = dev_wait_cmds(dev, 1);
	pthread_kill(r.thread, SIGUSR1);
	ok &= wait_flag(&r.done, 10000);
	runner_stop(&r);
	ok &= r.ret == -EINTR;
	vcpu_free(vcpu);
	vm_free(vm);
	dev_answer(dev, 1, 0, sizeof(struct ioregion_resp));
	/*
	 * Once KVM let go of it, closing our end is a hangup for the peer
	 * (poll, not read: the unread answer makes it an ECONNRESET, which
	 * the device thread may consume first).
	 */
	close(dev->kvm_end);
	dev->kvm_end = -1;
	ok &= poll(&hup, 1, 10000) == 1 && hup.revents & POLLHUP;
	ksft_test_result(ok, "VM and vCPU destroyed with a response owed\n");
	dev_stop(dev);
}

static void expect_refused(struct vm *vm, const char *what, int rfd, int wfd)
{
	int ret = set_ioregion(vm, MMIO_GPA, 8, rfd, wfd, 0);

	if (ret != -EINVAL)
		ksft_print_msg("%s: %d\n", what, ret);
	ksft_test_result(ret == -EINVAL, "%s refused\n", what);
}

/* An AF_INET socket of @type, refused; a skip where there is none. */
static void expect_inet_refused(struct vm *vm, const char *what, int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		ksft_test_result_skip("%s: %s\n", what, strerror(errno));
		return;
	}
	expect_refused(vm, what, fd, fd);
	close(fd);
}

/* Files that are not sockets: KVM's own, a regular file, a pipe... */
static void refuse_files(struct vm *vm, struct vcpu *vcpu)
{
	int pfd[2], fd;

	expect_refused(vm, "VM fd", vm->fd, vm->fd);
	expect_refused(vm, "vCPU fd", vcpu->fd, vcpu->fd);
	fd = memfd_create("ioregion_test", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create");
	expect_refused(vm, "regular file", fd, fd);
	close(fd);
	if (pipe2(pfd, O_CLOEXEC))
		die("pipe2");
	expect_refused(vm, "pipe", pfd[0], pfd[1]);
	close(pfd[0]);
	close(pfd[1]);
	fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		die("eventfd");
	expect_refused(vm, "eventfd", fd, fd);
	close(fd);
}

/* AF_UNIX stream sockets that are not connected, and a listening one. */
static void refuse_unconnected(struct vm *vm)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	expect_refused(vm, "unconnected AF_UNIX stream socket", fd, fd);
	/* an address of the autobind namespace */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) ||
	    listen(fd, 1))
		die("bind/listen");
	expect_refused(vm, "listening AF_UNIX stream socket", fd, fd);
	close(fd);
}

/* Sockets of the wrong kind, and a bad fd next to a good socket. */
static void refuse_sockets(struct vm *vm)
{
	int sv[2];

	expect_inet_refused(vm, "UDP socket", SOCK_DGRAM);
	expect_inet_refused(vm, "TCP (AF_INET stream) socket", SOCK_STREAM);
	refuse_unconnected(vm);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	expect_refused(vm, "VM fd as write_fd", sv[0], vm->fd);
	expect_refused(vm, "VM fd as read_fd", vm->fd, sv[0]);
	close(sv[0]);
	close(sv[1]);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	expect_refused(vm, "AF_UNIX datagram socket", sv[0], sv[0]);
	close(sv[0]);
	close(sv[1]);
}

/*
 * Only AF_UNIX stream and seqpacket sockets serve a region.  The kvm_util
 * test's guest_memfd case has no powerpc counterpart: KVM_CAP_GUEST_MEMFD
 * needs CONFIG_KVM_PRIVATE_MEM, which only x86 selects in 6.12.
 */
static void test_refused_fds(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	int sv[2];

	refuse_files(vm, vcpu);
	refuse_sockets(vm);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	ksft_test_result(!set_ioregion(vm, MMIO_GPA, 8, sv[0], sv[0], 0),
			 "AF_UNIX seqpacket socket accepted\n");
	close(sv[0]);
	close(sv[1]);
	vcpu_free(vcpu);
	vm_free(vm);
}

/*
 * The single-threaded process @pid is asleep: its vCPU waits on the device
 * (a child's vCPU statistics are out of reach).
 */
static bool proc_sleeps(pid_t pid)
{
	char path[32], buf[256], *state;
	bool asleep = false;
	int ms;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (ms = 0; ms < 10000 && !asleep; ms += 10) {
		FILE *f = fopen(path, "r");

		if (f && fgets(buf, sizeof(buf), f)) {
			state = strrchr(buf, ')');
			asleep = state && !strncmp(state, ") S", 3);
		}
		if (f)
			fclose(f);
		if (!asleep)
			usleep(10000);
	}
	return asleep;
}

/*
 * A process killed while its vCPU waits on the device exits, and its VM
 * lets go of the socket: the wait is killable and the region holds no
 * reference that keeps the VM alive.  The device thread stays here, on
 * the socketpair the child inherits.
 */
static void test_killed_while_waiting(void)
{
	struct dev *dev = dev_start(DEV_SILENT);
	struct pollfd hup = { .fd = dev->fd, .events = POLLRDHUP };
	struct vcpu *vcpu;
	struct vm *vm;
	int status, ms;
	pid_t pid, ret = 0;
	bool ok;

	/* a child that dies through exit() must not print our lines again */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		vm = vm_new();
		vcpu = vcpu_new(vm, 0);
		assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
		vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x60, 0);
		vcpu_run(vcpu);
		_exit(1);	/* the read was never to complete */
	}
	ok = dev_wait_cmds(dev, 1) && proc_sleeps(pid);
	kill(pid, SIGKILL);
	for (ms = 0; ms < 10000 && !ret; ms += 10) {
		ret = waitpid(pid, &status, WNOHANG);
		if (!ret)
			usleep(10000);
	}
	ok &= ret == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (ret != pid)
		ksft_print_msg("the killed process did not exit\n");
	close(dev->kvm_end);
	dev->kvm_end = -1;
	ok &= poll(&hup, 1, 10000) == 1 && hup.revents & POLLHUP;
	ksft_test_result(ok, "process killed while its vCPU waits: exits, socket released\n");
	dev_stop(dev);
}

/*
 * An access that straddles two regions is served by neither: it exits to
 * userspace and sends nothing on their socket, which the two regions
 * share and which goes on serving.
 */
static void test_straddle(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_ANSWER);
	struct kvm_run *run = vcpu->run;
	uint64_t gpa = MMIO_GPA + 0x100;
	bool ok;

	assign(vm, dev, gpa, 2, 0);
	assign(vm, dev, gpa + 2, 2, 0);
	vcpu_prepare(vcpu, OP_W4, gpa, 0x11223344);
	ok = vcpu_run(vcpu) == 0 && run->exit_reason == KVM_EXIT_MMIO &&
	     run->mmio.phys_addr == gpa && run->mmio.len == 4 &&
	     run->mmio.is_write;
	ok &= vcpu_run_to_done(vcpu);
	/* the read's frame is the first the device sees */
	vcpu_prepare(vcpu, OP_R2, gpa + 2, 0);
	ok &= vcpu_run_to_done(vcpu) && dev_nr_cmds(dev) == 1 &&
	      check_frame(&dev->log[0], gpa + 2, IOREGION_CMD_READ, 2, true, 0,
			  0);
	ksft_test_result(ok, "access straddling two regions exits to userspace, no frame sent\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * A read whose response the device holds until the vCPU surely slept on
 * it (the hold_at-th command); the test then answers it.
 */
static bool held_read(struct vcpu *vcpu, struct dev *dev, int stats_fd,
		      uint64_t waits_before)
{
	struct runner r;
	bool ok;

	vcpu_prepare(vcpu, OP_R4, MMIO_GPA + 0x10, 0);
	runner_start(&r, vcpu);
	ok = dev_wait_cmds(dev, dev->hold_at) &&
	     vcpu_wait_sleeps(stats_fd, waits_before + 1);
	dev_answer(dev, 0x99, 0, sizeof(struct ioregion_resp));
	ok &= wait_flag(&r.done, 10000);
	runner_stop(&r);
	return ok && !r.ret && vcpu_is_done(vcpu) &&
	       (uint32_t)vcpu_value(vcpu, OP_R4) == 0x99;
}

/* A region on a socket whose peer is gone; returns KVM's end. */
static int assign_orphan(struct vm *vm, uint64_t gpa, uint64_t size)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	ret = set_ioregion(vm, gpa, size, sv[0], sv[0], 0);
	if (ret)
		ksft_exit_fail_msg("KVM_SET_IOREGION: %d\n", ret);
	close(sv[1]);
	return sv[0];
}

/* The counters against what the accesses of test_stats() did. */
static bool stats_ok(struct vcpu *vcpu, uint64_t waits_before)
{
	uint64_t accesses = vcpu_stat(vcpu, "ioregion_accesses");
	uint64_t posted = vcpu_stat(vcpu, "ioregion_posted_writes");
	uint64_t failures = vcpu_stat(vcpu, "ioregion_failures");
	uint64_t resumes = vcpu_stat(vcpu, "ioregion_resumes");
	uint64_t waits = vcpu_stat(vcpu, "ioregion_waits");
	/* at least the held read's wait; posted writes never wait */
	bool ok = accesses == 3 && posted == 1 && failures == 1 &&
		  resumes == 1 && waits >= waits_before + 1 &&
		  waits <= accesses - posted;

	if (!ok)
		ksft_print_msg("sent/posted/failed/resumed/waits: %llu/%llu/%llu/%llu/%llu\n",
			       (unsigned long long)accesses,
			       (unsigned long long)posted,
			       (unsigned long long)failures,
			       (unsigned long long)resumes,
			       (unsigned long long)waits);
	return ok;
}

/* The vCPU statistics count commands sent, posted writes, failures, resumes. */
static void test_stats(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_HOLD);
	int stats_fd = vcpu_stats_fd(vcpu);
	uint64_t waits_before = stats_fd_read(stats_fd, "ioregion_waits");
	int orphan;
	bool ok;

	/* the read's response is held until the vCPU surely slept on it */
	dev->hold_at = 2;
	assign(vm, dev, MMIO_GPA, 0x1000, 0);
	assign(vm, dev, POSTED_GPA, 0x1000, KVM_IOREGION_POSTED_WRITES);
	orphan = assign_orphan(vm, MMIO_GPA + 0x1000, 0x1000);

	vcpu_prepare(vcpu, OP_W4, MMIO_GPA + 0x10, 0x99);
	ok = vcpu_run_to_done(vcpu);
	ok &= held_read(vcpu, dev, stats_fd, waits_before);
	vcpu_prepare(vcpu, OP_W4, POSTED_GPA, 0x98);
	ok &= vcpu_run_to_done(vcpu);
	vcpu_prepare(vcpu, OP_W4, MMIO_GPA + 0x1010, 0x97);
	ok &= vcpu_run(vcpu) == 0 &&
	      vcpu->run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE;
	ok &= vcpu_run_to_done(vcpu);
	/* two regions on one socket: each frame names its own */
	ok &= dev_wait_cmds(dev, 3) &&
	      check_frame(&dev->log[0], MMIO_GPA, IOREGION_CMD_WRITE, 4, true,
			  0x10, 0x99) &&
	      check_frame(&dev->log[1], MMIO_GPA, IOREGION_CMD_READ, 4, true,
			  0x10, 0) &&
	      check_frame(&dev->log[2], POSTED_GPA, IOREGION_CMD_WRITE, 4,
			  false, 0, 0x98);
	ok &= stats_ok(vcpu, waits_before);
	ksft_test_result(ok, "vCPU statistics\n");
	close(orphan);
	close(stats_fd);
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

struct load_case {
	enum op op;
	unsigned int size;
	uint64_t dev;		/* what the device returns */
	uint64_t want;		/* what the register holds */
	const char *insn;
};

static const struct load_case load_cases[] = {
	{ OP_RS2, 2, 0x8002, 0xffffffffffff8002ULL, "lha" },
	{ OP_RS4, 4, 0x80000003, 0xffffffff80000003ULL, "lwa" },
	{ OP_R4BR, 4, 0x11223344, 0x44332211, "lwbrx" },
};

/* The register after @op completed by userspace with @data: ~0 on error. */
static uint64_t user_load(struct vcpu *vcpu, enum op op, uint64_t gpa,
			  uint64_t data, unsigned int size)
{
	struct kvm_run *run = vcpu->run;

	vcpu_prepare(vcpu, op, gpa, 0);
	if (vcpu_run(vcpu) || run->exit_reason != KVM_EXIT_MMIO ||
	    run->mmio.phys_addr != gpa || run->mmio.len != size ||
	    run->mmio.is_write)
		return ~0ULL;
	memcpy(run->mmio.data, &data, size);
	if (!vcpu_run_to_done(vcpu))
		return ~0ULL;
	return vcpu_value(vcpu, op);
}

/*
 * The device answers with the plain value; the architecture's completion
 * sign-extends it or byte-reverses it as the instruction says, exactly as
 * when userspace completes a KVM_EXIT_MMIO with that value.
 */
static void test_load_variants(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_ANSWER);
	uint64_t gpa = MMIO_GPA + 0x20;
	unsigned int i, n, as_architected = 0;
	int bad = 0;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	for (i = 0; i < ARRAY_SIZE(load_cases); i++) {
		const struct load_case *c = &load_cases[i];
		uint64_t got, user;
		bool ok;

		/* the same load outside the region, completed by userspace */
		user = user_load(vcpu, c->op, MMIO_GPA + REGION_SIZE + 0x20,
				 c->dev, c->size);
		n = dev_nr_cmds(dev);
		memcpy(dev->mem + 0x20, &c->dev, c->size);
		vcpu_prepare(vcpu, c->op, gpa, 0);
		ok = vcpu_run_to_done(vcpu) && dev_nr_cmds(dev) == n + 1 &&
		     check_frame(&dev->log[n], MMIO_GPA, IOREGION_CMD_READ,
				 c->size, true, 0x20, 0);
		got = vcpu_value(vcpu, c->op);
		as_architected += got == c->want;
		/*
		 * What the region owes is the userspace completion; a CPU
		 * (or emulator) that reports no sign extension in its
		 * syndrome gets the same plain value both ways.
		 */
		if (!ok || got != user || got != c->want)
			ksft_print_msg("%s: %#llx, via exit %#llx, architected %#llx\n",
				       c->insn, (unsigned long long)got,
				       (unsigned long long)user,
				       (unsigned long long)c->want);
		bad += !ok || got != user;
	}
	/* stwbrx: the device sees the byte-reversed value */
	n = dev_nr_cmds(dev);
	vcpu_prepare(vcpu, OP_W4BR, gpa, 0x11223344);
	bad += !vcpu_run_to_done(vcpu) || dev_nr_cmds(dev) != n + 1 ||
	       !check_frame(&dev->log[n], MMIO_GPA, IOREGION_CMD_WRITE, 4, true,
			    0x20, 0x44332211);
	ksft_test_result(!bad, "loads complete as via KVM_EXIT_MMIO (%u/%zu architected)\n",
			 as_architected, ARRAY_SIZE(load_cases));
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * A big-endian guest: a frame carries the bytes on the bus read in host
 * byte order, as kvm_run->mmio.data would, so the device sees the value
 * byte-swapped, and the guest reads back what it wrote.
 */
static void test_big_endian(void)
{
	struct vm *vm = vm_new();
	struct vcpu *vcpu = vcpu_new(vm, 0);
	struct dev *dev = dev_start(DEV_ANSWER);
	uint64_t gpa = MMIO_GPA + 0x30;
	bool ok;

	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_W4BE, gpa, 0x11223344);
	ok = vcpu_run_to_done(vcpu) && dev_nr_cmds(dev) == 1 &&
	     check_frame(&dev->log[0], MMIO_GPA, IOREGION_CMD_WRITE, 4, true,
			 0x30, 0x44332211);
	vcpu_prepare(vcpu, OP_R4BE, gpa, 0);
	ok &= vcpu_run_to_done(vcpu) && dev_nr_cmds(dev) == 2 &&
	      check_frame(&dev->log[1], MMIO_GPA, IOREGION_CMD_READ, 4, true,
			  0x30, 0) &&
	      (uint32_t)vcpu_value(vcpu, OP_R4BE) == 0x11223344;
	ksft_test_result(ok, "big-endian guest: write and read back through a region\n");
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

/*
 * H_LOGICAL_CI_LOAD reads through the MMIO bus inside KVM, which finds no
 * device in a region: the hypercall goes to userspace, no frame is sent,
 * no kernel stack reaches the guest, and the next access through the
 * region is served as usual.  KVM only runs the hcall itself once
 * userspace enables it, as QEMU does.
 */
static void test_hcall_ci_load(void)
{
	struct kvm_enable_cap enable = {
		.cap = KVM_CAP_PPC_ENABLE_HCALL,
		.args = { H_LOGICAL_CI_LOAD, 1 },
	};
	uint64_t gpa = MMIO_GPA + 0x70;
	struct vcpu *vcpu;
	struct kvm_run *run;
	struct dev *dev;
	struct vm *vm;
	bool ok;
	int ret;

	vm = vm_new();
	vcpu = vcpu_new(vm, 0);
	dev = dev_start(DEV_ANSWER);
	run = vcpu->run;
	if (ioctl(vm->fd, KVM_ENABLE_CAP, &enable))
		die("KVM_CAP_PPC_ENABLE_HCALL");
	assign(vm, dev, MMIO_GPA, REGION_SIZE, 0);
	vcpu_prepare(vcpu, OP_HCALL_CI_LOAD, gpa, 4);
	ret = vcpu_run(vcpu);
	/*
	 * KVM-PR runs its guest in problem state, so "sc 1" goes to the
	 * hypervisor below this kernel.  KVM-HV reflects it back here as a
	 * system call; QEMU's pseries machine under TCG answers it itself
	 * with H_PRIVILEGE, and KVM-PR never sees the hcall.
	 */
	if (!ret && vcpu_is_done(vcpu) &&
	    vcpu_hcall_status(vcpu) == (uint64_t)H_PRIVILEGE) {
		ksft_test_result_skip("H_LOGICAL_CI_LOAD: sc 1 answered below KVM (H_PRIVILEGE)\n");
		goto out;
	}
	ok = !ret && run->exit_reason == KVM_EXIT_PAPR_HCALL &&
	     run->papr_hcall.nr == H_LOGICAL_CI_LOAD &&
	     run->papr_hcall.args[0] == 4 && run->papr_hcall.args[1] == gpa;
	if (!ok) {
		ksft_print_msg("KVM_RUN %d, exit %u, r3 %#llx\n", ret,
			       run->exit_reason,
			       (unsigned long long)vcpu_hcall_status(vcpu));
	} else {
		run->papr_hcall.ret = 0;
		run->papr_hcall.args[0] = 0x4321;
		ok = vcpu_run_to_done(vcpu) && vcpu_hcall_status(vcpu) == 0 &&
		     vcpu_value(vcpu, OP_R4) == 0x4321;
	}
	ok &= dev_nr_cmds(dev) == 0;
	/* no access is left pending: the next ones go to the device */
	vcpu_prepare(vcpu, OP_W4, gpa, 0x5a5a1234);
	ok &= vcpu_run_to_done(vcpu);
	vcpu_prepare(vcpu, OP_R4, gpa, 0);
	ok &= vcpu_run_to_done(vcpu) && vcpu_value(vcpu, OP_R4) == 0x5a5a1234 &&
	      dev_nr_cmds(dev) == 2 &&
	      check_frame(&dev->log[1], MMIO_GPA, IOREGION_CMD_READ, 4, true,
			  0x70, 0);
	ksft_test_result(ok, "H_LOGICAL_CI_LOAD on a region: exit to userspace, %u frames after\n",
			 dev_nr_cmds(dev));
out:
	vcpu_free(vcpu);
	vm_free(vm);
	dev_stop(dev);
}

#define NR_ARCH_TESTS 3

#define TAINT_WARN_BIT	9	/* kernel/panic.c TAINT_WARN */

/* /proc/sys/kernel/tainted, or ~0 if it cannot be read */
static unsigned long read_taint(void)
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	unsigned long taint;

	if (!f)
		return ~0UL;
	if (fscanf(f, "%lu", &taint) != 1)
		taint = ~0UL;
	fclose(f);
	return taint;
}

/*
 * No guest access above may have reached a WARN (panic_on_warn hosts).
 * The bit is sticky: a WARN from before the test hides any later one.
 */
static void test_no_warn(unsigned long taint_before)
{
	unsigned long taint = read_taint();

	if (taint_before == ~0UL || taint == ~0UL)
		ksft_test_result_skip("/proc/sys/kernel/tainted unreadable\n");
	else if (taint_before & (1UL << TAINT_WARN_BIT))
		ksft_test_result_skip("kernel already tainted by a WARN\n");
	else
		ksft_test_result(!(taint & (1UL << TAINT_WARN_BIT)),
				 "no WARN during the test\n");
}

/*
 * KVM_CAP_IOREGIONFD alone could be another feature's number on another
 * kernel: ask KVM_SET_IOREGION itself, whose deassign of a range never
 * assigned fails with ENOENT.
 */
static bool ioregion_probe(void)
{
	struct vm *vm = vm_new();
	int ret;

	ret = set_ioregion(vm, MMIO_GPA, 8, -1, -1, KVM_IOREGION_DEASSIGN);
	vm_free(vm);
	return ret == -ENOENT;
}

#define NR_TESTS (51 + NR_ARCH_TESTS)

int main(void)
{
	struct sigaction sa = { .sa_handler = sigusr1 };
	unsigned long taint_before;

	if (!ioregion_probe())
		ksft_exit_skip("KVM_SET_IOREGION is not ioregionfd\n");

	/* a hung vCPU must fail the test, not stall the run */
	alarm(600);
	taint_before = read_taint();
	ksft_print_header();
	ksft_set_plan(NR_TESTS);
	if (sigaction(SIGUSR1, &sa, NULL))
		die("sigaction");

	test_ioctl_errors();
	test_mmio_sizes();
	test_posted_writes();
	test_doorbell();
	test_signal_resume();
	test_failure("peer closed", DEV_ANSWER, SOCK_STREAM, true, OP_W4,
		     -EPIPE, 0);
	test_failure("short SOCK_SEQPACKET response", DEV_SHORT,
		     SOCK_SEQPACKET, false, OP_R4, -EIO,
		     KVM_IOREGION_FAILURE_SENT);
	test_failure("peer closed after a command", DEV_CLOSE, SOCK_STREAM,
		     false, OP_R4, -EPIPE, KVM_IOREGION_FAILURE_SENT);
	test_unsolicited();
	test_nonblock_ignored();
	test_late_after_signal();
	test_partial_frames();
	test_memslot_while_waiting();
	test_signal_mask();
	test_teardown_while_waiting();
	test_refused_fds();
	test_killed_while_waiting();
	test_removed_while_waiting();
	test_shared_fd();
	test_straddle();
	test_stats();
	test_load_variants();
	test_big_endian();
	test_hcall_ci_load();
	test_no_warn(taint_before);
	ksft_finished();
}
