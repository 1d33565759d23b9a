/* SPDX-License-Identifier: MIT */
/*
 * A VMM process for the restart test: attaches as a VM through libioregion
 * and loops over accesses on its region fds while ioregiond is restarted
 * and killed under it, checking every value against what the devices must
 * hold:
 *   ram0    writes of 1, 2, 4 and 8 bytes, and reads checked against a
 *           copy of the whole region;
 *   test0   ECHO written (a write that waits) and read back;
 *   bell0   posted writes, counted; the device's total must match;
 *   mbox    messages to itself, up to 8 queued at any time, read back in
 *           order with DEPTH checked;
 *   tpm0    a TPM (tpm-tis and its swtpm) driven as Linux's tpm_tis
 *           does: PCR 16 extended once, then read back every 512
 *           iterations: the daemon's restarts must not change it.
 * It stops when STOPFILE exists, then checks the totals once more, asks
 * the daemon for its stats over the same control connection and prints
 * one line: "restart-client: ok ..." or "restart-client: FAIL ...".
 * With --mail it only attaches as VM and sends one message through mbox
 * (to the next VM of the region): how the test stops tests/guests/restart.
 * Usage: restart-client SOCKET VM STOPFILE
 *        restart-client --mail SOCKET VM
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libioregion.h>

#include "tis_driver.h"

#define RAM_SIZE 0x1000
#define BELL_TOTAL 0x400
#define TEST_ECHO 0x40
#define MBOX_DEST 0x0c
#define MBOX_TX 0x10
#define MBOX_RX 0x18
#define MBOX_DEPTH 0x24
#define MBOX_WINDOW 8
#define MBOX_TAG 0x6d00000000000000ull

struct rc_state {
	struct ioregion_client *c;
	struct ioregion_region ram, test, bell, mbox, tpm;
	uint8_t pcr16[32];
	uint64_t pcr_checks;
	uint8_t shadow[RAM_SIZE];
	uint64_t rng;
	uint64_t iterations, reads_checked, writes, posted;
	uint64_t bell_base, mbox_sent, mbox_received;
};

static void rc_fail(const char *fmt, ...)
{
	va_list ap;

	printf("restart-client: FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static uint64_t rc_next(struct rc_state *st)
{
	st->rng = st->rng * 6364136223846793005ull + 1442695040888963407ull;
	return st->rng >> 11;
}

static uint64_t rc_read(struct rc_state *st, struct ioregion_region *r,
			uint64_t off, unsigned int size)
{
	uint64_t v;
	int rc = ioregion_region_read(r, off, size, &v);

	if (rc < 0)
		rc_fail("read %s+0x%" PRIx64 "/%u: %s (iteration %" PRIu64 ")",
			r->name, off, size, strerror(-rc), st->iterations);
	return v;
}

static void rc_write(struct rc_state *st, struct ioregion_region *r,
		     uint64_t off, unsigned int size, uint64_t v)
{
	int rc = ioregion_region_write(r, off, size, v);

	if (rc < 0)
		rc_fail("write %s+0x%" PRIx64 "/%u: %s (iteration %" PRIu64 ")",
			r->name, off, size, strerror(-rc), st->iterations);
}

static void rc_expect(struct rc_state *st, const char *what, uint64_t got,
		      uint64_t want)
{
	if (got != want)
		rc_fail("%s: read 0x%" PRIx64 ", expected 0x%" PRIx64
			" (iteration %" PRIu64 ")", what, got, want,
			st->iterations);
	st->reads_checked++;
}

static uint64_t rc_shadow_load(const struct rc_state *st, uint64_t off,
			       unsigned int size)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)st->shadow[off + i] << (8 * i);
	return v;
}

static void rc_ram(struct rc_state *st)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };
	unsigned int size = sizes[rc_next(st) % 4], i;
	uint64_t off = rc_next(st) % (RAM_SIZE / size) * size;
	uint64_t v = rc_next(st);

	rc_write(st, &st->ram, off, size, v);
	for (i = 0; i < size; i++)
		st->shadow[off + i] = (uint8_t)(v >> (8 * i));
	st->writes++;
	size = sizes[rc_next(st) % 4];
	off = rc_next(st) % (RAM_SIZE / size) * size;
	rc_expect(st, "ram0", rc_read(st, &st->ram, off, size),
		  rc_shadow_load(st, off, size));
}

static void rc_ram_sweep(struct rc_state *st)
{
	uint64_t off;

	for (off = 0; off < RAM_SIZE; off += 8)
		rc_expect(st, "ram0 sweep", rc_read(st, &st->ram, off, 8),
			  rc_shadow_load(st, off, 8));
}

static void rc_echo(struct rc_state *st)
{
	uint64_t v = rc_next(st);

	rc_write(st, &st->test, TEST_ECHO, 8, v);
	st->writes++;
	rc_expect(st, "test0 ECHO", rc_read(st, &st->test, TEST_ECHO, 8), v);
}

static void rc_bell(struct rc_state *st)
{
	unsigned int i, n = 1 + rc_next(st) % 16;

	for (i = 0; i < n; i++) {
		rc_write(st, &st->bell, 8 * (st->posted % 4), 8, st->posted);
		st->posted++;
	}
}

static void rc_bell_check(struct rc_state *st)
{
	rc_expect(st, "bell0 total",
		  rc_read(st, &st->bell, BELL_TOTAL, 8) - st->bell_base,
		  st->posted);
}

static void rc_mbox(struct rc_state *st)
{
	rc_write(st, &st->mbox, MBOX_TX, 8, MBOX_TAG | st->mbox_sent);
	st->mbox_sent++;
	st->writes++;
	if (st->mbox_sent - st->mbox_received < MBOX_WINDOW)
		return;
	rc_expect(st, "mbox DEPTH", rc_read(st, &st->mbox, MBOX_DEPTH, 4),
		  st->mbox_sent - st->mbox_received);
	rc_expect(st, "mbox RX", rc_read(st, &st->mbox, MBOX_RX, 8),
		  MBOX_TAG | st->mbox_received);
	st->mbox_received++;
}

/* The control connection must stay open and quiet. */
static void rc_control(struct rc_state *st)
{
	struct pollfd p = { .fd = ioregion_client_fd(st->c), .events = POLLIN };

	if (poll(&p, 1, 0) > 0)
		rc_fail("the control connection %s (iteration %" PRIu64 ")",
			(p.revents & (POLLHUP | POLLERR)) ? "was closed"
							   : "became readable",
			st->iterations);
}

