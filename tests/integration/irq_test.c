/* SPDX-License-Identifier: MIT */
/*
 * Interrupt lines and the UART console, against the real ioregiond: the
 * eventfds OpenIrq hands out fire on the devices' rising edges, bytes sent
 * to the console socket arrive in the UART's RBR with an RDA interrupt, and
 * what the guest transmits comes back out of the socket.
 */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <linux/kvm.h>

#include "harness.h"

#define UART_RBR 0
#define UART_IER 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LSR 5
#define MBOX_TX 0x10
#define MBOX_RX 0x18

struct irq_fixture {
	struct harness_daemon hd;
	char console[100];
};

static int setup(void **state)
{
	struct irq_fixture *f = calloc(1, sizeof(*f));
	char json[2048];

	harness_prepare(&f->hd, NULL);
	snprintf(f->console, sizeof(f->console), "%s/console.sock", f->hd.dir);
	snprintf(json, sizeof(json),
		 "{\"regions\": ["
		 "{\"name\": \"com1\", \"device\": \"uart16550\", \"bus\": \"pio\","
		 " \"address\": \"0x3f8\", \"size\": 8, \"vms\": [\"vm0\"],"
		 " \"irq\": 4, \"input\": {\"socket\": \"%s\"},"
		 " \"options\": {\"output\": \"none\"}},"
		 "{\"name\": \"mbox\", \"device\": \"mailbox\", \"bus\": \"mmio\","
		 " \"address\": \"0xd0000000\", \"size\": 64,"
		 " \"vms\": [\"vm0\", \"vm1\"], \"irq\": 5}"
		 "]}", f->console);
	harness_write_config(&f->hd, json);
	harness_launch(&f->hd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct irq_fixture *f = *state;

	harness_stop(&f->hd);
	free(f);
	return 0;
}

/* Edges signalled on an eventfd within timeout_ms (0 if none). */
static uint64_t irq_wait(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	eventfd_t n = 0;

	if (poll(&p, 1, timeout_ms) != 1)
		return 0;
	assert_int_equal(eventfd_read(efd, &n), 0);
	return n;
}

static uint64_t irq_stat(const struct harness_daemon *hd, const char *vm,
			 const char *region)
{
	struct ioregion_client *c = harness_connect(hd, NULL);
	json_t *root, *v, *r;
	size_t i, j;
	uint64_t value = UINT64_MAX;
	char *text;

	assert_int_equal(ioregion_client_stats(c, vm, &text), 0);
	root = json_loads(text, 0, NULL);
	json_array_foreach(json_object_get(root, "vms"), i, v)
		json_array_foreach(json_object_get(v, "regions"), j, r)
			if (!strcmp(json_string_value(json_object_get(r, "name")),
				    region))
				value = (uint64_t)json_integer_value(
					json_object_get(r, "irqs"));
	json_decref(root);
	free(text);
	ioregion_client_free(c);
	return value;
}

static int console_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads RBR until want bytes came, waiting for the daemon to feed the FIFO
 * from the console; each new batch arrives with an RDA interrupt. */
static void uart_receive(int fd, int efd, const char *want)
{
	size_t got = 0, len = strlen(want);

	while (got < len) {
		if (!(harness_read(fd, UART_LSR, 1) & 0x01)) {
			assert_true(irq_wait(efd, 3000) > 0);
			continue;
		}
		assert_int_equal(harness_read(fd, UART_IIR, 1) & 0x0f, 0x04);
		assert_int_equal(harness_read(fd, UART_RBR, 1),
				 (uint8_t)want[got]);
		got++;
	}
}

static void test_uart_thre_and_console(void **state)
{
	struct irq_fixture *f = *state;
	struct ioregion_client *c = harness_connect(&f->hd, "vm0");
	int fd = harness_open(c, "com1"), efd = -1, con;
	const char *text = "typed into the console, more than sixteen bytes";
	char echo[8] = "";

	assert_int_equal(ioregion_client_open_irq(c, 4, &efd), 0);
	assert_int_equal(irq_wait(efd, 0), 0);
	/* start_tx: IER.THRI with THR empty is an interrupt at once. */
	harness_write(fd, UART_IER, 1, 0x02);
	assert_int_equal(irq_wait(efd, 3000), 1);
	assert_int_equal(harness_read(fd, UART_IIR, 1), 0x02);
	assert_int_equal(harness_read(fd, UART_IIR, 1), 0x01);
	/* Each byte sent empties THR again: a new edge. */
	con = console_connect(f->console);
	usleep(100 * 1000);	/* let the daemon accept it */
	harness_write(fd, UART_RBR, 1, '!');
	assert_int_equal(irq_wait(efd, 3000), 1);
	assert_int_equal(recv(con, echo, sizeof(echo), 0), 1);
	assert_int_equal(echo[0], '!');
	/* Receive with the FIFOs on: RDA interrupts, flow control past 16. */
	harness_write(fd, UART_IER, 1, 0x01);
	harness_write(fd, UART_FCR, 1, 0x07);
	assert_int_equal(send(con, text, strlen(text), 0), (ssize_t)strlen(text));
	uart_receive(fd, efd, text);
	assert_int_equal(harness_read(fd, UART_IIR, 1), 0xc1);
	assert_true(irq_stat(&f->hd, "vm0", "com1") >= 3);
	close(con);
	close(efd);
	close(fd);
	ioregion_client_free(c);
}

/* A message to vm1 fires vm1's line only. */
static void test_mailbox_notifies_receiver(void **state)
{
	struct irq_fixture *f = *state;
	struct ioregion_client *c0 = harness_connect(&f->hd, "vm0");
	struct ioregion_client *c1 = harness_connect(&f->hd, "vm1");
	int fd0 = harness_open(c0, "mbox"), fd1 = harness_open(c1, "mbox");
	int e0, e1;

	assert_int_equal(ioregion_client_open_irq(c0, 5, &e0), 0);
	assert_int_equal(ioregion_client_open_irq(c1, 5, &e1), 0);
	harness_write(fd0, MBOX_TX, 4, 42);
	assert_int_equal(irq_wait(e1, 3000), 1);
	assert_int_equal(irq_wait(e0, 100), 0);
	assert_int_equal(harness_read(fd1, MBOX_RX, 4), 42);
	assert_int_equal(irq_stat(&f->hd, "vm1", "mbox"), 1);
	close(e0);
	close(e1);
	close(fd0);
	close(fd1);
	ioregion_client_free(c0);
	ioregion_client_free(c1);
}

/* Lines the VM has no region on, admins and bad configs are refused. */
static void test_refused(void **state)
{
	struct irq_fixture *f = *state;
	struct ioregion_client *c = harness_connect(&f->hd, "vm1");
	struct ioregion_client *admin = harness_connect(&f->hd, NULL);
	int efd = -1;

	assert_int_equal(ioregion_client_open_irq(c, 4, &efd), -ENOENT);
	assert_int_equal(efd, -1);
	assert_non_null(strstr(ioregion_client_error(c), "no interrupt line 4"));
	assert_int_equal(ioregion_client_open_irq(admin, 4, &efd), -EINVAL);
	assert_true(ioregion_client_plug(admin,
		"{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		" \"address\": 4096, \"size\": 4096, \"vms\": [\"vm1\"],"
		" \"irq\": 5000}") < 0);
	assert_non_null(strstr(ioregion_client_error(admin), ".irq: expected a line number"));
	assert_true(ioregion_client_plug(admin,
		"{\"name\": \"r\", \"device\": \"ram\", \"bus\": \"mmio\","
		" \"address\": 4096, \"size\": 4096, \"vms\": [\"vm1\"],"
		" \"input\": {\"socket\": \"/tmp/x.sock\"}}") < 0);
	assert_non_null(strstr(ioregion_client_error(admin), "takes no input"));
	ioregion_client_free(c);
	ioregion_client_free(admin);
	assert_true(harness_alive(&f->hd));
}

/* libioregion binds a line with KVM_IRQFD when the VM has an in-kernel
 * irqchip and leaves it to the caller otherwise. */
static void test_kvm_irqfd_or_caller(void **state)
{
	struct irq_fixture *f = *state;
	struct ioregion_client *c = harness_connect(&f->hd, "vm0");
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, fd;

	if (kvm < 0) {
		ioregion_client_free(c);
		skip();
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	assert_int_equal(ioregion_irq_open(c, vm, 4, &fd), IOREGION_IRQ_CALLER);
	ioregion_irq_close(vm, 4, fd);
	assert_int_equal(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0);
	assert_int_equal(ioregion_irq_open(c, vm, 4, &fd), IOREGION_IRQ_KVM);
	ioregion_irq_close(vm, 4, fd);
	close(vm);
	close(kvm);
	ioregion_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uart_thre_and_console,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_notifies_receiver,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kvm_irqfd_or_caller,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("irq", tests, NULL, NULL);
}
