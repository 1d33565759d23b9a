/* SPDX-License-Identifier: MIT */
/*
 * tpm-tis: the FIFO interface of a TPM 2.0 (TIS 1.3 as the TCG PC Client
 * Platform TPM Profile defines it for TPM 2.0), 5 localities of 4 KiB:
 *   0x00 ACCESS  0x08 INT_ENABLE  0x0c INT_VECTOR  0x10 INT_STATUS
 *   0x14 INTF_CAPABILITY  0x18 STS  0x24 DATA_FIFO  0x30 INTERFACE_ID
 *   0x80 XDATA_FIFO  0xf00 DID_VID  0xf04 RID
 * Every VM of the region (requester) has a TPM of its own: its own
 * interface state, localities and buffer, and its own backend. The model
 * does no I/O: a complete command goes to the backend through
 * device_submit() and the answer comes back through device_ops.complete.
 * Without a backend the model answers TPM_RC_FAILURE itself, so that a
 * guest never waits forever.
 *
 * No interrupt is offered (INTF_CAPABILITY says so): the guest polls STS,
 * as Linux's tpm_tis does by default. Locality 4 belongs to the platform's
 * hardware (DRTM), never to software: writes there are ignored, as on a PC
 * and in QEMU, so that a guest cannot forge locality-4 measurements.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "device.h"

#define TPM_TIS_LOCALITIES 5
#define TPM_TIS_LOCALITY_SHIFT 12
#define TPM_TIS_SIZE (TPM_TIS_LOCALITIES << TPM_TIS_LOCALITY_SHIFT)
#define TPM_TIS_REG_MASK 0xfff
#define TPM_TIS_NO_LOCALITY 0xff
#define TPM_TIS_HW_LOCALITY 4
/* The largest command or response (swtpm's and Linux's buffer). */
#define TPM_TIS_BUF 4096
#define TPM_TIS_HDR 10
/* The header's size field ends here: from then on the length is known. */
#define TPM_TIS_SIZE_END 6

#define TPM_TIS_ACCESS 0x00
#define TPM_TIS_INT_ENABLE 0x08
#define TPM_TIS_INT_VECTOR 0x0c
#define TPM_TIS_INT_STATUS 0x10
#define TPM_TIS_INTF_CAPABILITY 0x14
#define TPM_TIS_STS 0x18
#define TPM_TIS_DATA_FIFO 0x24
#define TPM_TIS_INTERFACE_ID 0x30
#define TPM_TIS_XDATA_FIFO 0x80
#define TPM_TIS_DID_VID 0xf00
#define TPM_TIS_RID 0xf04

#define TPM_TIS_ACCESS_VALID 0x80
#define TPM_TIS_ACCESS_ACTIVE 0x20
#define TPM_TIS_ACCESS_BEEN_SEIZED 0x10
#define TPM_TIS_ACCESS_SEIZE 0x08
#define TPM_TIS_ACCESS_PENDING 0x04
#define TPM_TIS_ACCESS_REQUEST_USE 0x02
/* 1: no DRTM sequence ever established this TPM (there is none here). */
#define TPM_TIS_ACCESS_ESTABLISHMENT 0x01

#define TPM_TIS_STS_VALID 0x80
#define TPM_TIS_STS_COMMAND_READY 0x40
#define TPM_TIS_STS_GO 0x20
#define TPM_TIS_STS_DATA_AVAIL 0x10
#define TPM_TIS_STS_EXPECT 0x08
#define TPM_TIS_STS_SELFTEST_DONE 0x04
#define TPM_TIS_STS_RESPONSE_RETRY 0x02
#define TPM_TIS_STS_BURST_SHIFT 8
#define TPM_TIS_STS_FAMILY_TPM2 (1u << 26)

/* dataAvail, stsValid, localityChange, typePolarity, commandReady,
 * globalIntEnable: stored, though no interrupt is ever raised. */
#define TPM_TIS_INT_ENABLE_MASK 0x8000009fu
#define TPM_TIS_INT_STATUS_MASK 0x00000087u
#define TPM_TIS_INT_VECTOR_MASK 0x0f

/* No interrupt of any kind, dynamic burstCount, byte-wide transfers
 * (DataTransferSizeSupport 00: the field cannot say "4 bytes"; wider FIFO
 * accesses work all the same), InterfaceVersion 011: TIS 1.3 for TPM 2.0. */
#define TPM_TIS_INTF_CAPABILITY_VALUE (3u << 28)
/* InterfaceType 1111b, the legacy TIS 1.3 FIFO: a TIS 1.3 chip has no
 * register here and reads all-ones, which is what 1111b stands for; the
 * other fields are then undefined. Firmware (EDK2) takes the TIS path,
 * Linux's tpm_tis never reads it. */
#define TPM_TIS_INTERFACE_ID_VALUE 0xffffffffu
/* DID 0x0001, VID 0x1014 (IBM), as QEMU's: no driver has quirks for it. */
#define TPM_TIS_DID_VID_VALUE 0x00011014u
#define TPM_TIS_RID_VALUE 0x01

