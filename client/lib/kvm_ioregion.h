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
 * for the VMM); kvm_run.ioregion_failure describes it (error 0 in flight).
 */
#define KVM_RUN_IOREGION_PENDING (1 << 15)
#endif

/* kvm_run.ioregion_failure, the payload of KVM_EXIT_IOREGIONFD_FAILURE. */
struct kvm_ioregion_failure {
	__u64 gpa;
	__u64 user_data;
	__u8 data[8];
	__u32 len;
	__u8 is_write;
	__u8 is_pio;
	__u8 pad[2];
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
