/* SPDX-License-Identifier: MIT */
/*
 * uart16550: the registers of an 8250/16550A as Linux's 8250 driver uses
 * them: RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR, and DLL/DLM behind
 * LCR.DLAB. Transmission is instant: THR never stays full, so LSR always
 * reports THRE|TEMT. Transmitted bytes go out a line at a time to stdout, a
 * file or the log ("output": "stdout" | "file" | "log" | "none", "path" for
 * a file) and, byte by byte, to the host's console (device_output).
 * Received bytes come from the console (device_ops.input) into a 16-byte
 * FIFO (one byte with FCR.FIFO off); loopback mode (MCR.LOOP) feeds THR into
 * RBR and MCR into MSR, which the Linux driver's probe checks.
 *
 * The interrupt output is high while IIR reports an interrupt, as on a real
 * 16550: receiver line status (overrun) if IER.RLSI, received data if
 * IER.RDI, THR empty if IER.THRI. THR empty is pending after each
 * transmitted byte and when IER.THRI goes from 0 to 1; reading IIR while it
 * reports THR empty, or writing THR, acknowledges it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "device.h"
#include "output.h"

#define UART_RBR_THR 0
#define UART_IER 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define UART_SIZE 8

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_FIFO_ON 0xc0
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_RX_FIFO 16
#define UART_LINE_MAX 256
/* Output waiting for a slow stdout or file; beyond it lines are dropped. */
#define UART_OUTPUT_BUFFER (64 * 1024)

enum uart_output { UART_OUT_STDOUT, UART_OUT_FILE, UART_OUT_LOG, UART_OUT_NONE };

struct dev_uart {
	struct device dev;
	enum uart_output output;
	struct output *out;	/* stdout or file */
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thr_irq_pending;
	bool overrun;			/* LSR.OE, cleared by reading LSR */
	bool input_held;		/* input refused bytes: call input_ready */
	uint8_t rx[UART_RX_FIFO];
	unsigned int rx_head, rx_count;
	char line[UART_LINE_MAX];
	size_t line_len;
	uint64_t tx_bytes, rx_bytes, lines, rx_overruns, bad_access;
	uint64_t output_dropped;	/* bytes the output could not take */
};

static struct dev_uart *dev_uart(struct device *dev)
{
	return container_of(dev, struct dev_uart, dev);
}

/* The file is created on the first line, not here: validating a config
 * must leave no trace. Here it only has to be creatable. */
static int dev_uart_check_path(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	int rc = 0;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (access(path, W_OK) < 0 &&
	    (errno != ENOENT || access(dirname(copy), W_OK) < 0)) {
		snprintf(err, errlen, "options.path: %s: %s", path,
			 strerror(errno));
		rc = -1;
	}
	free(copy);
	return rc;
}

