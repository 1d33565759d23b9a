/* SPDX-License-Identifier: MIT */
/* Two VMs share one mailbox: VM 0 sends numbers, VM 1 answers each with
 * the number plus 1000, VM 0 checks the answers. Run the same image as
 * both VMs; the mailbox's SELF register says which one this is. */
#include "guest.h"

#define MESSAGES 32u
#define MB_SELF 0x04
#define MB_TX 0x10
#define MB_RX 0x18
#define MB_FROM 0x20
#define MB_DEPTH 0x24
#define MB_STATUS 0x28

int guest_main(uint32_t vcpu);

static uint32_t receive(uint32_t *from)
{
	while (mmio_read32(MBOX + MB_DEPTH) == 0)
		;
	*from = mmio_read32(MBOX + MB_FROM);
	return mmio_read32(MBOX + MB_RX);
}

int guest_main(uint32_t vcpu)
{
	uint32_t self, i, v, from;

	if (vcpu != 0)
		return 0;
	if (mmio_read32(MBOX) != 0x584f424du)
		return 1;
	self = mmio_read32(MBOX + MB_SELF);
	for (i = 0; i < MESSAGES; i++) {
		if (self == 0) {
			mmio_write32(MBOX + MB_TX, i);
			v = receive(&from);
			if (from != 1 || v != i + 1000)
				return 2;
		} else {
			v = receive(&from);
			if (from != 0 || v != i)
				return 3;
			mmio_write32(MBOX + MB_TX, v + 1000);
		}
	}
	if (mmio_read32(MBOX + MB_STATUS) & 2)
		return 4;
	puts_com1(self == 0 ? "mailbox: vm 0 got 32 answers\n"
			    : "mailbox: vm 1 answered 32 messages\n");
	return 0;
}
