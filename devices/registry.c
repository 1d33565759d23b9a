/* SPDX-License-Identifier: MIT */
#include "autoconfig.h"

#include <string.h>

#include "device.h"

extern const struct device_ops device_ram_ops;
extern const struct device_ops device_uart16550_ops;
extern const struct device_ops device_doorbell_ops;
extern const struct device_ops device_mailbox_ops;
extern const struct device_ops device_testdev_ops;
extern const struct device_ops device_tpm_tis_ops;

static const struct device_ops *const device_registry[] = {
	&device_ram_ops,
	&device_uart16550_ops,
	&device_doorbell_ops,
	&device_mailbox_ops,
	&device_testdev_ops,
	&device_tpm_tis_ops,
	NULL,
};

const struct device_ops *device_find(const char *name)
{
	const struct device_ops *const *ops;

	for (ops = device_registry; *ops; ops++)
		if (strcmp((*ops)->name, name) == 0)
			return *ops;
	return NULL;
}

const struct device_ops *const *device_all(void)
{
	return device_registry;
}
