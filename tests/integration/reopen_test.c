/* SPDX-License-Identifier: MIT */
/*
 * reopen_test SOCKET: the fallback of a region KVM refuses, through
 * libioregion, on a kernel with KVM_SET_IOREGION (tests/kernel runs it
 * inside the patched kernel; elsewhere it exits 77). An ioeventfd on ram0's
 * first word makes KVM_SET_IOREGION fail with EEXIST; a VMM then opens the
 * region again at once to forward its accesses itself (QEMU does). That
 * open must not find the first channel still open (EBUSY): the daemon
 * frees a channel at EOF in its own time, so libioregion closes it with
 * CloseRegion. Each round also checks a value written through the re-opened
 * region reads back. Prints one line; exits 0, 1 on failure, 77 to skip.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_ioregion.h"
#include "libioregion.h"

#define REOPEN_ROUNDS 200
#define REOPEN_RAM0 0xd0000000ull

static int reopen_rounds(struct ioregion_client *c, struct ioregion_vm *vm)
{
	struct ioregion_region r;
	uint64_t v;
	int i, rc;

	for (i = 0; i < REOPEN_ROUNDS; i++) {
		rc = ioregion_vm_register(vm, "ram0");
		if (rc != -EEXIST) {
			printf("reopen: round %d: KVM_SET_IOREGION of ram0 over an ioeventfd: %s, want EEXIST\n",
			       i, strerror(-rc));
			return 1;
		}
		rc = ioregion_client_open(c, "ram0", &r);
		if (rc < 0) {
			printf("reopen: round %d: opening ram0 again after EEXIST: %s (%s)\n",
			       i, strerror(-rc), ioregion_client_error(c));
			return 1;
		}
		v = 0;
		rc = ioregion_region_write(&r, 0x10, 4, 0x5a5a0000u + (unsigned int)i);
		if (rc == 0)
			rc = ioregion_region_read(&r, 0x10, 4, &v);
		if (rc < 0 || v != 0x5a5a0000u + (unsigned int)i) {
			printf("reopen: round %d: ram0 forwarded: %s, read 0x%llx\n",
			       i, rc < 0 ? strerror(-rc) : "ok", (unsigned long long)v);
			return 1;
		}
		/* closed the way a VMM does when it lets the region go */
		rc = ioregion_client_close_region(c, "ram0");
		close(r.fd);
		if (rc < 0) {
			printf("reopen: round %d: CloseRegion: %s\n", i, ioregion_client_error(c));
			return 1;
		}
	}
	printf("reopen: %d rounds: KVM_SET_IOREGION of ram0 failed with EEXIST, the region opened again at once for forwarding, each value read back\n",
	       REOPEN_ROUNDS);
	return 0;
}

int main(int argc, char **argv)
{
	struct ioregion_client *c = NULL;
	struct ioregion_vm *vm = NULL;
	struct kvm_ioeventfd ioev = {
		.addr = REOPEN_RAM0,
		.len = 4,
	};
	int kvm, vm_fd, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: reopen_test SOCKET\n");
		return 1;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("reopen: skipped: /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	vm_fd = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		printf("reopen: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	rc = ioregion_client_connect(argv[1], "reopen_test", "vm0", &c);
	if (rc < 0) {
		printf("reopen: connect to %s: %s\n", argv[1],
		       c ? ioregion_client_error(c) : strerror(-rc));
		ioregion_client_free(c);
		return 1;
	}
	rc = ioregion_vm_new(c, vm_fd, 0, &vm);
	if (rc < 0) {
		printf("reopen: ioregion_vm_new: %s\n", strerror(-rc));
		return 1;
	}
	if (!ioregion_vm_kernel_capable(vm)) {
		printf("reopen: skipped: this kernel has no KVM_SET_IOREGION\n");
		return 77;
	}
	ioev.fd = eventfd(0, EFD_CLOEXEC);
	if (ioev.fd < 0 || ioctl(vm_fd, KVM_IOEVENTFD, &ioev) < 0) {
		printf("reopen: KVM_IOEVENTFD on ram0: %s\n", strerror(errno));
		return 1;
	}
	rc = reopen_rounds(c, vm);
	ioregion_vm_free(vm);
	ioregion_client_free(c);
	close(ioev.fd);
	close(vm_fd);
	close(kvm);
	return rc;
}
