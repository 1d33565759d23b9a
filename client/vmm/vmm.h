/* SPDX-License-Identifier: MIT */
/* ioregion-vmm's VM: shared by vmm.c (run) and vmm_state.c (save, restore). */
#ifndef VMM_H
#define VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libioregion.h"

#define VMM_MEM_SIZE (16u << 20)
#define VMM_LOAD_ADDR 0x100000u
#define VMM_STACK_TOP 0x80000u
#define VMM_STACK_SIZE 0x4000u
#define VMM_EXIT_PORT 0xf4
/* A guest write here is its save point (--save). */
#define VMM_SAVE_PORT 0xf5
#define VMM_MAX_VCPUS 8
#define VMM_MAX_IRQS 8
/* Exit statuses of the VMM itself, apart from the guest's codes. */
#define VMM_EXIT_DAEMON_GONE 70
#define VMM_EXIT_SETUP 71
#define VMM_EXIT_GUEST_FAULT 72
/* --save: the state is in the file, the VM stopped at its save point. */
#define VMM_EXIT_SAVED 73
/* --save-wait: how long a save waits for an access in flight, by default */
#define VMM_SAVE_WAIT_MS 5000

struct vmm_vcpu {
	struct vmm *vmm;
	int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
};

/* An interrupt line of the VM. The tiny guests have no interrupt
 * controller, so the VMM counts the edges and reports them at exit. */
struct vmm_irq {
	unsigned int line;
	int fd;
	unsigned long delivered;	/* edges that came close together count once */
};

struct vmm {
	const char *socket;
	const char *vm_name;
	const char *image;
	int nvcpus;
	bool force_fallback;
	bool no_coalesce;
	bool quiet;
	bool timed;
	const char *save_path;		/* --save */
	const char *restore_path;	/* --restore */
	int save_wait_ms;		/* --save-wait */
	atomic_bool save_asked;		/* SIGUSR2 with --save */
	struct vmm_vcpu *save_vcpu;	/* stopped at the save point */
	int restore_fd;			/* the device state to load, or -1 */
	int kvm, vm;
	uint8_t *mem;
	size_t run_size;
	struct ioregion_client *client;
	struct ioregion_vm *iovm;
	struct vmm_vcpu vcpus[VMM_MAX_VCPUS];
	struct vmm_irq irqs[VMM_MAX_IRQS];
	unsigned int nirqs;
	atomic_bool stop;
	atomic_int exit_code;
	atomic_int running;
	atomic_ulong unclaimed;
};

/* A line on stderr naming the VM, unless --quiet. */
void vmm_say(const struct vmm *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* At the guest's save point (its vCPU in an exit, the only one): stops the
 * VM on the daemon, writes the state file. 0 or -1 with a message. */
int vmm_state_save(struct vmm *v, struct vmm_vcpu *c);
/* Before the vCPUs run: the guest's memory and vCPU from the state file
 * (after vmm_setup_vcpu); vmm_state_load_devices then loads the device
 * state into the daemon, before the regions are opened. */
int vmm_state_restore(struct vmm *v, struct vmm_vcpu *c);
int vmm_state_load_devices(struct vmm *v);

#endif
