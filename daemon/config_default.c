/* SPDX-License-Identifier: MIT */
/*
 * The built-in config, used when ioregiond runs without -c: one region of
 * each device model for VM "vm0", a second console for "vm1", and a mailbox
 * shared by both. Documented in ioregiond.json(5) and examples/default.json.
 */
#include "autoconfig.h"

#include "config.h"

const char config_default_json[] =
	"{\n"
	"  \"regions\": [\n"
	"    { \"name\": \"console0\", \"device\": \"uart16550\", \"bus\": \"pio\",\n"
	"      \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm0\"],\n"
	"      \"options\": { \"output\": \"stdout\" } },\n"
	"    { \"name\": \"console1\", \"device\": \"uart16550\", \"bus\": \"pio\",\n"
	"      \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm1\"],\n"
	"      \"options\": { \"output\": \"stdout\" } },\n"
	"    { \"name\": \"ram0\", \"device\": \"ram\", \"bus\": \"mmio\",\n"
	"      \"address\": \"0xd0000000\", \"size\": \"0x1000\", \"vms\": [\"vm0\"] },\n"
	"    { \"name\": \"bell0\", \"device\": \"doorbell\", \"bus\": \"mmio\",\n"
	"      \"address\": \"0xd0001000\", \"size\": \"0x1000\", \"vms\": [\"vm0\"],\n"
	"      \"posted_writes\": true },\n"
	"    { \"name\": \"test0\", \"device\": \"testdev\", \"bus\": \"mmio\",\n"
	"      \"address\": \"0xd0002000\", \"size\": \"0x1000\", \"vms\": [\"vm0\"] },\n"
	"    { \"name\": \"mbox\", \"device\": \"mailbox\", \"bus\": \"mmio\",\n"
	"      \"address\": \"0xd0003000\", \"size\": \"0x1000\",\n"
	"      \"vms\": [\"vm0\", \"vm1\"] }\n"
	"  ]\n"
	"}\n";
