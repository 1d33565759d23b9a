/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int log_max_level = LOG_INFO;
static bool log_journal;

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

	if (level > log_max_level)
		return;
	if (log_journal)
		fprintf(stderr, "<%d>", level);
	else
		fprintf(stderr, "ioregiond: %s: ", names[level & 7]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
	exit(EXIT_FAILURE);
}