static int dev_uart_parse_output(struct dev_uart *u, const json_t *options,
				 char *err, size_t errlen)
{
	const json_t *out = options ? json_object_get(options, "output") : NULL;
	const json_t *path = options ? json_object_get(options, "path") : NULL;
	const char *s = out ? json_string_value(out) : "log";

	if (!s) {
		snprintf(err, errlen, "options.output: expected a string");
		return -1;
	}
	if (strcmp(s, "stdout") == 0)
		u->output = UART_OUT_STDOUT;
	else if (strcmp(s, "log") == 0)
		u->output = UART_OUT_LOG;
	else if (strcmp(s, "none") == 0)
		u->output = UART_OUT_NONE;
	else if (strcmp(s, "file") == 0)
		u->output = UART_OUT_FILE;
	else {
		snprintf(err, errlen,
			 "options.output: \"%s\" is not stdout, file, log or none",
			 s);
		return -1;
	}
	if ((u->output == UART_OUT_FILE) != (path != NULL)) {
		snprintf(err, errlen, "options.path: %s",
			 path ? "only with \"output\": \"file\""
			      : "required with \"output\": \"file\"");
		return -1;
	}
	if (path && !json_is_string(path)) {
		snprintf(err, errlen, "options.path: expected a string");
		return -1;
	}
	if (u->output == UART_OUT_FILE &&
	    dev_uart_check_path(json_string_value(path), err, errlen) < 0)
		return -1;
	if (u->output == UART_OUT_FILE)
		u->out = output_new_path(json_string_value(path),
					 UART_OUTPUT_BUFFER);
	else if (u->output == UART_OUT_STDOUT)
		u->out = output_new_fd(STDOUT_FILENO, UART_OUTPUT_BUFFER);
	if ((u->output == UART_OUT_FILE || u->output == UART_OUT_STDOUT) &&
	    !u->out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static struct device *dev_uart_create(const json_t *options, uint64_t size,
				      unsigned int requesters, char *err,
				      size_t errlen)
{
	static const char *const keys[] = { "output", "path", NULL };
	struct dev_uart *u;

	if (device_opt_known(options, keys, err, errlen) < 0)
		return NULL;
	if (size != UART_SIZE) {
		snprintf(err, errlen, "size: uart16550 has exactly %d registers",
			 UART_SIZE);
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (dev_uart_parse_output(u, options, err, errlen) < 0) {
		output_free(u->out);
		free(u);
		return NULL;
	}
	return &u->dev;
}

static void dev_uart_flush_line(struct dev_uart *u)
{
	int err;

	if (u->line_len == 0)
		return;
	switch (u->output) {
	case UART_OUT_STDOUT:
	case UART_OUT_FILE:
		if (output_write(u->out, u->line, u->line_len) < 0)
			u->output_dropped += u->line_len;
		err = output_take_error(u->out);
		if (err)
			device_log(&u->dev, LOG_WARNING,
				   "output: %s; lines are dropped",
				   strerror(err));
		break;
	case UART_OUT_LOG:
		/* The log adds its own newline. */
		if (u->line[u->line_len - 1] == '\n')
			u->line_len--;
		device_log(&u->dev, LOG_INFO, "%.*s", (int)u->line_len,
			   u->line);
		break;
	case UART_OUT_NONE:
		break;
	}
	u->line_len = 0;
	u->lines++;
}

/* The receive FIFO holds 16 bytes, or one with the FIFOs off. */
static unsigned int dev_uart_rx_capacity(const struct dev_uart *u)
{
	return (u->fcr & UART_FCR_ENABLE) ? UART_RX_FIFO : 1;
}

static void dev_uart_rx_push(struct dev_uart *u, uint8_t c)
{
	if (u->rx_count >= dev_uart_rx_capacity(u)) {
		u->rx_overruns++;
		u->overrun = true;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO] = c;
	u->rx_count++;
}

static uint8_t dev_uart_rx_pop(struct dev_uart *u)
{
	uint8_t c;

	if (u->rx_count == 0)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
	u->rx_count--;
	if (u->input_held) {
		u->input_held = false;
		device_input_ready(&u->dev);
	}
	return c;
}

static void dev_uart_transmit(struct dev_uart *u, uint8_t c)
{
	/* The byte leaves at once, so THR is empty again. */
	u->thr_irq_pending = true;
	if (u->mcr & UART_MCR_LOOP) {
		dev_uart_rx_push(u, c);
		return;
	}
	u->tx_bytes++;
	device_output(&u->dev, &c, 1);
	u->line[u->line_len++] = (char)c;
	if (c == '\n' || u->line_len == UART_LINE_MAX)
		dev_uart_flush_line(u);
}

/* The highest-priority pending interrupt, without side effects. */
static uint8_t dev_uart_iir(const struct dev_uart *u)
{
	uint8_t fifo = (u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO_ON : 0;

	if ((u->ier & UART_IER_RLSI) && u->overrun)
		return fifo | UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_count)
		return fifo | UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thr_irq_pending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NO_INT;
}

/* Reading IIR acknowledges the THR-empty interrupt it reports. */
static uint8_t dev_uart_read_iir(struct dev_uart *u)
{
	uint8_t iir = dev_uart_iir(u);

	if ((iir & 0x0f) == UART_IIR_THRI)
		u->thr_irq_pending = false;
	return iir;
}

static uint8_t dev_uart_read_lsr(struct dev_uart *u)
{
	uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT;

	if (u->rx_count)
		lsr |= UART_LSR_DR;
	if (u->overrun)
		lsr |= UART_LSR_OE;
	u->overrun = false;
	return lsr;
}

/* The interrupt output follows IIR after every access. */
static void dev_uart_update_irq(struct dev_uart *u)
{
	device_set_irq(&u->dev, DEVICE_ALL_REQUESTERS,
		       !(dev_uart_iir(u) & UART_IIR_NO_INT));
}

/* IER.THRI going from 0 to 1 with THR empty raises THR empty again, even if
 * an IIR read had acknowledged it: Linux's start_tx relies on this. */
static void dev_uart_write_ier(struct dev_uart *u, uint8_t v)
{
	uint8_t changed = (u->ier ^ v) & 0x0f;

	u->ier = v & 0x0f;
	if (changed & UART_IER_THRI)
		u->thr_irq_pending = u->ier & UART_IER_THRI;
}

static void dev_uart_write_fcr(struct dev_uart *u, uint8_t v)
{
	/* Turning the FIFOs on or off clears them, as does FCR.CLEAR_RX. */
	if (((u->fcr ^ v) & UART_FCR_ENABLE) || (v & UART_FCR_CLEAR_RX)) {
		u->rx_head = u->rx_count = 0;
		if (u->input_held) {
			u->input_held = false;
			device_input_ready(&u->dev);
		}
	}
	u->fcr = v & ~(uint8_t)0x06;
}

/* In loopback, the modem outputs appear on the inputs: RTS->CTS, DTR->DSR,
 * OUT1->RI, OUT2->DCD. Otherwise report carrier and ready lines up. */
static uint8_t dev_uart_msr(struct dev_uart *u)
{
	if (u->mcr & UART_MCR_LOOP)
		return (uint8_t)(((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5) |
				 ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
	return 0xb0;
}

static int dev_uart_read(struct device *dev, unsigned int requester,
			 uint64_t offset, unsigned int size, uint64_t *value)
{
	struct dev_uart *u = dev_uart(dev);
	bool dlab = u->lcr & UART_LCR_DLAB;

	if (size != 1 || offset >= UART_SIZE) {
		u->bad_access++;
		return -1;
	}
	switch (offset) {
	case UART_RBR_THR:
		*value = dlab ? u->dll : dev_uart_rx_pop(u);
		break;
	case UART_IER:
		*value = dlab ? u->dlm : u->ier;
		break;
	case UART_IIR_FCR:
		*value = dev_uart_read_iir(u);
		break;
	case UART_LCR:
		*value = u->lcr;
		break;
	case UART_MCR:
		*value = u->mcr;
		break;
	case UART_LSR:
		*value = dev_uart_read_lsr(u);
		break;
	case UART_MSR:
		*value = dev_uart_msr(u);
		break;
	case UART_SCR:
		*value = u->scr;
		break;
	}
	dev_uart_update_irq(u);
	return 0;
}

static int dev_uart_write(struct device *dev, unsigned int requester,
			  uint64_t offset, unsigned int size, uint64_t value)
{
	struct dev_uart *u = dev_uart(dev);
	bool dlab = u->lcr & UART_LCR_DLAB;
	uint8_t v = (uint8_t)value;

	if (size != 1 || offset >= UART_SIZE) {
		u->bad_access++;
		return -1;
	}
	switch (offset) {
	case UART_RBR_THR:
		if (dlab)
			u->dll = v;
		else
			dev_uart_transmit(u, v);
		break;
	case UART_IER:
		if (dlab)
			u->dlm = v;
		else
			dev_uart_write_ier(u, v);
		break;
	case UART_IIR_FCR:
		dev_uart_write_fcr(u, v);
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		if ((u->mcr & UART_MCR_LOOP) && !(v & UART_MCR_LOOP) &&
		    u->input_held) {
			u->input_held = false;
			device_input_ready(&u->dev);
		}
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		/* LSR and MSR are read-only; writes are ignored as on hardware. */
		break;
	}
	dev_uart_update_irq(u);
	return 0;
}

/* Bytes typed on the console. In loopback the receiver is cut off from the
 * line, so they wait, as they do while the FIFO is full. */
static size_t dev_uart_input(struct device *dev, const uint8_t *buf,
			     size_t len)
{
	struct dev_uart *u = dev_uart(dev);
	size_t n = 0;

	while (n < len && !(u->mcr & UART_MCR_LOOP) &&
	       u->rx_count < dev_uart_rx_capacity(u))
		dev_uart_rx_push(u, buf[n++]);
	u->rx_bytes += n;
	if (n < len)
		u->input_held = true;
	dev_uart_update_irq(u);
	return n;
}

static void dev_uart_reset(struct device *dev)
{
	struct dev_uart *u = dev_uart(dev);

	dev_uart_flush_line(u);
	u->ier = u->lcr = u->mcr = u->scr = u->fcr = u->dll = u->dlm = 0;
	u->thr_irq_pending = u->overrun = false;
	u->rx_head = u->rx_count = 0;
	dev_uart_update_irq(u);
	if (u->input_held) {
		u->input_held = false;
		device_input_ready(&u->dev);
	}
}

static void dev_uart_destroy(struct device *dev)
{
	struct dev_uart *u = dev_uart(dev);

	if (!dev->handed_over)
		dev_uart_flush_line(u);
	output_free(u->out);
	free(u);
}

static void dev_uart_stats(struct device *dev, device_stat_fn *emit, void *ctx)
{
	struct dev_uart *u = dev_uart(dev);

	emit(ctx, "tx_bytes", u->tx_bytes);
	emit(ctx, "rx_bytes", u->rx_bytes);
	emit(ctx, "lines", u->lines);
	emit(ctx, "rx_overruns", u->rx_overruns);
	emit(ctx, "bad_access", u->bad_access);
	emit(ctx, "output_dropped", u->output_dropped);
}

/* Registers, the receive FIFO, the line not yet output, counters. */
static void dev_uart_save(struct device *dev, struct statebuf *sb)
{
	struct dev_uart *u = dev_uart(dev);
	const uint8_t regs[] = { u->ier, u->lcr, u->mcr, u->scr, u->fcr,
				 u->dll, u->dlm, u->thr_irq_pending,
				 u->overrun };
	unsigned int i;

	statebuf_put_bytes(sb, regs, sizeof(regs));
	statebuf_put_u8(sb, (uint8_t)u->rx_count);
	for (i = 0; i < u->rx_count; i++)
		statebuf_put_u8(sb, u->rx[(u->rx_head + i) % UART_RX_FIFO]);
	statebuf_put_u32(sb, (uint32_t)u->line_len);
	statebuf_put_bytes(sb, u->line, u->line_len);
	statebuf_put_u64(sb, u->tx_bytes);
	statebuf_put_u64(sb, u->rx_bytes);
	statebuf_put_u64(sb, u->lines);
	statebuf_put_u64(sb, u->rx_overruns);
	statebuf_put_u64(sb, u->bad_access);
	statebuf_put_u64(sb, u->output_dropped);
}

static int dev_uart_restore(struct device *dev, struct statebuf *sb,
			    int memory_fd)
{
	struct dev_uart *u = dev_uart(dev);
	uint8_t regs[9];
	unsigned int i;

	statebuf_get_bytes(sb, regs, sizeof(regs));
	u->ier = regs[0] & 0x0f;
	u->lcr = regs[1];
	u->mcr = regs[2] & 0x1f;
	u->scr = regs[3];
	u->fcr = regs[4];
	u->dll = regs[5];
	u->dlm = regs[6];
	u->thr_irq_pending = regs[7];
	u->overrun = regs[8];
	u->rx_head = 0;
	u->rx_count = statebuf_get_u8(sb);
	if (u->rx_count > dev_uart_rx_capacity(u))
		return -1;
	for (i = 0; i < u->rx_count; i++)
		u->rx[i] = statebuf_get_u8(sb);
	u->line_len = statebuf_get_u32(sb);
	if (u->line_len >= UART_LINE_MAX)
		return -1;
	statebuf_get_bytes(sb, u->line, u->line_len);
	u->tx_bytes = statebuf_get_u64(sb);
	u->rx_bytes = statebuf_get_u64(sb);
	u->lines = statebuf_get_u64(sb);
	u->rx_overruns = statebuf_get_u64(sb);
	u->bad_access = statebuf_get_u64(sb);
	u->output_dropped = statebuf_get_u64(sb);
	dev_uart_update_irq(u);
	return 0;
}

const struct device_ops device_uart16550_ops = {
	.name = "uart16550",
	.state_version = 1,
	.create = dev_uart_create,
	.read = dev_uart_read,
	.write = dev_uart_write,
	.reset = dev_uart_reset,
	.destroy = dev_uart_destroy,
	.stats = dev_uart_stats,
	.input = dev_uart_input,
	.save = dev_uart_save,
	.restore = dev_uart_restore,
};
