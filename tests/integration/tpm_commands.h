/* SPDX-License-Identifier: MIT */
/*
 * The TPM 2.0 commands the tests send, and the fields of the answers
 * they read: one encoding for the tpm-tis unit tests, the daemon's TPM
 * tests and the systemd tier's client. Big-endian, as TPM 2.0 is.
 */
#ifndef TPM_COMMANDS_H
#define TPM_COMMANDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t tpm_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The response code of an answer. */
static inline uint32_t tpm_rc(const uint8_t *resp)
{
	return tpm_be32(resp + 6);
}

/* TPM2_Startup(CLEAR). */
static const uint8_t tpm_cmd_startup[] = {
	0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0,
};
/* TPM2_GetRandom(32). */
static const uint8_t tpm_cmd_get_random[] = {
	0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 32,
};
/* TPM2_PCR_Read of SHA-256 PCR 16: the answer is TPM_PCR16_READ_LEN
 * bytes, the digest its last 32 (from TPM_PCR16_DIGEST on). */
static const uint8_t tpm_cmd_pcr16_read[] = {
	0x80, 0x01, 0, 0, 0, 20, 0, 0, 0x01, 0x7e,
	0, 0, 0, 1, 0, 0x0b, 3, 0, 0, 1,
};
#define TPM_PCR16_READ_LEN 62
#define TPM_PCR16_DIGEST 30

/* TPM2_PCR_Extend of SHA-256 PCR 16 with digest (32 bytes), under the
 * empty password; TPM_PCR16_EXTEND_LEN bytes into cmd. */
#define TPM_PCR16_EXTEND_LEN 65
static inline size_t tpm_cmd_pcr16_extend(uint8_t *cmd, const uint8_t *digest)
{
	static const uint8_t head[] = {
		0x80, 0x02, 0, 0, 0, TPM_PCR16_EXTEND_LEN, 0, 0, 0x01, 0x82,
		0, 0, 0, 16,			/* PCR 16 */
		0, 0, 0, 9,			/* authorization size */
		0x40, 0, 0, 9, 0, 0, 0, 0, 0,	/* TPM_RS_PW, empty */
		0, 0, 0, 1, 0, 0x0b,		/* one SHA-256 digest */
	};

	memcpy(cmd, head, sizeof(head));
	memcpy(cmd + sizeof(head), digest, 32);
	return sizeof(head) + 32;
}

#endif