#define TPM_ST_NO_SESSIONS 0x8001
#define TPM_RC_SUCCESS 0x000
#define TPM_RC_FAILURE 0x101
#define TPM_RC_COMMAND_SIZE 0x142
#define TPM_CC_SELF_TEST 0x143

#define TPM_TIS_STATE_VERSION 1

enum tpm_tis_state {
	TPM_TIS_IDLE,
	TPM_TIS_READY,
	TPM_TIS_RECEPTION,
	TPM_TIS_EXECUTION,
	TPM_TIS_COMPLETION,
};

/* Per requester; ops->stats reports the sums. */
#define TPM_TIS_COUNTERS(X) \
	X(commands) X(responses) X(resubmits) X(submit_refused) \
	X(bad_command_size) X(bad_responses) X(aborts) \
	X(stale_completions) X(spurious_completions) X(fifo_read_empty) \
	X(fifo_overflow) X(fifo_write_ignored) X(bad_go) X(bad_sts_write) \
	X(inactive_locality) X(locality4_writes) X(seize_refused) \
	X(bad_access)

struct tpm_tis_counters {
#define TPM_TIS_COUNTER_FIELD(name) uint64_t name;
	TPM_TIS_COUNTERS(TPM_TIS_COUNTER_FIELD)
#undef TPM_TIS_COUNTER_FIELD
};

struct tpm_tis_locality {
	bool request_use;
	bool been_seized;
	uint32_t int_enable;
	uint32_t int_status;
	uint8_t int_vector;
};

/* One VM's TPM. The interface state belongs to the TPM, not to a
 * locality: a change of the active locality ends the command cycle. */
struct tpm_tis_tpm {
	enum tpm_tis_state state;
	uint8_t active;		/* TPM_TIS_NO_LOCALITY when none */
	bool self_test_done;
	/* The backend owes the answer to the command in Execution. */
	bool inflight;
	/* Answers the backend still owes for aborted commands: they come
	 * first (answers come in order) and are dropped. */
	uint32_t stale;
	struct tpm_tis_locality loc[TPM_TIS_LOCALITIES];
	uint32_t len;		/* command bytes in, or response length */
	uint32_t pos;		/* response bytes read */
	uint8_t buf[TPM_TIS_BUF];
	struct tpm_tis_counters c;
};

struct tpm_tis {
	struct device dev;
	unsigned int requesters;
	struct tpm_tis_tpm tpm[];
};

struct tpm_tis_reg {
	uint16_t base;
	uint8_t width;
	bool ro;
	bool fifo;
};

static const struct tpm_tis_reg tpm_tis_regs[] = {
	{ TPM_TIS_ACCESS, 1, false, false },
	{ TPM_TIS_INT_ENABLE, 4, false, false },
	{ TPM_TIS_INT_VECTOR, 1, false, false },
	{ TPM_TIS_INT_STATUS, 4, false, false },
	{ TPM_TIS_INTF_CAPABILITY, 4, true, false },
	{ TPM_TIS_STS, 4, false, false },
	{ TPM_TIS_DATA_FIFO, 4, false, true },
	{ TPM_TIS_INTERFACE_ID, 4, true, false },
	{ TPM_TIS_XDATA_FIFO, 4, false, true },
	{ TPM_TIS_DID_VID, 4, true, false },
	{ TPM_TIS_RID, 1, true, false },
};

static struct tpm_tis *tpm_tis(struct device *dev)
{
	return container_of(dev, struct tpm_tis, dev);
}

static uint32_t tpm_tis_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void tpm_tis_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Counts a bad guest (or host) sequence. The 1st, 2nd, 4th, 8th... of a
 * kind are logged, so that a guest hammering the device cannot flood the
 * log yet every kind shows up. */
static void tpm_tis_bad(struct tpm_tis *tis, unsigned int req,
			uint64_t *counter, const char *what)
{
	uint64_t n = ++*counter;

	if ((n & (n - 1)) == 0)
		device_log(&tis->dev, LOG_WARNING,
			   "tpm-tis: requester %u: %s (%" PRIu64 " so far)", req,
			   what, n);
}

/* The register an access falls in, if it lies wholly inside one. */
static const struct tpm_tis_reg *tpm_tis_find(uint64_t offset,
					      unsigned int size)
{
	unsigned int reg = offset & TPM_TIS_REG_MASK;
	size_t i;

	if (offset >= TPM_TIS_SIZE || (size != 1 && size != 2 && size != 4))
		return NULL;
	for (i = 0; i < sizeof(tpm_tis_regs) / sizeof(tpm_tis_regs[0]); i++) {
		const struct tpm_tis_reg *r = &tpm_tis_regs[i];

		if (reg >= r->base && reg + size <= r->base + r->width)
			return r;
	}
	return NULL;
}

