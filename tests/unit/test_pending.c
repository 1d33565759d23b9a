/* SPDX-License-Identifier: MIT */
/*
 * libioregion's pending-access rule (client/lib/pending.c) against a
 * scripted KVM_RUN: ioctl is wrapped (-Wl,--wrap=ioctl) so that each call
 * takes the next step of a script, as the series' KVM_RUN with
 * immediate_exit and ioregion_complete would return it. Covers the loop of
 * api.rst's "Accesses in flight": an exit with KVM_RUN_IOREGION_ANSWERED
 * is entered again untouched, any other exit is handed back (1), the loop
 * ends only on EINTR with KVM_RUN_IOREGION_PENDING clear, a failure exit
 * is completed as on an empty bus and never performed again
 * (KVM_IOREGION_FAILURE_SENT), and the bound. Also what
 * ioregion_vm_describe_pending says and that ioregion_vm_handle_exit
 * leaves an answered exit alone.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kvm_ioregion.h"
#include "libioregion.h"

#define VCPU_FD 42
#define MAX_STEPS 16
#define RUN_SIZE 8192
#define PIO_DATA_OFFSET 4096

enum step_kind {
	STEP_EXIT,		/* KVM_RUN returns 0 with exit_reason */
	STEP_EINTR,		/* KVM_RUN fails with EINTR */
	STEP_ERROR,		/* KVM_RUN fails with another errno */
};

struct step {
	enum step_kind kind;
	int err;
	__u32 exit_reason;
	__u16 flags;		/* kvm_run.flags after this KVM_RUN */
	void (*fill)(struct kvm_run *run);
	unsigned int sleep_ms;
};

/* What KVM_RUN saw when it was entered. */
struct seen {
	__u8 immediate_exit;
	__u8 complete;
	__u8 mmio_data[8];
	__u8 failure_data[8];
	__u8 pio_data[4];
};

static struct {
	struct kvm_run *run;
	const struct step *steps;
	unsigned int nsteps;
	unsigned int calls;
	unsigned int other_ioctls;
	bool repeat_last;	/* the last step forever (the bound) */
	struct seen seen[MAX_STEPS];
} fake;

int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	struct kvm_run *run = fake.run;
	const struct step *s;
	unsigned int i = fake.calls;

	if (fd != VCPU_FD || req != KVM_RUN) {
		fake.other_ioctls++;
		errno = ENOTTY;
		return -1;
	}
	if (i >= fake.nsteps) {
		if (!fake.repeat_last)
			fail_msg("KVM_RUN call %u: the script has %u steps", i + 1,
				 fake.nsteps);
		i = fake.nsteps - 1;
	}
	if (fake.calls < MAX_STEPS) {
		struct seen *w = &fake.seen[fake.calls];

		w->immediate_exit = run->immediate_exit;
		w->complete = *kvm_run_ioregion_complete(run);
		memcpy(w->mmio_data, run->mmio.data, sizeof(w->mmio_data));
		memcpy(w->failure_data, kvm_run_ioregion_failure(run)->data,
		       sizeof(w->failure_data));
		memcpy(w->pio_data, (__u8 *)run + PIO_DATA_OFFSET,
		       sizeof(w->pio_data));
	}
	fake.calls++;
	s = &fake.steps[i];
	if (s->sleep_ms)
		usleep(s->sleep_ms * 1000);
	run->flags = s->flags;
	if (s->kind == STEP_EINTR) {
		errno = EINTR;
		return -1;
	}
	if (s->kind == STEP_ERROR) {
		errno = s->err;
		return -1;
	}
	run->exit_reason = s->exit_reason;
	if (s->fill)
		s->fill(run);
	return 0;
}

static void kick(int sig)
{
	(void)sig;
}

static int setup(void **state)
{
	struct sigaction sa = { .sa_handler = kick };

	(void)state;
	sigaction(SIGUSR1, &sa, NULL);
	memset(&fake, 0, sizeof(fake));
	fake.run = calloc(1, RUN_SIZE);
	return fake.run ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(fake.run);
	fake.run = NULL;
	return 0;
}

static void script(const struct step *steps, unsigned int n)
{
	fake.steps = steps;
	fake.nsteps = n;
	fake.calls = 0;
}

#define SCRIPT(s) script((s), sizeof(s) / sizeof((s)[0]))

