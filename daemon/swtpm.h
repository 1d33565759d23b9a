/* SPDX-License-Identifier: MIT */
/*
 * One swtpm process (Debian's swtpm 0.7, `swtpm socket --tpm2`) and its
 * two channels: the control channel (swtpm's --ctrl, a socketpair end
 * passed as clientfd) and the data channel (handed over with
 * CMD_SET_DATAFD, as QEMU's tpm-emulator backend does). The requests of
 * the control protocol are big-endian, as swtpm's tpm_ioctl.h defines.
 * The calls here block (bounded by a timeout): they serve start-up and
 * tests; tpm_backend.c drives the channels from the event loop.
 */
#ifndef SWTPM_H
#define SWTPM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Control commands and state blob types of swtpm's control protocol. */
#define SWTPM_CMD_INIT 0x02
#define SWTPM_CMD_SHUTDOWN 0x03
#define SWTPM_CMD_SET_LOCALITY 0x05
#define SWTPM_CMD_CANCEL_TPM_CMD 0x09
#define SWTPM_CMD_GET_STATEBLOB 0x0c
#define SWTPM_CMD_SET_STATEBLOB 0x0d
#define SWTPM_CMD_STOP 0x0e
#define SWTPM_CMD_SET_DATAFD 0x10
#define SWTPM_BLOB_PERMANENT 1
#define SWTPM_BLOB_VOLATILE 2
#define SWTPM_INIT_DELETE_VOLATILE 1

/* The largest TPM command or response (swtpm's default buffer). */
#define SWTPM_BUF_MAX 4096
/* A TPM 2.0 command or response header: tag, size, code. */
#define SWTPM_HDR_LEN 10

struct swtpm {
	pid_t pid;		/* 0 for an swtpm the user runs */
	int ctrl_fd;
	int data_fd;
};

/* Starts `binary socket --tpm2` with its state in state_dir (created
 * 0700 if missing, its parent must exist) and its log in state_dir/swtpm.log, and hands it the
 * data channel. The TPM is not initialized yet. Returns 0 or -errno. */
int swtpm_spawn(struct swtpm *t, const char *binary, const char *state_dir);
/* Connects to the control socket of an swtpm the user runs and hands it
 * the data channel. Returns 0 or -errno. */
int swtpm_connect(struct swtpm *t, const char *ctrl_path);
/* Closes both channels and reaps the process (SIGTERM after CMD_SHUTDOWN
 * went unanswered). */
void swtpm_close(struct swtpm *t);

/* Kills the process at once (one that stopped answering, or died) and
 * closes both channels. */
void swtpm_kill(struct swtpm *t);
/* Writes a whole TPM command to the data channel (it fits the socket's
 * buffer: the answer is read from the event loop). Returns 0 or -errno. */
int swtpm_send(struct swtpm *t, const uint8_t *cmd, size_t len);

/* One control request: the command, its payload, and the answer's fixed
 * part (which starts with the TPM result, checked here). Returns 0,
 * -EPROTO with *tpm_result set when swtpm refused, or -errno. */
int swtpm_ctrl(struct swtpm *t, uint32_t cmd, const void *req, size_t reqlen,
	       void *resp, size_t resplen, uint32_t *tpm_result);
/* CMD_INIT with flags (SWTPM_INIT_DELETE_VOLATILE). */
int swtpm_init(struct swtpm *t, uint32_t flags);
int swtpm_set_locality(struct swtpm *t, unsigned int locality);
/* A state blob, malloc'd into *blob. */
int swtpm_get_blob(struct swtpm *t, uint32_t type, uint8_t **blob,
		   size_t *len);
/* Loads a blob into a TPM that is not running (before CMD_INIT). */
int swtpm_set_blob(struct swtpm *t, uint32_t type, const uint8_t *blob,
		   size_t len);
/* Runs one TPM command on the data channel and reads its whole response
 * into resp. Returns the response's length or -errno; after an error the
 * data channel is out of step: close the swtpm. */
ssize_t swtpm_exec(struct swtpm *t, const uint8_t *cmd, size_t len,
		   uint8_t *resp, size_t cap);

/* The size field of a TPM header (big-endian, bytes 2-5). */
uint32_t swtpm_hdr_size(const uint8_t *hdr);
/* The response a TPM gives when it cannot run a command: tag
 * TPM_ST_NO_SESSIONS, size 10, rc. Writes SWTPM_HDR_LEN bytes. */
void swtpm_error_response(uint8_t *buf, uint32_t rc);

#endif
