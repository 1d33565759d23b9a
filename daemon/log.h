/* SPDX-License-Identifier: MIT */
/* Logging to stderr with syslog levels; "<N>" prefixes under the journal. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>
#include <time.h>

/* At most LOG_BURST lines per LOG_INTERVAL seconds per limiter. */
#define LOG_BURST 10
#define LOG_INTERVAL 5

struct log_ratelimit {
	time_t window;
	unsigned int count;
	uint64_t suppressed;
};

void log_init(bool verbose);
/* From here on lines are written by a thread of their own through a
 * bounded buffer: a stderr that does not read (a stalled journal) drops
 * lines, counted by log_dropped, instead of stopping the daemon. Without
 * it (start-up, tools, tests) lines go straight to stderr. */
void log_serve(void);
/* Lets queued lines out (briefly) and goes back to writing directly. */
void log_close(void);
uint64_t log_dropped(void);
void log_vmsg(int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like log_msg, but drops lines past the burst and says how many later. */
void log_limited(struct log_ratelimit *rl, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Start-up failures only: logs and exits. */
_Noreturn void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* LOG_H */