/* KVM's completion reads 0x11.. from mmio.data: the device's answer. */
static void fill_answered_mmio_read(struct kvm_run *run)
{
	run->mmio.phys_addr = 0xd0002010;
	memset(run->mmio.data, 0x11, sizeof(run->mmio.data));
	run->mmio.len = 4;
	run->mmio.is_write = 0;
}

static void fill_answered_pio_in(struct kvm_run *run)
{
	run->io.direction = KVM_EXIT_IO_IN;
	run->io.size = 1;
	run->io.port = 0x3f8;
	run->io.count = 1;
	run->io.data_offset = PIO_DATA_OFFSET;
	memset((__u8 *)run + PIO_DATA_OFFSET, 0x22, 4);
}

/* The second half of a read across a page: a plain exit. */
static void fill_mmio_read(struct kvm_run *run)
{
	run->mmio.phys_addr = 0xd0003000;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	run->mmio.len = 2;
	run->mmio.is_write = 0;
}

static void fill_failure(struct kvm_run *run, bool is_write, bool sent)
{
	struct kvm_ioregion_failure *f = kvm_run_ioregion_failure(run);

	memset(f, 0, sizeof(*f));
	f->gpa = 0xd0002010;
	f->len = 4;
	f->is_write = is_write;
	memset(f->data, is_write ? 0x5a : 0, sizeof(f->data));
	f->flags = sent ? KVM_IOREGION_FAILURE_SENT : 0;
	f->error = -EPIPE;
}

static void fill_sent_read_failure(struct kvm_run *run)
{
	fill_failure(run, false, true);
}

static void fill_sent_write_failure(struct kvm_run *run)
{
	fill_failure(run, true, true);
}

static void fill_unsent_read_failure(struct kvm_run *run)
{
	fill_failure(run, false, false);
}

static int complete(int timeout_ms)
{
	return ioregion_vcpu_complete_pending(VCPU_FD, fake.run, timeout_ms,
					      SIGUSR1);
}

static void assert_mode_cleared(void)
{
	assert_int_equal(fake.run->immediate_exit, 0);
	assert_int_equal(*kvm_run_ioregion_complete(fake.run), 0);
}

/* A KVM_EXIT_MMIO with ANSWERED is KVM's completion waiting: no exit to
 * handle, mmio left as it was, and KVM_RUN entered again. */
static void test_answered_mmio_reentered(void **state)
{
	static const struct step steps[] = {
		{ STEP_EXIT, 0, KVM_EXIT_MMIO,
		  KVM_RUN_IOREGION_PENDING | KVM_RUN_IOREGION_ANSWERED,
		  fill_answered_mmio_read, 0 },
		{ STEP_EINTR, 0, 0, 0, NULL, 0 },
	};
	static const __u8 answer[8] = { 0x11, 0x11, 0x11, 0x11,
					0x11, 0x11, 0x11, 0x11 };

	(void)state;
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	SCRIPT(steps);
	assert_int_equal(complete(1000), 0);
	assert_int_equal(fake.calls, 2);
	assert_int_equal(fake.seen[0].immediate_exit, 1);
	assert_int_equal(fake.seen[0].complete, 1);
	assert_int_equal(fake.seen[1].immediate_exit, 1);
	assert_int_equal(fake.seen[1].complete, 1);
	assert_memory_equal(fake.seen[1].mmio_data, answer, sizeof(answer));
	assert_int_equal(fake.other_ioctls, 0);
	assert_mode_cleared();
}

static void test_answered_pio_reentered(void **state)
{
	static const struct step steps[] = {
		{ STEP_EINTR, 0, 0,
		  KVM_RUN_IOREGION_PENDING, NULL, 0 },
		{ STEP_EXIT, 0, KVM_EXIT_IO,
		  KVM_RUN_IOREGION_PENDING | KVM_RUN_IOREGION_ANSWERED,
		  fill_answered_pio_in, 0 },
		{ STEP_EINTR, 0, 0, 0, NULL, 0 },
	};
	static const __u8 answer[4] = { 0x22, 0x22, 0x22, 0x22 };

	(void)state;
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	SCRIPT(steps);
	assert_int_equal(complete(1000), 0);
	assert_int_equal(fake.calls, 3);
	assert_memory_equal(fake.seen[2].pio_data, answer, sizeof(answer));
	assert_mode_cleared();
}

/* Any other exit is a real one: handed back (1), then the next call runs
 * KVM_RUN again to complete it even though nothing is pending. */
