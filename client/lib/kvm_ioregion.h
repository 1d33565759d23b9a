/* SPDX-License-Identifier: MIT */
/*
 * The KVM_SET_IOREGION uapi of kernel-patch/, for building against kernel
 * headers that do not have it yet. Kept identical to the patch's
 * include/uapi/linux/kvm.h additions.
 */
#ifndef KVM_IOREGION_H
#define KVM_IOREGION_H

#include <linux/kvm.h>
#include <linux/types.h>

#ifndef KVM_CAP_IOREGIONFD
#define KVM_CAP_IOREGIONFD 247

struct kvm_ioregion {
	__u64 guest_paddr;
	__u64 memory_size;
	__u64 user_data;
	__s32 read_fd;
	__s32 write_fd;
	__u32 flags;
	__u8 pad[28];
};

#define KVM_IOREGION_PIO (1 << 0)
#define KVM_IOREGION_POSTED_WRITES (1 << 1)
#define KVM_IOREGION_DEASSIGN (1 << 2)
#define KVM_IOREGION_VALID_FLAG_MASK \
	(KVM_IOREGION_PIO | KVM_IOREGION_POSTED_WRITES | KVM_IOREGION_DEASSIGN)

#define KVM_SET_IOREGION _IOW(KVMIO, 0x4a, struct kvm_ioregion)

#define KVM_EXIT_IOREGIONFD_FAILURE 42
#endif

#ifndef KVM_RUN_IOREGION_PENDING
/*
 * kvm_run.flags: KVM_RUN returned while an ioregion access's instruction is
 * not complete (its answer owed, or a KVM_EXIT_IOREGIONFD_FAILURE waiting
 * for the VMM). Without KVM_RUN_IOREGION_ANSWERED, kvm_run.ioregion_failure
 * describes it (error 0 while its answer is owed, else the failure's).
 */
#define KVM_RUN_IOREGION_PENDING (1 << 15)
#endif

#ifndef KVM_RUN_IOREGION_ANSWERED
/*
 * kvm_run.flags, only with KVM_RUN_IOREGION_PENDING: the device answered
 * but the architecture has not completed the instruction yet. exit_reason
 * and kvm_run.mmio (or the PIO data page) hold what that completion reads:
 * leave them alone; a KVM_EXIT_MMIO or KVM_EXIT_IO with this flag is no
 * exit to handle (enter again). ioregion_failure is not filled in (it
 * shares the union with mmio).
 */
#define KVM_RUN_IOREGION_ANSWERED (1 << 14)
#endif

#ifndef KVM_IOREGION_FAILURE_SENT
/*
 * kvm_ioregion_failure.flags: the command had reached the device server's
 * socket before the access failed, so the device may have performed it.
 * The VMM must not perform it again by any other path (a write would be
 * done twice, a read's side effects too): it completes a read with all
 * ones, a write with nothing. Without it nothing reached the device.
 */
#define KVM_IOREGION_FAILURE_SENT (1 << 0)
#endif

/* kvm_run.ioregion_failure, the payload of KVM_EXIT_IOREGIONFD_FAILURE. */
struct kvm_ioregion_failure {
	__u64 gpa;
	__u64 user_data;
	__u8 data[8];
	__u32 len;
	__u8 is_write;
	__u8 is_pio;
	__u16 flags;	/* KVM_IOREGION_FAILURE_SENT */
	__s32 error;
	__u32 reserved;
};

/* The exit payloads share one union; mmio is one of its members. */
static inline struct kvm_ioregion_failure *
kvm_run_ioregion_failure(struct kvm_run *run)
{
	return (struct kvm_ioregion_failure *)(void *)&run->mmio;
}

/*
 * kvm_run.ioregion_complete, the input byte right after immediate_exit
 * (padding1[0] in headers without it): KVM_RUN entered with it and
 * immediate_exit finishes a pending access, waiting for its device, then
 * returns -EINTR without entering the guest.
 */
_Static_assert(__builtin_offsetof(struct kvm_run, padding1) ==
		       __builtin_offsetof(struct kvm_run, immediate_exit) + 1,
	       "kvm_run: ioregion_complete follows immediate_exit");

static inline __u8 *kvm_run_ioregion_complete(struct kvm_run *run)
{
	return &run->padding1[0];
}

#endif
