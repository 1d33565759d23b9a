/* SPDX-License-Identifier: MIT */
/* Prints a line through the uart16550 that ioregiond serves. */
#include "guest.h"

int guest_main(uint32_t vcpu);

int guest_main(uint32_t vcpu)
{
	if (vcpu != 0)
		return 0;
	puts_com1("Hello from a KVM guest, printed through ioregiond\n");
	return 0;
}