static void test_other_exit_handed_back(void **state)
{
	static const struct step first[] = {
		{ STEP_EXIT, 0, KVM_EXIT_MMIO, 0, fill_mmio_read, 0 },
	};
	static const struct step second[] = {
		{ STEP_EINTR, 0, 0, 0, NULL, 0 },
	};
	static const __u8 handled[8] = { 0xab, 0xab, 0, 0, 0, 0, 0, 0 };

	(void)state;
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	SCRIPT(first);
	assert_int_equal(complete(1000), 1);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.run->exit_reason, KVM_EXIT_MMIO);
	assert_int_equal(fake.run->mmio.phys_addr, 0xd0003000);
	assert_mode_cleared();

	/* the caller handles it, as it always would */
	memcpy(fake.run->mmio.data, handled, sizeof(handled));
	SCRIPT(second);
	assert_int_equal(complete(1000), 0);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.seen[0].immediate_exit, 1);
	assert_int_equal(fake.seen[0].complete, 1);
	assert_memory_equal(fake.seen[0].mmio_data, handled, sizeof(handled));
	assert_mode_cleared();
}

/* EINTR with PENDING set (a signal while KVM waited) is no end. */
static void test_stop_only_on_eintr_pending_clear(void **state)
{
	static const struct step steps[] = {
		{ STEP_EINTR, 0, 0, KVM_RUN_IOREGION_PENDING, NULL, 0 },
		{ STEP_EINTR, 0, 0, KVM_RUN_IOREGION_PENDING, NULL, 0 },
		{ STEP_EINTR, 0, 0, 0, NULL, 0 },
	};

	(void)state;
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	SCRIPT(steps);
	assert_int_equal(complete(1000), 0);
	assert_int_equal(fake.calls, 3);
	assert_mode_cleared();
}

/*
 * One failure exit (kvm_run.flags @flags after it), then the KVM_RUN that
 * completes it: -EPIPE, the failure's data left as @byte in each of its
 * 8 bytes for KVM's completion, and nothing else done with the access.
 */
static void failure_completed(void (*fill)(struct kvm_run *run), __u16 flags,
			      __u8 byte)
{
	const struct step steps[] = {
		{ STEP_EXIT, 0, KVM_EXIT_IOREGIONFD_FAILURE, flags, fill, 0 },
		{ STEP_EINTR, 0, 0, 0, NULL, 0 },
	};
	__u8 want[8];

	memset(want, byte, sizeof(want));
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	SCRIPT(steps);
	assert_int_equal(complete(1000), -EPIPE);
	assert_int_equal(fake.calls, 2);
	assert_memory_equal(fake.seen[1].failure_data, want, sizeof(want));
	assert_int_equal(fake.other_ioctls, 0);
	assert_mode_cleared();
}

/* A SENT read that failed: all ones, then KVM_RUN again to complete it,
 * even with PENDING already clear; nothing else is done with it. */
static void test_sent_read_failure_all_ones(void **state)
{
	(void)state;
	failure_completed(fill_sent_read_failure, 0, 0xff);
}

/* A SENT write: its bytes stay as KVM gave them, nothing performed. */
static void test_sent_write_failure_untouched(void **state)
{
	(void)state;
	failure_completed(fill_sent_write_failure, KVM_RUN_IOREGION_PENDING,
			  0x5a);
}

/* Not SENT: the library has no path to the device, so all ones too. */
static void test_unsent_read_failure_all_ones(void **state)
{
	(void)state;
	failure_completed(fill_unsent_read_failure, KVM_RUN_IOREGION_PENDING,
			  0xff);
}

/* A device that never answers: -ETIMEDOUT after the bound, still pending. */
static void test_bound(void **state)
{
	static const struct step steps[] = {
		{ STEP_EINTR, 0, 0, KVM_RUN_IOREGION_PENDING, NULL, 2 },
	};
	struct timespec t0, t1;
	long ms;

	(void)state;
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	SCRIPT(steps);
	fake.repeat_last = true;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(complete(50), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 50);
	assert_true(fake.run->flags & KVM_RUN_IOREGION_PENDING);
	assert_mode_cleared();
}

static void test_kvm_run_error(void **state)
{
	static const struct step steps[] = {
		{ STEP_ERROR, EFAULT, 0, KVM_RUN_IOREGION_PENDING, NULL, 0 },
	};

	(void)state;
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	SCRIPT(steps);
	assert_int_equal(complete(1000), -EFAULT);
	assert_mode_cleared();
}

static struct ioregion_vm *empty_vm(void)
{
	struct ioregion_vm *vm;

	assert_int_equal(ioregion_vm_new(NULL, -1, IOREGION_VM_FORCE_FALLBACK,
					 &vm), 0);
	return vm;
}