/* The length the command's header announces, once its size field is in.
 * A size no TPM command can have ends the command with the header: the
 * guest is not left waiting, and tpmGo then refuses it. */
static uint32_t tpm_tis_expected(const struct tpm_tis_tpm *t)
{
	uint32_t size;

	if (t->len < TPM_TIS_SIZE_END)
		return TPM_TIS_BUF;
	size = tpm_tis_be32(t->buf + 2);
	return size < TPM_TIS_HDR || size > TPM_TIS_BUF ? TPM_TIS_HDR : size;
}

static bool tpm_tis_expect(const struct tpm_tis_tpm *t)
{
	return t->len < tpm_tis_expected(t);
}

static bool tpm_tis_command_valid(const struct tpm_tis_tpm *t)
{
	return t->len >= TPM_TIS_HDR && tpm_tis_be32(t->buf + 2) == t->len;
}

static bool tpm_tis_response_valid(const uint8_t *resp, size_t len)
{
	return len >= TPM_TIS_HDR && len <= TPM_TIS_BUF &&
	       tpm_tis_be32(resp + 2) == len;
}

/* The model's own answer to a command no TPM runs: a bare header. */
static void tpm_tis_answer(struct tpm_tis_tpm *t, uint32_t rc)
{
	t->buf[0] = TPM_ST_NO_SESSIONS >> 8;
	t->buf[1] = TPM_ST_NO_SESSIONS & 0xff;
	tpm_tis_put_be32(t->buf + 2, TPM_TIS_HDR);
	tpm_tis_put_be32(t->buf + 6, rc);
	t->len = TPM_TIS_HDR;
	t->pos = 0;
	t->state = TPM_TIS_COMPLETION;
}

/* Ends the command cycle: to Idle (locality change, reset) or Ready
 * (commandReady). A command in Execution is aborted: the backend still
 * runs it (nothing here can stop it), but its answer is dropped. */
static void tpm_tis_cycle_end(struct tpm_tis *tis, unsigned int req,
			      enum tpm_tis_state next)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (t->inflight) {
		t->inflight = false;
		t->stale++;
		tpm_tis_bad(tis, req, &t->c.aborts,
			    "command aborted during execution; its answer will be dropped");
	}
	t->state = next;
	t->len = t->pos = 0;
}

/* Power-on state; counters are the caller's business. */
static void tpm_tis_power_on(struct tpm_tis *tis, unsigned int req)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	tpm_tis_cycle_end(tis, req, TPM_TIS_IDLE);
	t->active = TPM_TIS_NO_LOCALITY;
	t->self_test_done = false;
	memset(t->loc, 0, sizeof(t->loc));
	memset(t->buf, 0, sizeof(t->buf));
}

/* --- Localities -------------------------------------------------------- */

static void tpm_tis_set_active(struct tpm_tis *tis, unsigned int req,
			       uint8_t l)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (t->active == l)
		return;
	/* The new locality must not see the old one's command or answer. */
	tpm_tis_cycle_end(tis, req, TPM_TIS_IDLE);
	t->active = l;
	if (l != TPM_TIS_NO_LOCALITY)
		t->loc[l].request_use = false;
}

/* The highest locality waiting for the TPM, which is granted next. */
static uint8_t tpm_tis_next_locality(const struct tpm_tis_tpm *t)
{
	int l;

	for (l = TPM_TIS_LOCALITIES - 1; l >= 0; l--)
		if (t->loc[l].request_use)
			return (uint8_t)l;
	return TPM_TIS_NO_LOCALITY;
}

static bool tpm_tis_pending_except(const struct tpm_tis_tpm *t,
				   unsigned int l)
{
	unsigned int i;

	for (i = 0; i < TPM_TIS_LOCALITIES; i++)
		if (i != l && t->loc[i].request_use)
			return true;
	return false;
}

static uint8_t tpm_tis_access(const struct tpm_tis_tpm *t, unsigned int l)
{
	uint8_t v = TPM_TIS_ACCESS_VALID | TPM_TIS_ACCESS_ESTABLISHMENT;

	if (t->active == l)
		v |= TPM_TIS_ACCESS_ACTIVE;
	if (t->loc[l].request_use)
		v |= TPM_TIS_ACCESS_REQUEST_USE;
	if (t->loc[l].been_seized)
		v |= TPM_TIS_ACCESS_BEEN_SEIZED;
	if (tpm_tis_pending_except(t, l))
		v |= TPM_TIS_ACCESS_PENDING;
	return v;
}

static void tpm_tis_request_use(struct tpm_tis *tis, unsigned int req,
				unsigned int l)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (t->active == l)
		return;
	if (t->active == TPM_TIS_NO_LOCALITY)
		tpm_tis_set_active(tis, req, (uint8_t)l);
	else
		t->loc[l].request_use = true;
}

/* activeLocality written 1: the owner gives the TPM up (to the highest
 * waiting locality); anyone else withdraws its request. */
