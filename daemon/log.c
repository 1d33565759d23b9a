/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "output.h"

/* Longest line logged; longer ones are cut. */
#define LOG_LINE_MAX 4096
/* Lines waiting for a slow stderr while serving. */
#define LOG_BUFFER (256 * 1024)

static int log_max_level = LOG_INFO;
static bool log_journal;
/* While serving, lines go through a writer of their own, so a stalled
 * journal never holds up the event loop. */
static struct output *log_out;

void log_init(bool verbose)
{
	log_max_level = verbose ? LOG_DEBUG : LOG_INFO;
	/* systemd sets JOURNAL_STREAM when stderr goes to the journal, which
	 * then reads the level from a "<N>" prefix. */
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "error",
		"warning", "notice", "info", "debug",
	};

	char line[LOG_LINE_MAX];
	int n, m;

	if (level > log_max_level)
		return;
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", level);
	else
		n = snprintf(line, sizeof(line), "ioregiond: %s: ",
			     names[level & 7]);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m < (int)(sizeof(line) - (size_t)n - 1) ? m
						      : (int)(sizeof(line) - (size_t)n - 2);
	line[n++] = '\n';
	if (log_out)
		output_write(log_out, line, (size_t)n);
	else
		fwrite(line, 1, (size_t)n, stderr);
}

void log_serve(void)
{
	fflush(stderr);
	log_out = output_new_fd(STDERR_FILENO, LOG_BUFFER);
}

void log_close(void)
{
	output_free(log_out);
	log_out = NULL;
}

uint64_t log_dropped(void)
{
	return log_out ? output_dropped(log_out) : 0;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_limited(struct log_ratelimit *rl, int level, const char *fmt, ...)
{
	time_t now = time(NULL);
	va_list ap;

	if (now - rl->window >= LOG_INTERVAL) {
		if (rl->suppressed)
			log_msg(level, "%llu similar messages suppressed",
				(unsigned long long)rl->suppressed);
		rl->window = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count >= LOG_BURST) {
		rl->suppressed++;
		return;
	}
	rl->count++;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	log_close();
	exit(EXIT_FAILURE);
}