/* With ANSWERED the access is told by kvm_run.mmio, not ioregion_failure
 * (whose len and is_write would be mmio's bytes). */
static void test_describe_answered(void **state)
{
	struct ioregion_vm *vm = empty_vm();
	char buf[160];

	(void)state;
	fake.run->exit_reason = KVM_EXIT_MMIO;
	fake.run->flags = KVM_RUN_IOREGION_PENDING | KVM_RUN_IOREGION_ANSWERED;
	fill_answered_mmio_read(fake.run);
	fake.run->mmio.is_write = 1;
	ioregion_vm_describe_pending(vm, fake.run, buf, sizeof(buf));
	assert_string_equal(buf, "4-byte write at 0xd0002010 (region unknown), "
				 "answered, its completion pending");

	fake.run->exit_reason = KVM_EXIT_IO;
	fill_answered_pio_in(fake.run);
	ioregion_vm_describe_pending(vm, fake.run, buf, sizeof(buf));
	assert_string_equal(buf, "1-byte read to port 0x3f8 (region unknown), "
				 "answered, its completion pending");
	ioregion_vm_free(vm);
}

static void test_describe_in_flight_and_failed(void **state)
{
	struct ioregion_vm *vm = empty_vm();
	struct kvm_ioregion_failure *f = kvm_run_ioregion_failure(fake.run);
	char buf[160];

	(void)state;
	fill_sent_read_failure(fake.run);
	f->error = 0;
	fake.run->exit_reason = KVM_EXIT_IOREGIONFD_FAILURE; /* stale */
	fake.run->flags = KVM_RUN_IOREGION_PENDING;
	ioregion_vm_describe_pending(vm, fake.run, buf, sizeof(buf));
	assert_string_equal(buf, "4-byte read at 0xd0002010 (region unknown)");

	f->error = -EPIPE;
	ioregion_vm_describe_pending(vm, fake.run, buf, sizeof(buf));
	assert_string_equal(buf, "4-byte read at 0xd0002010 (region unknown), "
				 "failed after it reached the device");
	f->flags = 0;
	ioregion_vm_describe_pending(vm, fake.run, buf, sizeof(buf));
	assert_string_equal(buf, "4-byte read at 0xd0002010 (region unknown), "
				 "failed before it reached the device");
	ioregion_vm_free(vm);
}

/* ioregion_vm_handle_exit: an answered exit is handled (1) untouched,
 * where one no region claims is not ours (0). */
static void test_handle_exit_answered(void **state)
{
	struct ioregion_vm *vm = empty_vm();
	static const __u8 answer[8] = { 0x11, 0x11, 0x11, 0x11,
					0x11, 0x11, 0x11, 0x11 };

	(void)state;
	fake.run->exit_reason = KVM_EXIT_MMIO;
	fill_answered_mmio_read(fake.run);
	fake.run->flags = KVM_RUN_IOREGION_PENDING | KVM_RUN_IOREGION_ANSWERED;
	assert_int_equal(ioregion_vm_handle_exit(vm, fake.run), 1);
	assert_memory_equal(fake.run->mmio.data, answer, sizeof(answer));
	fake.run->flags = 0;
	assert_int_equal(ioregion_vm_handle_exit(vm, fake.run), 0);
	ioregion_vm_free(vm);
}

/* The uapi of kernel series v7: flags where pad[2] was. */
static void test_failure_layout(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct kvm_ioregion_failure, is_pio), 29);
	assert_int_equal(offsetof(struct kvm_ioregion_failure, flags), 30);
	assert_int_equal(sizeof(((struct kvm_ioregion_failure *)0)->flags), 2);
	assert_int_equal(offsetof(struct kvm_ioregion_failure, error), 32);
	assert_int_equal(sizeof(struct kvm_ioregion_failure), 40);
	assert_int_equal(KVM_IOREGION_FAILURE_SENT, 1);
	assert_int_equal(KVM_RUN_IOREGION_PENDING, 1 << 15);
	assert_int_equal(KVM_RUN_IOREGION_ANSWERED, 1 << 14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answered_mmio_reentered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_answered_pio_reentered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_exit_handed_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_stop_only_on_eintr_pending_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sent_read_failure_all_ones,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_sent_write_failure_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_unsent_read_failure_all_ones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kvm_run_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_describe_answered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_describe_in_flight_and_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handle_exit_answered,
						setup, teardown),
		cmocka_unit_test(test_failure_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