static void tpm_tis_relinquish(struct tpm_tis *tis, unsigned int req,
			       unsigned int l)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (t->active != l) {
		t->loc[l].request_use = false;
		return;
	}
	tpm_tis_set_active(tis, req, tpm_tis_next_locality(t));
}

/* Only a locality above the active one may take the TPM by force. */
static void tpm_tis_seize(struct tpm_tis *tis, unsigned int req,
			  unsigned int l)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (t->active == l)
		return;
	if (t->active != TPM_TIS_NO_LOCALITY && l < t->active) {
		tpm_tis_bad(tis, req, &t->c.seize_refused,
			    "Seize from a locality below the active one ignored");
		return;
	}
	if (t->active != TPM_TIS_NO_LOCALITY)
		t->loc[t->active].been_seized = true;
	tpm_tis_set_active(tis, req, (uint8_t)l);
}

static void tpm_tis_write_access(struct tpm_tis *tis, unsigned int req,
				 unsigned int l, uint8_t v)
{
	/* A Seize stands alone: requestUse and activeLocality written with
	 * it are ignored (as QEMU does). */
	if (v & TPM_TIS_ACCESS_SEIZE) {
		v &= (uint8_t)~(TPM_TIS_ACCESS_REQUEST_USE |
				TPM_TIS_ACCESS_ACTIVE);
		tpm_tis_seize(tis, req, l);
	}
	if (v & TPM_TIS_ACCESS_ACTIVE)
		tpm_tis_relinquish(tis, req, l);
	if (v & TPM_TIS_ACCESS_BEEN_SEIZED)
		tis->tpm[req].loc[l].been_seized = false;
	if (v & TPM_TIS_ACCESS_REQUEST_USE)
		tpm_tis_request_use(tis, req, l);
}

/* --- The command cycle ------------------------------------------------- */

/* Bytes the TPM takes (Ready, Reception) or has (Completion) now. */
static uint32_t tpm_tis_burst(const struct tpm_tis_tpm *t)
{
	switch (t->state) {
	case TPM_TIS_READY:
		return TPM_TIS_BUF;
	case TPM_TIS_RECEPTION:
		return tpm_tis_expect(t) ? TPM_TIS_BUF - t->len : 0;
	case TPM_TIS_COMPLETION:
		return t->len - t->pos;
	default:
		return 0;
	}
}

static uint32_t tpm_tis_sts(const struct tpm_tis_tpm *t, unsigned int size)
{
	uint32_t sts = TPM_TIS_STS_FAMILY_TPM2 | TPM_TIS_STS_VALID;
	uint32_t burst = tpm_tis_burst(t);

	if (t->self_test_done)
		sts |= TPM_TIS_STS_SELFTEST_DONE;
	if (t->state == TPM_TIS_READY)
		sts |= TPM_TIS_STS_COMMAND_READY;
	if (t->state == TPM_TIS_RECEPTION && tpm_tis_expect(t))
		sts |= TPM_TIS_STS_EXPECT;
	if (t->state == TPM_TIS_COMPLETION && t->pos < t->len)
		sts |= TPM_TIS_STS_DATA_AVAIL;
	/* A driver reading burstCount a byte at a time must not take 0x00
	 * of 0x100 for "no room": byte-wide reads (of either byte) report
	 * at most 0xff, which reads back consistently as 0x00ff. */
	if (size == 1 && burst > 0xff)
		burst = 0xff;
	return sts | burst << TPM_TIS_STS_BURST_SHIFT;
}

static void tpm_tis_submit(struct tpm_tis *tis, unsigned int req)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (!tpm_tis_command_valid(t)) {
		tpm_tis_bad(tis, req, &t->c.bad_command_size,
			    "command whose header size is outside 10..4096 answered TPM_RC_COMMAND_SIZE");
		tpm_tis_answer(t, TPM_RC_COMMAND_SIZE);
		return;
	}
	/* No backend, or one whose queue is full: the guest gets an
	 * answer all the same. */
	if (device_submit(&tis->dev, req, t->active, t->buf, t->len) < 0) {
		tpm_tis_bad(tis, req, &t->c.submit_refused,
			    "no TPM backend took the command: answered TPM_RC_FAILURE");
		tpm_tis_answer(t, TPM_RC_FAILURE);
		return;
	}
	t->inflight = true;
	t->c.commands++;
}

static void tpm_tis_go(struct tpm_tis *tis, unsigned int req)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (t->state != TPM_TIS_RECEPTION || tpm_tis_expect(t)) {
		tpm_tis_bad(tis, req, &t->c.bad_go,
			    "tpmGo without a complete command ignored");
		return;
	}
	t->state = TPM_TIS_EXECUTION;
	tpm_tis_submit(tis, req);
}

static void tpm_tis_response_retry(struct tpm_tis *tis, unsigned int req)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	if (t->state != TPM_TIS_COMPLETION) {
		tpm_tis_bad(tis, req, &t->c.bad_sts_write,
			    "responseRetry with no response ignored");
		return;
	}
	t->pos = 0;
}