static void rc_open(struct rc_state *st, const char *name,
		    struct ioregion_region *r)
{
	int rc = ioregion_client_open(st->c, name, r);

	if (rc < 0)
		rc_fail("open %s: %s", name, ioregion_client_error(st->c));
}

/* Starts from what the devices hold now: a daemon may have served others
 * before. */
static void rc_setup(struct rc_state *st)
{
	uint64_t off, depth;

	for (off = 0; off < RAM_SIZE; off += 8) {
		uint64_t v = rc_next(st);

		rc_write(st, &st->ram, off, 8, v);
		memcpy(&st->shadow[off], &v, 8);
	}
	st->bell_base = rc_read(st, &st->bell, BELL_TOTAL, 8);
	rc_write(st, &st->mbox, MBOX_DEST, 4, 0);
	for (depth = rc_read(st, &st->mbox, MBOX_DEPTH, 4); depth; depth--)
		rc_read(st, &st->mbox, MBOX_RX, 8);
}

/* The daemon's own count of the posted writes, from Stats on the same
 * connection. */
static uint64_t rc_stats_total(struct rc_state *st)
{
	char *json = NULL, *p;
	uint64_t total;
	int rc = ioregion_client_stats(st->c, NULL, &json);

	if (rc < 0)
		rc_fail("stats over the original connection: %s",
			ioregion_client_error(st->c));
	p = strstr(json, "\"bell0\"");
	p = p ? strstr(p, "\"total\":") : NULL;
	if (!p || sscanf(p + 8, "%" SCNu64, &total) != 1)
		rc_fail("no bell0 device total in the stats: %s", json);
	free(json);
	return total;
}

static int rc_tis_read(void *ctx, uint64_t off, unsigned int size,
		       uint64_t *v)
{
	struct rc_state *st = ctx;

	*v = rc_read(st, &st->tpm, off, size);
	return 0;
}

static int rc_tis_write(void *ctx, uint64_t off, unsigned int size,
			uint64_t v)
{
	struct rc_state *st = ctx;

	rc_write(st, &st->tpm, off, size, v);
	return 0;
}

/* One TPM command through the TIS registers; rc_fail unless its response
 * code is one of ok (and ok2). */
