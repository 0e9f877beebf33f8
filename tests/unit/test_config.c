/* SPDX-License-Identifier: BSD-3-Clause */
/* Config file pass 1: every line checked, FILE:LINE errors, boot recording. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ctl.h"
#include "mgmt/config.h"

static char path[] = "/tmp/tern-test-config-XXXXXX";
static char errpath[] = "/tmp/tern-test-stderr-XXXXXX";
static char errtext[4096];

static void
reset_ctl(void)
{
	for (int i = 0; i < tern_ctl.eal_argc; i++)
		free(tern_ctl.eal_argv[i]);
	memset(&tern_ctl, 0, sizeof(tern_ctl));
}

/* Load `text` as a config file; stderr is captured into errtext. */
static int
load(const char *text, size_t len, struct tern_config *cfg)
{
	int fd = mkstemp(path), efd = mkstemp(errpath), saved = dup(2), rc;
	ssize_t n;

	assert_true(fd >= 0 && efd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	fflush(stderr);
	dup2(efd, 2);
	reset_ctl();
	rc = tern_config_load(cfg, path);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(efd, 0, SEEK_SET);
	n = read(efd, errtext, sizeof(errtext) - 1);
	errtext[n > 0 ? n : 0] = '\0';
	close(efd);
	unlink(path);
	unlink(errpath);
	strcpy(path + strlen(path) - 6, "XXXXXX");
	strcpy(errpath + strlen(errpath) - 6, "XXXXXX");
	return rc;
}

static void
test_good_config_records_boot(void **state)
{
	static const char text[] = "# comment\n"
	                           "eal -l 0-1 --no-pci \"--vdev=net_null9,size=64\"\n"
	                           "\n"
	                           "workers 1\n"
	                           "port add a net_null0 rxq 2 mtu 9000 mbufs 8191\n"
	                           "port add b net_null1\n"
	                           "port xconnect a b\n"
	                           "log level debug\n";
	struct tern_config cfg;

	assert_int_equal(load(text, sizeof(text) - 1, &cfg), 0);
	assert_string_equal(errtext, "");
	assert_int_equal(tern_ctl.eal_argc, 4);
	assert_string_equal(tern_ctl.eal_argv[3], "--vdev=net_null9,size=64");
	assert_int_equal(tern_ctl.nb_workers, 1);
	assert_int_equal(tern_ctl.worker_lcore[0], 1);
	assert_int_equal(tern_ctl.nb_ports, 2);
	assert_string_equal(tern_ctl.port[0].name, "a");
	assert_int_equal(tern_ctl.port[0].req_rxq, 2);
	assert_int_equal(tern_ctl.port[0].req_mtu, 9000);
	assert_int_equal(tern_ctl.port[0].req_mbufs, 8191);
	assert_non_null(strstr(tern_ctl.port[0].where, ":5"));
	/* Six command lines; the runtime ones wait for pass 2. */
	assert_int_equal(cfg.nb_lines, 6);
	assert_true(cfg.line[0].boot && cfg.line[3].boot);
	assert_false(cfg.line[4].boot || cfg.line[5].boot);
	assert_int_equal(cfg.line[4].lineno, 7);
	tern_config_free(&cfg);
}

static void
test_bad_line_reports_file_line(void **state)
{
	static const char text[] = "workers 1\n"
	                           "port add a net_null0\n"
	                           "port xconnect a zz\n"
	                           "port add b net_null1\n";
	struct tern_config cfg;

	assert_int_equal(load(text, sizeof(text) - 1, &cfg), -ENODEV);
	/* One line: "FILE:3: message". */
	assert_memory_equal(errtext, "/tmp/tern-test-config-", 22);
	assert_string_equal(errtext + 28, ":3: no port 'zz'\n");
	/* It stopped at the bad line: the port after it was never recorded. */
	assert_int_equal(tern_ctl.nb_ports, 1);
	tern_config_free(&cfg);
}

static void
test_workers_lists(void **state)
{
	struct tern_config cfg;

	assert_int_equal(load("workers 1,3,5-7\n", 16, &cfg), 0);
	assert_int_equal(tern_ctl.nb_workers, 5);
	assert_int_equal(tern_ctl.worker_lcore[4], 7);
	tern_config_free(&cfg);
	assert_int_equal(load("workers 3-1\n", 12, &cfg), -EINVAL);
	tern_config_free(&cfg);
	assert_int_equal(load("workers ,\n", 10, &cfg), -EINVAL);
	tern_config_free(&cfg);
	assert_int_equal(load("workers 1 2\n", 12, &cfg), -EINVAL);
	tern_config_free(&cfg);
}

static void
test_binary_and_long_lines(void **state)
{
	struct tern_config cfg;
	size_t n = 70000;
	char *big = malloc(n + 2);

	assert_int_equal(load("version\0junk\n", 13, &cfg), -EINVAL);
	assert_non_null(strstr(errtext, ":1: binary data"));
	tern_config_free(&cfg);
	assert_int_equal(load("workers 1\n\x1b[31m\n", 15, &cfg), -EINVAL);
	assert_non_null(strstr(errtext, ":2: control character"));
	tern_config_free(&cfg);
	memset(big, 'x', n);
	big[n] = '\n';
	assert_int_equal(load(big, n + 1, &cfg), -E2BIG);
	assert_non_null(strstr(errtext, ":1: line longer than 65536 bytes"));
	tern_config_free(&cfg);
	free(big);
}

static void
test_missing_file(void **state)
{
	struct tern_config cfg;
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);

	dup2(devnull, 2);
	assert_int_equal(tern_config_load(&cfg, "/nonexistent/tern.conf"), -ENOENT);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	tern_config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_config_records_boot),
		cmocka_unit_test(test_bad_line_reports_file_line),
		cmocka_unit_test(test_workers_lists),
		cmocka_unit_test(test_binary_and_long_lines),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
