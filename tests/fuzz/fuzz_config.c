/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the JSON config loader and validator, which also sees
 * every region object Plug sends. Input: the config text.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *text = malloc(size + 1);

	if (!quiet) {
		fuzz_quiet_log();
		quiet = true;
	}
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cfg = config_parse(text, &errs);
	/* Loaded or refused, never both, never silently. */
	if (!cfg == !errs.count)
		abort();
	free(config_errors_join(&errs));
	config_errors_clear(&errs);
	config_free(cfg);
	free(text);
	return 0;
}