static long rc_tpm(struct rc_state *st, const uint8_t *cmd, size_t len,
		   uint8_t *resp, uint32_t ok2)
{
	struct tis_io io = { rc_tis_read, rc_tis_write, NULL, st };
	long n = tis_transmit(&io, cmd, len, resp, 4096, 120000);

	if (n < 10 || (tpm_rc(resp) != 0 && tpm_rc(resp) != ok2))
		rc_fail("TPM command 0x%x: %s 0x%x (iteration %" PRIu64 ")",
			tpm_be32(cmd + 6), n < 10 ? "no response" : "rc",
			n < 10 ? 0 : tpm_rc(resp), st->iterations);
	return n;
}

static void rc_pcr16(struct rc_state *st, uint8_t *pcr)
{
	uint8_t resp[4096];
	long n = rc_tpm(st, tpm_cmd_pcr16_read, sizeof(tpm_cmd_pcr16_read),
			resp, 0);

	memcpy(pcr, resp + n - 32, 32);
}

/* TPM2_Startup (TPM_RC_INITIALIZE if someone did it already), one extend
 * of PCR 16, and its value to compare with. */
static void rc_tpm_setup(struct rc_state *st)
{
	uint8_t cmd[TPM_PCR16_EXTEND_LEN], digest[32], resp[4096];

	rc_tpm(st, tpm_cmd_startup, sizeof(tpm_cmd_startup), resp, 0x100);
	memset(digest, 0x42, sizeof(digest));
	rc_tpm(st, cmd, tpm_cmd_pcr16_extend(cmd, digest), resp, 0);
	rc_pcr16(st, st->pcr16);
}

static void rc_tpm_check(struct rc_state *st)
{
	uint8_t pcr[32];

	rc_pcr16(st, pcr);
	if (memcmp(pcr, st->pcr16, sizeof(pcr)) != 0)
		rc_fail("tpm0: PCR 16 changed (iteration %" PRIu64 ")",
			st->iterations);
	st->pcr_checks++;
}

static void rc_connect(struct rc_state *st, const char *path,
		       const char *vm)
{
	int rc = ioregion_client_connect(path, "restart-client", vm, &st->c);

	if (rc < 0)
		rc_fail("connect: %s", st->c ? ioregion_client_error(st->c)
					     : strerror(-rc));
}

static int rc_mail(const char *path, const char *vm)
{
	struct rc_state st = { 0 };

	rc_connect(&st, path, vm);
	rc_open(&st, "mbox", &st.mbox);
	rc_write(&st, &st.mbox, MBOX_TX, 4, 0x5709);
	ioregion_client_free(st.c);
	return 0;
}

int main(int argc, char **argv)
{
	struct rc_state st = { .rng = 0x9e3779b97f4a7c15ull };
	uint64_t total;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "--mail") == 0)
		return rc_mail(argv[2], argv[3]);
	if (argc != 4) {
		fprintf(stderr, "usage: %s SOCKET VM STOPFILE\n"
			"       %s --mail SOCKET VM\n", argv[0], argv[0]);
		return 2;
	}
	rc_connect(&st, argv[1], argv[2]);
	rc_open(&st, "ram0", &st.ram);
	rc_open(&st, "test0", &st.test);
	rc_open(&st, "bell0", &st.bell);
	rc_open(&st, "mbox", &st.mbox);
	rc_open(&st, "tpm0", &st.tpm);
	rc_setup(&st);
	rc_tpm_setup(&st);
	printf("restart-client: attached as %s, regions open\n", argv[2]);
	while (access(argv[3], F_OK) != 0) {
		rc_ram(&st);
		rc_echo(&st);
		rc_bell(&st);
		rc_mbox(&st);
		rc_control(&st);
		if (++st.iterations % 512 == 0) {
			rc_ram_sweep(&st);
			rc_bell_check(&st);
			rc_tpm_check(&st);
		}
	}
	rc_ram_sweep(&st);
	rc_bell_check(&st);
	rc_tpm_check(&st);
	total = rc_stats_total(&st);
	if (total - st.bell_base != st.posted)
		rc_fail("the daemon's stats count %" PRIu64
			" posted writes to bell0, the client sent %" PRIu64,
			total - st.bell_base, st.posted);
	printf("restart-client: ok: %" PRIu64 " iterations, %" PRIu64
	       " values checked, %" PRIu64 " writes, %" PRIu64
	       " posted writes (the daemon's stats count %" PRIu64
	       "), %" PRIu64 " mailbox messages in order, TPM PCR 16 the same in %" PRIu64
	       " reads; the control connection and the 5 region fds stayed open\n",
	       st.iterations, st.reads_checked, st.writes, st.posted,
	       total - st.bell_base, st.mbox_received, st.pcr_checks);
	ioregion_client_free(st.c);
	return 0;
}
