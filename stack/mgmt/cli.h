/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command handlers, one group per module.  The table that binds them to
 * their words and arity is commands.c.
 */
#ifndef TERN_MGMT_CLI_H
#define TERN_MGMT_CLI_H

#include "mgmt/cmd.h"

/* core */
int cli_eal(struct cmd_ctx *c, int argc, char **argv);
int cli_workers(struct cmd_ctx *c, int argc, char **argv);
int cli_stats_show(struct cmd_ctx *c, int argc, char **argv);
int cli_stats_clear(struct cmd_ctx *c, int argc, char **argv);
int cli_running_config(struct cmd_ctx *c, int argc, char **argv);
int cli_help(struct cmd_ctx *c, int argc, char **argv);
int cli_version(struct cmd_ctx *c, int argc, char **argv);
int cli_shutdown(struct cmd_ctx *c, int argc, char **argv);
int cli_log_level(struct cmd_ctx *c, int argc, char **argv);

/* port */
int cli_port_add(struct cmd_ctx *c, int argc, char **argv);
int cli_port_xconnect(struct cmd_ctx *c, int argc, char **argv);
int cli_link_show(struct cmd_ctx *c, int argc, char **argv);
int cli_link_set(struct cmd_ctx *c, int argc, char **argv);
int cli_capture_start(struct cmd_ctx *c, int argc, char **argv);
int cli_capture_stop(struct cmd_ctx *c, int argc, char **argv);
int cli_capture_show(struct cmd_ctx *c, int argc, char **argv);

/* ip */
int cli_addr_add(struct cmd_ctx *c, int argc, char **argv);
int cli_addr_del(struct cmd_ctx *c, int argc, char **argv);
int cli_addr_show(struct cmd_ctx *c, int argc, char **argv);
int cli_route_add(struct cmd_ctx *c, int argc, char **argv);
int cli_route_del(struct cmd_ctx *c, int argc, char **argv);
int cli_route_show(struct cmd_ctx *c, int argc, char **argv);
int cli_fib_size(struct cmd_ctx *c, int argc, char **argv);

/* arp */
int cli_neigh_add(struct cmd_ctx *c, int argc, char **argv);
int cli_neigh_del(struct cmd_ctx *c, int argc, char **argv);
int cli_neigh_flush(struct cmd_ctx *c, int argc, char **argv);
int cli_neigh_show(struct cmd_ctx *c, int argc, char **argv);
int cli_arp_show(struct cmd_ctx *c, int argc, char **argv);
int cli_arp_set(struct cmd_ctx *c, int argc, char **argv);
void arp_running_config(struct tern_out *o);

/* icmp */
int cli_icmp_ratelimit(struct cmd_ctx *c, int argc, char **argv);
int cli_icmp_redirects(struct cmd_ctx *c, int argc, char **argv);
void icmp_running_config(struct tern_out *o);

/* udp */
int cli_service_udp_echo(struct cmd_ctx *c, int argc, char **argv);
void udp_running_config(struct tern_out *o);

/* tcp */
int cli_tcp_set(struct cmd_ctx *c, int argc, char **argv);
int cli_tcp_show(struct cmd_ctx *c, int argc, char **argv);
int cli_tcp_stats(struct cmd_ctx *c, int argc, char **argv);
int cli_tcp_max_conns(struct cmd_ctx *c, int argc, char **argv);
int cli_conn_show(struct cmd_ctx *c, int argc, char **argv);
void tcp_running_config(struct tern_out *o);

/* services */
int cli_service_tcp_echo(struct cmd_ctx *c, int argc, char **argv);
int cli_service_tcp_discard(struct cmd_ctx *c, int argc, char **argv);
int cli_service_http(struct cmd_ctx *c, int argc, char **argv);
int cli_loadgen_start(struct cmd_ctx *c, int argc, char **argv);
int cli_loadgen_stop(struct cmd_ctx *c, int argc, char **argv);
int cli_loadgen_show(struct cmd_ctx *c, int argc, char **argv);
void tcp_echo_running_config(struct tern_out *o);
void http_running_config(struct tern_out *o);

/* nat */
int cli_nat_add(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_del(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_show(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_stats(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_sessions_show(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_sessions_flush(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_timeout(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_filtering(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_hairpin(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_max_per_host(struct cmd_ctx *c, int argc, char **argv);
int cli_nat_max_sessions(struct cmd_ctx *c, int argc, char **argv);
void nat_running_config(struct tern_out *o);

/* Each module appends its part of `show running-config`. */
void port_running_config(struct tern_out *o);
void ip_running_config(struct tern_out *o);

#endif