/* commandCancel: nothing here can stop the backend, and a TPM may finish
 * a command it was asked to cancel; resetEstablishment: the flag is never
 * set (no DRTM). Both are accepted and change nothing. */
static void tpm_tis_write_sts(struct tpm_tis *tis, unsigned int req,
			      uint32_t v)
{
	switch (v & (TPM_TIS_STS_COMMAND_READY | TPM_TIS_STS_GO |
		     TPM_TIS_STS_RESPONSE_RETRY)) {
	case 0:
		break;
	case TPM_TIS_STS_COMMAND_READY:
		/* From Reception, Execution or Completion this aborts. */
		tpm_tis_cycle_end(tis, req, TPM_TIS_READY);
		break;
	case TPM_TIS_STS_GO:
		tpm_tis_go(tis, req);
		break;
	case TPM_TIS_STS_RESPONSE_RETRY:
		tpm_tis_response_retry(tis, req);
		break;
	default:
		tpm_tis_bad(tis, req, &tis->tpm[req].c.bad_sts_write,
			    "STS write of more than one of commandReady, tpmGo, responseRetry ignored");
		break;
	}
}

static void tpm_tis_fifo_write(struct tpm_tis *tis, unsigned int req,
			       uint64_t value, unsigned int size)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];
	unsigned int i, dropped = 0;

	if (t->state == TPM_TIS_READY)
		t->state = TPM_TIS_RECEPTION;
	if (t->state != TPM_TIS_RECEPTION) {
		tpm_tis_bad(tis, req, &t->c.fifo_write_ignored,
			    "FIFO write while the TPM takes no command ignored");
		return;
	}
	/* expect implies len < expected <= TPM_TIS_BUF. */
	for (i = 0; i < size; i++) {
		if (tpm_tis_expect(t))
			t->buf[t->len++] = (uint8_t)(value >> (8 * i));
		else
			dropped++;
	}
	if (dropped)
		tpm_tis_bad(tis, req, &t->c.fifo_overflow,
			    "FIFO bytes past the command's size dropped");
}

static uint64_t tpm_tis_fifo_read(struct tpm_tis *tis, unsigned int req,
				  unsigned int size)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];
	uint64_t v = 0;
	bool empty = false;
	unsigned int i;

	for (i = 0; i < size; i++) {
		uint8_t b = 0xff;

		if (t->state == TPM_TIS_COMPLETION && t->pos < t->len)
			b = t->buf[t->pos++];
		else
			empty = true;
		v |= (uint64_t)b << (8 * i);
	}
	if (empty)
		tpm_tis_bad(tis, req, &t->c.fifo_read_empty,
			    "FIFO read with no response byte answered 0xff");
	return v;
}

/* A successful TPM2_SelfTest means every algorithm was tested. */
static void tpm_tis_note_self_test(struct tpm_tis_tpm *t, const uint8_t *resp)
{
	if (tpm_tis_be32(t->buf + 6) == TPM_CC_SELF_TEST &&
	    tpm_tis_be32(resp + 6) == TPM_RC_SUCCESS)
		t->self_test_done = true;
}

static void tpm_tis_complete(struct device *dev, unsigned int req,
			     const uint8_t *resp, size_t len)
{
	struct tpm_tis *tis = tpm_tis(dev);
	struct tpm_tis_tpm *t;

	if (req >= tis->requesters) {
		device_log(dev, LOG_ERR,
			   "tpm-tis: answer for requester %u, which does not exist, dropped",
			   req);
		return;
	}
	t = &tis->tpm[req];
	if (t->stale) {
		t->stale--;
		tpm_tis_bad(tis, req, &t->c.stale_completions,
			    "answer to an aborted command dropped");
		return;
	}
	if (!t->inflight) {
		tpm_tis_bad(tis, req, &t->c.spurious_completions,
			    "answer with no command outstanding dropped");
		return;
	}
	t->inflight = false;
	if (!tpm_tis_response_valid(resp, len)) {
		tpm_tis_bad(tis, req, &t->c.bad_responses,
			    "malformed answer from the backend replaced by TPM_RC_FAILURE");
		tpm_tis_answer(t, TPM_RC_FAILURE);
		return;
	}
	tpm_tis_note_self_test(t, resp);
	memcpy(t->buf, resp, len);
	t->len = (uint32_t)len;
	t->pos = 0;
	t->state = TPM_TIS_COMPLETION;
	t->c.responses++;
}

/* --- Register access ---------------------------------------------------- */

