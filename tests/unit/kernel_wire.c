/* SPDX-License-Identifier: MIT */
/* The wire frames as kernel-patch/ defines them (extracted at build time). */
#include "kernel_ioregion.h"
#include "wire_layout.h"

const struct wire_layout kernel_wire = WIRE_LAYOUT_OF_HEADER;
