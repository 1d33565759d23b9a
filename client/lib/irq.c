/* SPDX-License-Identifier: MIT */
/* libioregion: connecting ioregiond's interrupt lines to a guest. */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "libioregion.h"

static int irq_kvm_irqfd(int kvm_vm_fd, unsigned int line, int fd,
			 unsigned int flags)
{
	struct kvm_irqfd irqfd;

	memset(&irqfd, 0, sizeof(irqfd));
	irqfd.fd = (__u32)fd;
	irqfd.gsi = line;
	irqfd.flags = flags;
	return ioctl(kvm_vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int ioregion_irq_open(struct ioregion_client *c, int kvm_vm_fd,
		      unsigned int line, int *fd)
{
	int rc = ioregion_client_open_irq(c, line, fd);

	if (rc < 0)
		return rc;
	/* Without an in-kernel irqchip KVM refuses irqfds (EAGAIN). */
	if (kvm_vm_fd >= 0 && irq_kvm_irqfd(kvm_vm_fd, line, *fd, 0) == 0)
		return IOREGION_IRQ_KVM;
	return IOREGION_IRQ_CALLER;
}

int ioregion_irq_handle(int fd, unsigned int line, ioregion_irq_fn *fn,
			void *ctx)
{
	eventfd_t edges;

	if (eventfd_read(fd, &edges) < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (edges)
		fn(ctx, line);
	return edges > INT32_MAX ? INT32_MAX : (int)edges;
}

void ioregion_irq_close(int kvm_vm_fd, unsigned int line, int fd)
{
	if (kvm_vm_fd >= 0)
		irq_kvm_irqfd(kvm_vm_fd, line, fd, KVM_IRQFD_FLAG_DEASSIGN);
	close(fd);
}