static uint32_t tpm_tis_read_reg(struct tpm_tis *tis, unsigned int req,
				 unsigned int l, unsigned int base,
				 unsigned int size)
{
	struct tpm_tis_tpm *t = &tis->tpm[req];

	switch (base) {
	case TPM_TIS_ACCESS:
		return tpm_tis_access(t, l);
	case TPM_TIS_INT_ENABLE:
		return t->loc[l].int_enable;
	case TPM_TIS_INT_VECTOR:
		return t->loc[l].int_vector;
	case TPM_TIS_INT_STATUS:
		return t->loc[l].int_status;
	case TPM_TIS_INTF_CAPABILITY:
		return TPM_TIS_INTF_CAPABILITY_VALUE;
	case TPM_TIS_STS:
		if (t->active == l)
			return tpm_tis_sts(t, size);
		tpm_tis_bad(tis, req, &t->c.inactive_locality,
			    "STS read from a locality that is not active answered all-ones");
		return UINT32_MAX;
	case TPM_TIS_INTERFACE_ID:
		return TPM_TIS_INTERFACE_ID_VALUE;
	case TPM_TIS_DID_VID:
		return TPM_TIS_DID_VID_VALUE;
	case TPM_TIS_RID:
		return TPM_TIS_RID_VALUE;
	}
	return UINT32_MAX;
}

static int tpm_tis_read(struct device *dev, unsigned int req,
			uint64_t offset, unsigned int size, uint64_t *value)
{
	struct tpm_tis *tis = tpm_tis(dev);
	const struct tpm_tis_reg *r = tpm_tis_find(offset, size);
	unsigned int l = (unsigned int)(offset >> TPM_TIS_LOCALITY_SHIFT);
	unsigned int shift;

	if (req >= tis->requesters)
		return -1;
	if (!r) {
		/* The daemon logs refused accesses itself. */
		tis->tpm[req].c.bad_access++;
		return -1;
	}
	if (r->fifo && tis->tpm[req].active != l) {
		tpm_tis_bad(tis, req, &tis->tpm[req].c.inactive_locality,
			    "FIFO read from a locality that is not active answered all-ones");
		*value = ioregion_size_mask(size);
	} else if (r->fifo) {
		*value = tpm_tis_fifo_read(tis, req, size);
	} else {
		shift = 8 * ((offset & TPM_TIS_REG_MASK) - r->base);
		*value = tpm_tis_read_reg(tis, req, l, r->base, size) >> shift;
		*value &= ioregion_size_mask(size);
	}
	return 0;
}

/* INT_ENABLE, INT_VECTOR, INT_STATUS, STS and the FIFOs: the active
 * locality's alone. v and mask are placed at the register's byte 0. */
static void tpm_tis_write_owned(struct tpm_tis *tis, unsigned int req,
				const struct tpm_tis_reg *r, unsigned int l,
				uint32_t v, uint32_t mask)
{
	struct tpm_tis_locality *loc = &tis->tpm[req].loc[l];

	switch (r->base) {
	case TPM_TIS_INT_ENABLE:
		loc->int_enable = (loc->int_enable & ~mask) |
				  (v & mask & TPM_TIS_INT_ENABLE_MASK);
		break;
	case TPM_TIS_INT_VECTOR:
		loc->int_vector = v & TPM_TIS_INT_VECTOR_MASK;
		break;
	case TPM_TIS_INT_STATUS:
		/* Write 1 to clear; nothing ever sets a bit here. */
		loc->int_status &= ~(v & TPM_TIS_INT_STATUS_MASK);
		break;
	case TPM_TIS_STS:
		tpm_tis_write_sts(tis, req, v);
		break;
	}
}

static int tpm_tis_write(struct device *dev, unsigned int req,
			 uint64_t offset, unsigned int size, uint64_t value)
{
	struct tpm_tis *tis = tpm_tis(dev);
	const struct tpm_tis_reg *r = tpm_tis_find(offset, size);
	unsigned int l = (unsigned int)(offset >> TPM_TIS_LOCALITY_SHIFT);
	unsigned int shift;
	struct tpm_tis_tpm *t;

	if (req >= tis->requesters)
		return -1;
	t = &tis->tpm[req];
	if (!r || r->ro) {
		t->c.bad_access++;
		return -1;
	}
	if (l == TPM_TIS_HW_LOCALITY) {
		tpm_tis_bad(tis, req, &t->c.locality4_writes,
			    "write to locality 4, which only the platform's hardware may use, ignored");
		return 0;
	}
	if (r->base == TPM_TIS_ACCESS) {
		tpm_tis_write_access(tis, req, l, (uint8_t)value);
		return 0;
	}
	if (t->active != l) {
		tpm_tis_bad(tis, req, &t->c.inactive_locality,
			    "write from a locality that is not active ignored");
		return 0;
	}
	if (r->fifo) {
		tpm_tis_fifo_write(tis, req, value, size);
		return 0;
	}
	shift = 8 * ((offset & TPM_TIS_REG_MASK) - r->base);
	tpm_tis_write_owned(tis, req, r, l, (uint32_t)(value << shift),
			    (uint32_t)(ioregion_size_mask(size) << shift));
	return 0;
}

/* --- Life cycle --------------------------------------------------------- */

