/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's life, shared by ternd and the example applications: boot the
 * datapath from a config file, then serve the management socket on the main
 * lcore (the control thread) until shutdown.
 *
 * Exit status: 0 after a clean shutdown, 2 for a bad config file or command
 * line (nothing is left running), 1 for any other failure to start.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/daemon.h"
#include "core/log.h"
#include "mgmt/config.h"
#include "mgmt/server.h"

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
	        "usage: %s -c FILE [-s SOCKET] [-l error|warning|info|debug]\n"
	        "  -c FILE    config file (ternctl command grammar, one per line)\n"
	        "  -s SOCKET  management socket (default " TERN_DEFAULT_SOCKET ")\n"
	        "  -l LEVEL   log level (default info)\n"
	        "  -V         print the version\n",
	        prog);
}

static int
stop_requested(void)
{
	return atomic_load(&tern_ctl.shutdown);
}

int
tern_daemon(int argc, char **argv, int (*ready)(void))
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *cfg_path = NULL, *sock = TERN_DEFAULT_SOCKET;
	struct tern_server *srv = NULL;
	struct tern_config cfg;
	sigset_t sigs;
	int opt, rc, sigfd, status = 1;
	bool check_only = false;

	while ((opt = getopt(argc, argv, "c:s:l:thV")) != -1) {
		switch (opt) {
		case 'c':
			cfg_path = optarg;
			break;
		case 't':
			check_only = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'l':
			if ((rc = tern_log_parse_level(optarg)) < 0) {
				fprintf(stderr, "%s: bad log level '%s'\n", prog, optarg);
				return 2;
			}
			tern_log_set_level((enum tern_log_level)rc);
			break;
		case 'h':
			usage(stdout, prog);
			return 0;
		case 'V':
			printf("%s %s\n", prog, TERN_VERSION);
			return 0;
		default:
			usage(stderr, prog);
			return 2;
		}
	}
	if (cfg_path == NULL || optind != argc) {
		usage(stderr, prog);
		return 2;
	}
	tern_ctl.sock_path = sock;

	/* Pass 1: every line is checked before anything starts. */
	if (tern_config_load(&cfg, cfg_path) < 0) {
		tern_config_free(&cfg);
		return 2;
	}
	if (check_only) {
		/* Pass 1 cannot see devices or lcores: those are checked at boot. */
		printf("%s: syntax ok\n", cfg_path);
		tern_config_free(&cfg);
		return 0;
	}

	/* Block the signals before EAL starts threads, so they inherit the mask
	 * and only the control thread sees them, through the signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		LOG_ERR("signalfd: %s", strerror(errno));
		return 1;
	}

	if (tern_server_open(&srv, sock) < 0)
		goto out;
	if (tern_start(argv[0]) < 0) {
		fprintf(stderr, "%s: cannot start from this configuration (see above)\n", cfg_path);
		status = 2;
		goto out;
	}
	/* Pass 2: runtime commands, now that ports exist. */
	if (tern_config_apply(&cfg) < 0) {
		status = 2;
		goto out;
	}
	if (tern_launch() < 0)
		goto out;
	if (ready != NULL && (rc = ready()) < 0) {
		LOG_ERR("application: %s", strerror(-rc));
		goto out;
	}
	LOG_INFO("ready: %u workers, %u ports, management socket %s", tern_ctl.nb_workers,
	         tern_ctl.nb_ports, sock);

	tern_server_run(srv, sigfd, stop_requested, tern_ctl_tick);
	status = 0;
out:
	tern_stop();
	tern_server_close(srv);
	tern_config_free(&cfg);
	for (int i = 0; i < tern_ctl.eal_argc; i++)
		free(tern_ctl.eal_argv[i]);
	close(sigfd);
	/* Every test's stop checks this: a clean exit means no mbuf leaked. */
	if (status == 0 && tern_ctl.mbufs_leaked != 0) {
		LOG_ERR("stopped, but %lu mbufs were never returned to their pools",
		        tern_ctl.mbufs_leaked);
		status = 3;
	}
	if (status == 0)
		LOG_INFO("stopped");
	return status;
}
