/* SPDX-License-Identifier: MIT */
/*
 * A VM's device state as one file (a memfd on the control socket): a
 * header, then a devstate.h record per region of the VM. Saving takes
 * every region, a ram's memory included; loading reads and checks every
 * record (each restored into a scratch instance first) before it applies
 * any, so a refused file changes nothing. Format in docs/protocol.md.
 */
#ifndef VMSTATE_H
#define VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioregiond.h"

#define VMSTATE_MAGIC "IORVMST1"
/* 2: each record is followed by its backend part (a TPM's swtpm). */
#define VMSTATE_VERSION 2
/* Largest file a load reads: 64 MiB ram regions, a few of them. */
#define VMSTATE_MAX_BYTES (256ull << 20)

/* A channel of vm that is open and not stopped (its VM runs), or NULL;
 * the workers paused (dead channels are closed on the way, channel_reap). */
struct channel *vmstate_running(struct ioregiond *d, const char *vm);
/* Whether vm's state may move: to another daemon (other_daemon) no region
 * may be shared with other VMs unless each VM's part stands alone (a
 * TPM's), and no TPM may be an swtpm the user runs (its state stays with
 * it); on this daemon all of it stays. 0, or -EXDEV / -ENOTSUP with why
 * naming the region. */
int vmstate_check_migration(struct ioregiond *d, const char *vm,
			    bool other_daemon, char *why, size_t whylen);
/* Names of regions a save leaves out, at most. */
#define VMSTATE_MAX_KEPT 64
/* Writes vm's state into a new memfd (*fd), with its record count and
 * length; kept gets the names of the regions left out because their
 * state is not the daemon's (a TPM the user's swtpm runs), *nkept how
 * many. 0 or -errno with why. */
int vmstate_save(struct ioregiond *d, const char *vm, int *fd,
		 unsigned int *records, uint64_t *bytes, const char **kept,
		 unsigned int *nkept, char *why, size_t whylen);
/* Loads a state file into vm's regions: all of it, or (-errno, with why
 * naming the region) nothing. With keep_shared (a migration's destination
 * on this daemon) the records of devices shared with other VMs are checked
 * but not applied: those devices never moved, and the other VMs may have
 * used them since the save. Returns how many regions it loaded; *kept
 * counts the shared ones left as they are. */
int vmstate_load(struct ioregiond *d, const char *vm, int fd,
		 bool keep_shared, unsigned int *kept, char *why,
		 size_t whylen);

#endif