static struct device *tpm_tis_create(const json_t *options, uint64_t size,
				     unsigned int requesters, char *err,
				     size_t errlen)
{
	/* The backend's options: the daemon's backend checks their values. */
	static const char *const keys[] = { "swtpm", "state_dir",
					    "ctrl_sockets", NULL };
	struct tpm_tis *tis;
	unsigned int i;

	if (device_opt_known(options, keys, err, errlen) < 0)
		return NULL;
	if (size != TPM_TIS_SIZE) {
		snprintf(err, errlen,
			 "size: tpm-tis is 5 localities of 4 KiB: 0x%x bytes, not 0x%" PRIx64,
			 TPM_TIS_SIZE, size);
		return NULL;
	}
	if (requesters == 0) {
		snprintf(err, errlen, "vms: tpm-tis needs at least one VM");
		return NULL;
	}
	tis = calloc(1, sizeof(*tis) +
			(size_t)requesters * sizeof(tis->tpm[0]));
	if (!tis) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tis->requesters = requesters;
	for (i = 0; i < requesters; i++)
		tpm_tis_power_on(tis, i);
	return &tis->dev;
}

/* Answers owed for aborted commands stay owed: the backend sends them
 * all the same. */
static void tpm_tis_reset(struct device *dev)
{
	struct tpm_tis *tis = tpm_tis(dev);
	unsigned int i;

	for (i = 0; i < tis->requesters; i++) {
		tpm_tis_power_on(tis, i);
		memset(&tis->tpm[i].c, 0, sizeof(tis->tpm[i].c));
	}
}

/* The counters are the daemon's record, not the VM's state: they stay. */
static void tpm_tis_reset_vm(struct device *dev, unsigned int req)
{
	struct tpm_tis *tis = tpm_tis(dev);

	if (req < tis->requesters)
		tpm_tis_power_on(tis, req);
}

static void tpm_tis_destroy(struct device *dev)
{
	free(tpm_tis(dev));
}

static void tpm_tis_stats(struct device *dev, device_stat_fn *emit,
			  void *ctx)
{
	struct tpm_tis *tis = tpm_tis(dev);
	struct tpm_tis_counters sum = { 0 };
	unsigned int i;

	for (i = 0; i < tis->requesters; i++) {
#define TPM_TIS_COUNTER_ADD(name) sum.name += tis->tpm[i].c.name;
		TPM_TIS_COUNTERS(TPM_TIS_COUNTER_ADD)
#undef TPM_TIS_COUNTER_ADD
	}
#define TPM_TIS_COUNTER_EMIT(name) emit(ctx, #name, sum.name);
	TPM_TIS_COUNTERS(TPM_TIS_COUNTER_EMIT)
#undef TPM_TIS_COUNTER_EMIT
}

/* --- Save and restore --------------------------------------------------- */

/* inflight is Execution itself. stale is not kept: the backend of a
 * restarted daemon owes nothing for the previous daemon's commands. */
static void tpm_tis_save_tpm(const struct tpm_tis_tpm *t, struct statebuf *sb)
{
	unsigned int l;

	statebuf_put_u8(sb, (uint8_t)t->state);
	statebuf_put_u8(sb, t->active);
	statebuf_put_u8(sb, t->self_test_done);
	for (l = 0; l < TPM_TIS_LOCALITIES; l++) {
		statebuf_put_u8(sb, (uint8_t)(t->loc[l].request_use |
					      t->loc[l].been_seized << 1));
		statebuf_put_u32(sb, t->loc[l].int_enable);
		statebuf_put_u8(sb, t->loc[l].int_vector);
		statebuf_put_u32(sb, t->loc[l].int_status);
	}
	statebuf_put_u32(sb, t->len);
	statebuf_put_u32(sb, t->pos);
	statebuf_put_bytes(sb, t->buf, t->len);
#define TPM_TIS_COUNTER_PUT(name) statebuf_put_u64(sb, t->c.name);
	TPM_TIS_COUNTERS(TPM_TIS_COUNTER_PUT)
#undef TPM_TIS_COUNTER_PUT
}

static void tpm_tis_save(struct device *dev, struct statebuf *sb)
{
	struct tpm_tis *tis = tpm_tis(dev);
	unsigned int i;

	statebuf_put_u32(sb, TPM_TIS_STATE_VERSION);
	statebuf_put_u32(sb, tis->requesters);
	for (i = 0; i < tis->requesters; i++)
		tpm_tis_save_tpm(&tis->tpm[i], sb);
}

/* What the model itself could have produced, so that nothing restored can
 * send an access out of the buffer or a malformed command out. */
