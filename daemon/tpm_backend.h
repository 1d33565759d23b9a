/* SPDX-License-Identifier: MIT */
/*
 * The TPM behind a tpm-tis region: one swtpm per VM the region lists,
 * driven from the event loop. The model hands it whole commands
 * (device_host.submit); each is answered once, in order, through
 * device_ops.complete. Before an answer reaches the model, the TPM's
 * permanent and volatile state blobs are fetched, so the region's saved
 * state (systemd's fd store) always holds the TPM as of the last answer
 * the guest can have seen: a restarted daemon, or a swtpm that died,
 * goes on from there, PCRs included, and runs a command that had no
 * answer yet once more. While an swtpm is away its VM's command waits
 * (the guest sees the TPM busy); dead ones are restarted with backoff.
 *
 * Options (the region's "options"): "swtpm" the program (default
 * "swtpm"), "state_dir" where each VM's TPM keeps its files (default
 * $STATE_DIRECTORY/tpm, else /var/lib/ioregiond/tpm; the files go in
 * <state_dir>/<region>/<vm>), "ctrl_sockets" {"vm": "path"}: the
 * control socket of an swtpm the user runs for that VM instead.
 */
#ifndef TPM_BACKEND_H
#define TPM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"
#include "statebuf.h"

struct region;
struct tpm_backend;

/* NULL with the reason in errs when the options are wrong. Starts no
 * swtpm yet: each starts with its VM's first command. */
struct tpm_backend *tpm_backend_new(struct region *r,
				    struct config_errors *errs);
/* Shuts every swtpm down (they write their state) and frees. */
void tpm_backend_free(struct tpm_backend *b);

/* device_host.submit for the region (ctx is the region). */
int tpm_backend_submit(void *ctx, unsigned int requester,
		       unsigned int locality, const uint8_t *cmd, size_t len);
/* The VM powered on: its TPM gets TPM_Init, its volatile state goes. */
void tpm_backend_power_on(struct tpm_backend *b, unsigned int requester);

/* One VM's TPM as a VM state file carries it: its swtpm's permanent and
 * volatile state blobs as of the last answer, and whether it owes a
 * TPM_Init. */
#define TPM_BACKEND_BLOBS 2
struct tpm_backend_vm_state {
	bool init_pending;
	uint8_t *blob[TPM_BACKEND_BLOBS];
	size_t blob_len[TPM_BACKEND_BLOBS];
};

/* The state blobs, with the region's saved state. */
void tpm_backend_save(struct tpm_backend *b, struct statebuf *sb);
/* Takes saved blobs back; the swtpms load them when they start. */
int tpm_backend_restore(struct tpm_backend *b, struct statebuf *sb);
/* Whether requester's TPM is an swtpm the user runs (options.ctrl_sockets):
 * its state is there, not the daemon's to save or load. */
bool tpm_backend_is_users(const struct tpm_backend *b, unsigned int requester);
/* requester's TPM for a VM state file; -ENOTSUP for the user's swtpm. */
int tpm_backend_save_vm(struct tpm_backend *b, unsigned int requester,
			struct statebuf *sb);
/* Reads all of sb as what tpm_backend_save_vm wrote; 0 or -1. */
int tpm_backend_parse_vm(struct statebuf *sb,
			 struct tpm_backend_vm_state *st);
/* Replaces requester's TPM by st (taking its blobs): its swtpm and the
 * commands queued for it go; the next command starts one from st. */
void tpm_backend_load_vm(struct tpm_backend *b, unsigned int requester,
			 struct tpm_backend_vm_state *st);
void tpm_backend_vm_state_free(struct tpm_backend_vm_state *st);
void tpm_backend_stats(struct tpm_backend *b, device_stat_fn *emit,
		       void *ctx);

#endif
