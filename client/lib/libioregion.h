/* SPDX-License-Identifier: MIT */
/*
 * libioregion: what a VMM links to have its MMIO/PIO regions served by
 * ioregiond.
 *
 * A VMM connects once at start-up as a named VM, lists and opens the regions
 * granted to it (each open gives a data fd), and registers them on its KVM VM
 * fd: through KVM_SET_IOREGION when the kernel has ioregionfd, else
 * by forwarding KVM_EXIT_MMIO / KVM_EXIT_IO over the same fd with
 * ioregion_vm_handle_exit(). No global state; every call returns 0 (or a
 * count) on success and a negative errno on failure, with a message from
 * ioregion_client_error().
 */
#ifndef LIBIOREGION_H
#define LIBIOREGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioregion_common.h"

#ifdef __cplusplus
extern "C" {
#endif


enum ioregion_bus { IOREGION_BUS_MMIO = 0, IOREGION_BUS_PIO = 1 };

#define IOREGION_REGION_POSTED_WRITES (1u << 1)

struct ioregion_region {
	char name[IOREGION_NAME_MAX + 1];
	char device[IOREGION_NAME_MAX + 1];
	enum ioregion_bus bus;
	uint64_t address;
	uint64_t size;
	uint32_t flags;		/* IOREGION_REGION_* */
	uint64_t user_data;
	unsigned int nvms;	/* VMs sharing the device, >1 when shared */
	char vms[8][IOREGION_NAME_MAX + 1];	/* the first 8 of them */
	int fd;			/* data fd after ioregion_client_open, else -1 */
	int irq;		/* interrupt line the device drives, or -1 */
};

enum ioregion_event_type {
	IOREGION_EVENT_REGION_ADDED = 1,
	IOREGION_EVENT_REGION_REMOVED = 2,
};

struct ioregion_event {
	enum ioregion_event_type type;
	struct ioregion_region region;	/* only name is set on removal */
};

struct ioregion_client;

/* Connects to path (NULL: IOREGION_DEFAULT_SOCKET) and says hello as
 * client_name, attached as vm_name (NULL for admin tools). On failure *out
 * may still hold a client, for ioregion_client_error(); free it. */
int ioregion_client_connect(const char *path, const char *client_name,
			    const char *vm_name, struct ioregion_client **out);
void ioregion_client_free(struct ioregion_client *c);
/* The message that goes with the last error. */
const char *ioregion_client_error(const struct ioregion_client *c);
/* The control socket, to poll for events (POLLIN). */
int ioregion_client_fd(const struct ioregion_client *c);
/* Seconds to wait for a reply before failing with -ETIMEDOUT (default 5). */
void ioregion_client_set_timeout(struct ioregion_client *c, int seconds);
bool ioregion_client_is_admin(const struct ioregion_client *c);
const char *ioregion_client_daemon_version(const struct ioregion_client *c);

/* Regions of this VM (vm_name NULL), of another VM or of every VM (admin,
 * vm_name "" for all). *regions is malloc'ed; returns the count. */
int ioregion_client_list(struct ioregion_client *c, const char *vm_name,
			 struct ioregion_region **regions);
/* Opens a region of this VM; region->fd is the data fd, owned by the
 * caller. */
int ioregion_client_open(struct ioregion_client *c, const char *name,
			 struct ioregion_region *region);
int ioregion_client_close_region(struct ioregion_client *c, const char *name);
/* One access of 1, 2, 4 or 8 bytes at offset inside an open region, for a
 * VMM that dispatches accesses itself (QEMU's memory API). A posted write
 * (IOREGION_REGION_POSTED_WRITES) does not wait; a read waits at most 5 s
 * (-ETIMEDOUT); -ECONNRESET when the daemon went away. Callers serialize
 * accesses to one region. */
int ioregion_region_read(const struct ioregion_region *r, uint64_t offset,
			 unsigned int size, uint64_t *value);
int ioregion_region_write(const struct ioregion_region *r, uint64_t offset,
			  unsigned int size, uint64_t value);
/* After ioregion_region_read/write returned -ETIMEDOUT the command was
 * sent and its answer is still owed: waits up to timeout_ms more for it
 * (-ETIMEDOUT again, or -ECONNRESET when the daemon went away). A read's
 * value goes into *value (NULL for a write). A VMM that takes a stopped or
 * restarting daemon for a pause, not a failure, calls it in a loop. */
int ioregion_region_wait(const struct ioregion_region *r, unsigned int size,
			 uint64_t *value, int timeout_ms);
/* The eventfd of one of this VM's interrupt lines (a region's irq), owned
 * by the caller. ioregiond signals it on each rising edge of a device's
 * output on that line: ISA lines are edge-triggered, like KVM_IRQFD
 * without a resample fd. */
int ioregion_client_open_irq(struct ioregion_client *c, unsigned int line,
			     int *fd);
/* Asks for RegionAdded/RegionRemoved events. */
int ioregion_client_subscribe(struct ioregion_client *c);
/* Next event without blocking: 1 with *ev filled, 0 if none, or -errno
 * (-ECONNRESET when the daemon went away). */
int ioregion_client_next_event(struct ioregion_client *c,
			       struct ioregion_event *ev);

/* Admin requests. Stats come back as a JSON document the caller frees:
 * {"vms": [{"name", IOREGION_COUNTERS..., "regions": [{"name", "open",
 * IOREGION_COUNTERS..., "device": {counter: value}}]}], "daemon":
 * {counter: value}}. */
int ioregion_client_stats(struct ioregion_client *c, const char *vm_name,
			  char **json);
int ioregion_client_reload(struct ioregion_client *c);
/* The VM rebooted (vm_name, or NULL for the connection's own VM): its view
 * of its devices goes back to power-on state, its TPMs get TPM_Init. A VMM
 * calls it on its machine reset. Daemons before 1.2 refuse it. */
int ioregion_client_reset_vm(struct ioregion_client *c, const char *vm_name);
int ioregion_client_plug(struct ioregion_client *c, const char *region_json);

/*
 * Migration and snapshots (daemons of protocol 1.3, IOREGION_CAP_MIGRATE;
 * docs/protocol.md has the order). vm_name NULL: the connection's VM.
 */
#define IOREGION_CAP_MIGRATE (1u << 7)
/* HelloReply's capability bits. */
uint32_t ioregion_client_capabilities(const struct ioregion_client *c);
/* The message of the last request answered Ok ("2 regions stopped, 5
 * frames drained"). */
const char *ioregion_client_reply_message(const struct ioregion_client *c);
/* Connects as the destination of a migration on the same daemon: it may
 * attach while the source VMM has the regions open, and opens them after
 * ioregion_client_take_over. */
int ioregion_client_connect_incoming(const char *path,
				     const char *client_name,
				     const char *vm_name,
				     struct ioregion_client **out);
/* The VM's vCPUs are stopped: the daemon serves what they sent and stops
 * reading the VM's regions; cont reads them again. A VMM on the fallback
 * path with a coalesced MMIO ring calls ioregion_vm_flush first: posted
 * writes still in the ring were sent before the stop too. */
int ioregion_client_stop_vm(struct ioregion_client *c, const char *vm_name);
int ioregion_client_cont_vm(struct ioregion_client *c, const char *vm_name);
/* Before a migration: -EXDEV (to another daemon, a region shared with
 * other VMs) or -ENOTSUP (a TPM), the message naming the region. */
int ioregion_client_check_migration(struct ioregion_client *c,
				    const char *vm_name, bool to_other_daemon);
/* The stopped VM's device state in a memfd the caller owns (*bytes long);
 * returns how many region records it holds. ioregion_client_reply_message
 * then names the regions whose state stays in the daemon ("2 regions;
 * kept in the daemon: tpm0"): a TPM's, which moves to no other daemon. */
int ioregion_client_save_vm_state(struct ioregion_client *c,
				  const char *vm_name, int *memfd,
				  uint64_t *bytes);
/* Loads a state saved by SaveVmState (memfd stays the caller's): all of it
 * or, with an error naming the region, nothing. */
int ioregion_client_load_vm_state(struct ioregion_client *c,
				  const char *vm_name, int memfd);
/* An incoming connection takes the stopped VM over from its source. */
int ioregion_client_take_over(struct ioregion_client *c);
int ioregion_client_unplug(struct ioregion_client *c, const char *name);

/*
 * Binding regions to a KVM VM.
 */
struct kvm_run;
struct ioregion_vm;

enum ioregion_path {
	IOREGION_PATH_NONE = 0,		/* no such region */
	IOREGION_PATH_KERNEL = 1,	/* KVM_SET_IOREGION: KVM talks to the fd */
	IOREGION_PATH_FALLBACK = 2,	/* exits forwarded by ioregion_vm_handle_exit */
};

/* Use the fallback even where the kernel has KVM_CAP_IOREGIONFD. */
#define IOREGION_VM_FORCE_FALLBACK (1u << 0)

/* Binds to a KVM VM fd; the client must outlive the binding. */
int ioregion_vm_new(struct ioregion_client *c, int kvm_vm_fd,
		    unsigned int flags, struct ioregion_vm **out);
void ioregion_vm_free(struct ioregion_vm *vm);
/*
 * True when the kernel has ioregionfd: KVM_CAP_IOREGIONFD, and a
 * KVM_SET_IOREGION that answers a probe as the series does.
 */
bool ioregion_vm_kernel_capable(const struct ioregion_vm *vm);
/* Lists and opens every region granted to the client's VM and registers
 * each; returns how many. */
int ioregion_vm_register_all(struct ioregion_vm *vm);
/* Opens and registers one region (e.g. after a RegionAdded event). */
int ioregion_vm_register(struct ioregion_vm *vm, const char *name);
/* Deassigns and closes a region (after RegionRemoved). */
int ioregion_vm_unregister(struct ioregion_vm *vm, const char *name);
enum ioregion_path ioregion_vm_path(const struct ioregion_vm *vm,
				    const char *name);
/* Calls fn for every registered region. */
void ioregion_vm_foreach(const struct ioregion_vm *vm,
			 void (*fn)(void *ctx, const struct ioregion_region *r,
				    enum ioregion_path path),
			 void *ctx);
/* Gives the VM's coalesced MMIO ring (mapped from any vCPU at page
 * KVM_COALESCED_MMIO_PAGE_OFFSET) so posted writes on the fallback path are
 * batched through it. Call before ioregion_vm_register_all. */
void ioregion_vm_set_coalesced_ring(struct ioregion_vm *vm, void *ring);

/*
 * After forwarding an access that waits for its answer, the calling thread
 * reads for the response without blocking for up to this many
 * microseconds before it sleeps: a daemon in poll mode (ioregiond.json(5)
 * poll_us) usually answers within a few, and a vCPU thread that did not
 * sleep needs no wake-up. It costs the vCPU thread's CPU for at most that
 * long per access. A spin that finds its thread was taken off the CPU
 * (another task wanted it, perhaps the daemon) stops, and the VM's next
 * 256 accesses do not spin. The default is $IOREGION_SPIN_US when that is a number
 * 0..IOREGION_SPIN_MAX_US, else IOREGION_SPIN_DEFAULT_US; it applies to
 * ioregion_region_read/write too. Returns 0, or -EINVAL above the maximum.
 */
#define IOREGION_SPIN_DEFAULT_US 0
#define IOREGION_SPIN_MAX_US 1000
int ioregion_vm_set_spin_us(struct ioregion_vm *vm, unsigned int us);

/* After KVM_RUN returns: flushes queued posted writes, then completes a
 * KVM_EXIT_MMIO or KVM_EXIT_IO that belongs to a fallback region. Returns 1
 * when handled, 0 when the exit is not ours, or a negative errno (the
 * daemon went away: -ECONNRESET). An exit with KVM_RUN_IOREGION_ANSWERED
 * in run->flags is no exit but a device's answer left for KVM to complete
 * the instruction with: it returns 1 and leaves run alone. Safe from
 * several vCPU threads. */
int ioregion_vm_handle_exit(struct ioregion_vm *vm, struct kvm_run *run);
/* Sends what the coalesced ring holds; returns frames sent or -errno. */
int ioregion_vm_flush(struct ioregion_vm *vm);

/*
 * The pending-access rule of the in-kernel path (KVM_SET_IOREGION). KVM_RUN
 * may return while an access's instruction is not complete
 * (KVM_RUN_IOREGION_PENDING in run->flags): its answer owed (the access in
 * run->ioregion_failure, error 0), or given but not yet completed by the
 * architecture (KVM_RUN_IOREGION_ANSWERED too: exit_reason and run->mmio
 * or the PIO data hold the answer for that completion, leave them alone).
 * Saving such a vCPU (migration, snapshot) would replay the access on the
 * destination; writing its registers or resetting it would leave a stale
 * completion. Before any of those, with the vCPU out of KVM_RUN, call
 * this: it runs KVM_RUN with immediate_exit and ioregion_complete set,
 * which waits for the device and finishes the instruction without
 * entering the guest, until KVM_RUN fails with EINTR and nothing is
 * pending, for at most timeout_ms. On the way it completes a
 * KVM_EXIT_IOREGIONFD_FAILURE itself (a read as all ones, a write as
 * nothing: with KVM_IOREGION_FAILURE_SENT the device may have done it,
 * and without, this library has no other path to the device) and enters
 * again on a KVM_EXIT_MMIO or KVM_EXIT_IO with KVM_RUN_IOREGION_ANSWERED,
 * which is no exit to handle. kick_signal bounds the wait: it is sent to
 * the calling thread, so it must have a handler and be unblocked there
 * (the signal that kicks the VMM's vCPUs out of KVM_RUN).
 * Returns:
 *  0 when nothing is pending any more and every exit is complete;
 *  1 when KVM_RUN returned another exit (run->exit_reason), for example
 *    the KVM_EXIT_MMIO of the second half of an access that crosses a
 *    page, or of one outside every region: a real exit, which the caller
 *    handles as it always would (ioregion_vm_handle_exit...), then calls
 *    this again (a failure exit completed earlier in the same call is not
 *    reported any more);
 *  -ETIMEDOUT when the device did not answer in time: the access is
 *    still pending, so do not save, write or reset the vCPU (refuse, and
 *    let it run on: its next KVM_RUN goes on waiting);
 *  the failure's negative errno when KVM could not reach the device
 *    (KVM_EXIT_IOREGIONFD_FAILURE): the access was completed as on an
 *    empty bus, a read as all ones, and nothing is pending any more;
 *  or another negative errno from KVM_RUN or the timer.
 * It always runs KVM_RUN at least once, so that after a 1 the exit just
 * handled is completed even when nothing was pending.
 */
int ioregion_vcpu_complete_pending(int vcpu_fd, struct kvm_run *run,
				   int timeout_ms, int kick_signal);
/* "4-byte write at 0xd0002010 (region test0)": the access that run's
 * KVM_RUN_IOREGION_PENDING or KVM_EXIT_IOREGIONFD_FAILURE is about, with
 * ", answered, its completion pending" when KVM_RUN_IOREGION_ANSWERED says
 * the device answered (then taken from run->mmio or run->io), or ", failed
 * after it reached the device" / ", failed before it reached the device"
 * for a failure exit (KVM_IOREGION_FAILURE_SENT). */
void ioregion_vm_describe_pending(const struct ioregion_vm *vm,
				  struct kvm_run *run, char *buf, size_t len);

/*
 * Interrupt lines.
 */
enum ioregion_irq_path {
	IOREGION_IRQ_KVM = 1,	/* KVM_IRQFD: the kernel injects it */
	IOREGION_IRQ_CALLER = 2,	/* the caller calls ioregion_irq_handle */
};

/* Called by ioregion_irq_handle with the line that fired. */
typedef void ioregion_irq_fn(void *ctx, unsigned int line);

/* Opens line's eventfd into *fd (the caller's) and, when kvm_vm_fd >= 0 and
 * the VM has an in-kernel irqchip, binds it with KVM_IRQFD to GSI line.
 * Returns the path taken or a negative errno. On IOREGION_IRQ_CALLER, poll
 * *fd for POLLIN and call ioregion_irq_handle. */
int ioregion_irq_open(struct ioregion_client *c, int kvm_vm_fd,
		      unsigned int line, int *fd);
/* Consumes the edges pending on fd and calls fn once if there were any;
 * returns how many edges, 0 if none, or -errno. */
int ioregion_irq_handle(int fd, unsigned int line, ioregion_irq_fn *fn,
			void *ctx);
/* Undoes KVM_IRQFD (if kvm_vm_fd >= 0) and closes fd. */
void ioregion_irq_close(int kvm_vm_fd, unsigned int line, int fd);

#ifdef __cplusplus
}
#endif

#endif /* LIBIOREGION_H */
