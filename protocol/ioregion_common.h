/* SPDX-License-Identifier: MIT */
/*
 * What ioregiond and its clients agree on besides the wire formats: the
 * control socket's default path, the name limit and the counters Stats
 * reports. Public: installed beside libioregion.h, which includes it.
 */
#ifndef IOREGION_COMMON_H
#define IOREGION_COMMON_H

#define IOREGION_DEFAULT_SOCKET "/run/ioregiond/control.sock"
/* Longest VM, region or client name. */
#define IOREGION_NAME_MAX 64

/* The data-path counters of every region and VM (irqs: rising edges
 * signalled to the VM's interrupt line), as ioregion_client_stats
 * names them and ioregionctl stats shows them: X(name, column). */
#define IOREGION_COUNTERS(X)                                              \
	X(reads, "READS") X(writes, "WRITES") X(posted, "POSTED")         \
	X(batches, "BATCHES") X(errors, "ERRORS") X(irqs, "IRQS")

#endif