static bool tpm_tis_state_valid(const struct tpm_tis_tpm *t)
{
	/* Locality 4 never becomes active: its writes are ignored. */
	if (t->active >= TPM_TIS_HW_LOCALITY &&
	    t->active != TPM_TIS_NO_LOCALITY)
		return false;
	if (t->active == TPM_TIS_NO_LOCALITY && t->state != TPM_TIS_IDLE)
		return false;
	switch (t->state) {
	case TPM_TIS_IDLE:
	case TPM_TIS_READY:
		return t->len == 0 && t->pos == 0;
	case TPM_TIS_RECEPTION:
		return t->pos == 0 && t->len <= tpm_tis_expected(t);
	case TPM_TIS_EXECUTION:
		return t->pos == 0 && tpm_tis_command_valid(t);
	case TPM_TIS_COMPLETION:
		return tpm_tis_response_valid(t->buf, t->len);
	}
	return false;
}

static void tpm_tis_restore_locality(struct tpm_tis_locality *loc,
				     struct statebuf *sb)
{
	uint8_t flags = statebuf_get_u8(sb);

	loc->request_use = flags & 1;
	loc->been_seized = flags & 2;
	loc->int_enable = statebuf_get_u32(sb) & TPM_TIS_INT_ENABLE_MASK;
	loc->int_vector = statebuf_get_u8(sb) & TPM_TIS_INT_VECTOR_MASK;
	loc->int_status = statebuf_get_u32(sb) & TPM_TIS_INT_STATUS_MASK;
}

static int tpm_tis_restore_tpm(struct tpm_tis_tpm *t, struct statebuf *sb)
{
	unsigned int l;

	t->inflight = false;
	t->stale = 0;
	t->state = (enum tpm_tis_state)statebuf_get_u8(sb);
	t->active = statebuf_get_u8(sb);
	t->self_test_done = statebuf_get_u8(sb) != 0;
	for (l = 0; l < TPM_TIS_LOCALITIES; l++)
		tpm_tis_restore_locality(&t->loc[l], sb);
	t->len = statebuf_get_u32(sb);
	t->pos = statebuf_get_u32(sb);
	if (t->len > TPM_TIS_BUF || t->pos > t->len) {
		t->len = t->pos = 0;
		return -1;
	}
	statebuf_get_bytes(sb, t->buf, t->len);
#define TPM_TIS_COUNTER_GET(name) t->c.name = statebuf_get_u64(sb);
	TPM_TIS_COUNTERS(TPM_TIS_COUNTER_GET)
#undef TPM_TIS_COUNTER_GET
	return sb->error || !tpm_tis_state_valid(t) ? -1 : 0;
}

/* A command that was executing when the daemon stopped goes to the
 * backend again: the daemon restored the backend's state first, so it
 * runs on the TPM state it was meant for. */
/* A TPM restored in the middle of a command: its answer was lost with the
 * backend that ran it, so it runs again. */
static void tpm_tis_resubmit(struct tpm_tis *tis, unsigned int req)
{
	if (tis->tpm[req].state != TPM_TIS_EXECUTION)
		return;
	tis->tpm[req].c.resubmits++;
	tpm_tis_submit(tis, req);
}

static int tpm_tis_restore(struct device *dev, struct statebuf *sb,
			   int memory_fd)
{
	struct tpm_tis *tis = tpm_tis(dev);
	unsigned int i;

	if (statebuf_get_u32(sb) != TPM_TIS_STATE_VERSION ||
	    statebuf_get_u32(sb) != tis->requesters)
		return -1;
	for (i = 0; i < tis->requesters; i++)
		if (tpm_tis_restore_tpm(&tis->tpm[i], sb) < 0)
			return -1;
	for (i = 0; i < tis->requesters; i++)
		tpm_tis_resubmit(tis, i);
	return 0;
}

/* One VM's TPM alone, for migration. */
static void tpm_tis_save_vm(struct device *dev, unsigned int req,
			    struct statebuf *sb)
{
	statebuf_put_u32(sb, TPM_TIS_STATE_VERSION);
	tpm_tis_save_tpm(&tpm_tis(dev)->tpm[req], sb);
}

static int tpm_tis_restore_vm(struct device *dev, unsigned int req,
			      struct statebuf *sb)
{
	struct tpm_tis *tis = tpm_tis(dev);

	if (statebuf_get_u32(sb) != TPM_TIS_STATE_VERSION ||
	    tpm_tis_restore_tpm(&tis->tpm[req], sb) < 0)
		return -1;
	tpm_tis_resubmit(tis, req);
	return 0;
}

const struct device_ops device_tpm_tis_ops = {
	.name = "tpm-tis",
	.state_version = 1,	/* its fields carry TPM_TIS_STATE_VERSION too */
	.create = tpm_tis_create,
	.read = tpm_tis_read,
	.write = tpm_tis_write,
	.reset = tpm_tis_reset,
	.destroy = tpm_tis_destroy,
	.stats = tpm_tis_stats,
	.save = tpm_tis_save,
	.restore = tpm_tis_restore,
	.complete = tpm_tis_complete,
	.reset_vm = tpm_tis_reset_vm,
	.save_vm = tpm_tis_save_vm,
	.restore_vm = tpm_tis_restore_vm,
	.vm_part_alone = true,
};
