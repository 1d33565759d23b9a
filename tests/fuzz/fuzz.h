/* SPDX-License-Identifier: MIT */
/* Shared by the libFuzzer targets. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* The daemon's log goes to stdio's stderr; a target logs on every input,
 * which would drown libFuzzer's own lines. Sanitizer reports write to
 * fd 2 directly and libFuzzer keeps the stream it took at start-up, so
 * both still show. */
static inline void fuzz_quiet_log(void)
{
	FILE *null = fopen("/dev/null", "w");

	if (!null)
		abort();
	stderr = null;
}

#endif
