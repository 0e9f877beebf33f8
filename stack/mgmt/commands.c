/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The command table: every command ternctl and the config file know.
 * Arity is checked here, centrally (cmd_exec); handlers check values.
 */
#include "mgmt/cli.h"

const struct cmd_def tern_commands[] = {
	/* Boot-only: read from the config file before anything starts. */
	{ "eal", 1, -1, cli_eal, CMD_BOOT, "ARGS...",
	  "DPDK EAL arguments (e.g. -l 0-1 --in-memory)" },
	{ "workers", 1, 1, cli_workers, CMD_BOOT, "LCORELIST",
	  "lcores that run the datapath (default: all EAL lcores but the main one)" },
	{ "port add", 2, 10, cli_port_add, CMD_BOOT,
	  "NAME DEVARGS [rxq N] [txq N] [mtu N] [mbufs N]",
	  "a port from a PCI address or vdev string" },
	{ "ip fib-size", 1, 1, cli_fib_size, CMD_BOOT, "N",
	  "most IPv4 routes the FIB holds (default 65536)" },
	{ "nat max-sessions", 1, 1, cli_nat_max_sessions, CMD_BOOT, "N",
	  "NAT sessions per worker (default 65536)" },
	{ "tcp max-conns", 1, 1, cli_tcp_max_conns, CMD_BOOT, "N",
	  "TCP connection blocks per worker (default 16384)" },

	/* Runtime: from ternctl or the config file. */
	{ "port xconnect", 2, 2, cli_port_xconnect, 0, "A B|none",
	  "L2 cross-connect: frames in on A go out on B and back" },
	{ "addr add", 3, 3, cli_addr_add, 0, "A.B.C.D/LEN dev PORT",
	  "add an IPv4 address (and its local, subnet and broadcast routes)" },
	{ "addr del", 3, 3, cli_addr_del, 0, "A.B.C.D/LEN dev PORT", "remove an IPv4 address" },
	{ "addr show", 0, 2, cli_addr_show, CMD_NOCONFIG, "[dev PORT]", "IPv4 addresses" },
	{ "route add", 2, 5, cli_route_add, 0,
	  "PREFIX via GW [dev PORT] | PREFIX dev PORT | PREFIX blackhole",
	  "add a static IPv4 route (0.0.0.0/0: the default route)" },
	{ "route del", 1, 1, cli_route_del, 0, "PREFIX", "remove a static route" },
	{ "route show", 0, 1, cli_route_show, CMD_NOCONFIG, "[summary]",
	  "the IPv4 routing table, or its counts by origin" },
	{ "neigh add", 5, 5, cli_neigh_add, 0, "A.B.C.D lladdr MAC dev PORT",
	  "a permanent neighbour (static ARP entry)" },
	{ "neigh del", 3, 3, cli_neigh_del, 0, "A.B.C.D dev PORT", "remove a neighbour" },
	{ "neigh flush", 0, 2, cli_neigh_flush, 0, "[dev PORT]",
	  "remove every neighbour but the permanent ones" },
	{ "neigh show", 0, 2, cli_neigh_show, CMD_NOCONFIG, "[dev PORT]",
	  "the neighbour (ARP) table: address, MAC, port, state, age" },
	{ "arp set", 2, 2, cli_arp_set, 0, "NAME VALUE",
	  "ARP timers and limits: reachable-ms, retrans-ms, delay-ms, ucast-probes, "
	  "mcast-probes, hold, gc-stale-ms" },
	{ "arp show", 0, 0, cli_arp_show, CMD_NOCONFIG, "", "ARP settings and counters" },
	{ "icmp ratelimit", 1, 3, cli_icmp_ratelimit, 0, "N [burst M]",
	  "ICMP errors per second per worker, 0 for no limit (default 1000 burst 50)" },
	{ "service udp-echo", 0, 2, cli_service_udp_echo, 0, "[port N] | off",
	  "UDP echo service, RFC 862 (default port 7)" },
	{ "service tcp-echo", 0, 2, cli_service_tcp_echo, 0, "[port N] | off",
	  "TCP echo service, RFC 862 (default port 7)" },
	{ "service tcp-discard", 0, 2, cli_service_tcp_discard, 0, "[port N] | off",
	  "TCP discard service, RFC 863 (default port 9)" },
	{ "service http", 0, 2, cli_service_http, 0, "[port N] | off",
	  "HTTP/1.1 responder: GET / and GET /bytes/N (default port 80)" },
	{ "tcp set", 2, 2, cli_tcp_set, 0, "NAME VALUE",
	  "TCP settings: msl-ms, rto-min-ms, delack-ms, syn-retries, synack-retries, "
	  "keepalive-time-ms, keepalive-intvl-ms, keepalive-probes, syncookies, cc, ... "
	  "(see tcp show)" },
	{ "nat add", 1, 10, cli_nat_add, 0,
	  "snat src PREFIX out PORT [to ADDR[-ADDR]] [ports LO-HI] | dnat [tcp|udp] ADDR[:PORT] "
	  "to ADDR[:PORT] | static INSIDE OUTSIDE | exempt src PREFIX dst PREFIX",
	  "add a NAT44 rule (see docs/nat.md for the order they apply in)" },
	{ "nat del", 1, 10, cli_nat_del, 0, "RULE (as added)", "remove a NAT44 rule" },
	{ "nat timeout", 2, 2, cli_nat_timeout, 0, "NAME SECONDS",
	  "session timeouts: tcp-established, tcp-transitory, tcp-time-wait, udp, icmp, ..." },
	{ "nat filtering", 1, 1, cli_nat_filtering, 0, "eif|adf|apdf",
	  "inbound filtering (RFC 4787): endpoint-independent, address-dependent, "
	  "address-and-port-dependent (default)" },
	{ "nat hairpin", 1, 1, cli_nat_hairpin, 0, "on|off", "hairpinning (RFC 4787 REQ-9, on)" },
	{ "nat max-per-host", 1, 1, cli_nat_max_per_host, 0, "N",
	  "sessions per inside host and worker, 0 for no limit" },
	{ "log level", 1, 1, cli_log_level, 0, "error|warning|info|debug", "ternd's log level" },

	/* Operator only. */
	{ "tcp show", 0, 0, cli_tcp_show, CMD_NOCONFIG, "", "TCP settings" },
	{ "tcp stats", 0, 0, cli_tcp_stats, CMD_NOCONFIG, "",
	  "TCP counters (MIB names: ActiveOpens, InSegs, RetransSegs, ...)" },
	{ "conn show", 0, 1, cli_conn_show, CMD_NOCONFIG, "[listen|established]",
	  "TCP connections, like ss -tan: state, queues, addresses, RTT, cwnd, timer, worker" },
	{ "loadgen start", 1, 11, cli_loadgen_start, CMD_NOCONFIG,
	  "ADDR:PORT [conns N] [duration S] [path P] [from A[-B]] [close|idle]",
	  "HTTP load from every worker: N connections (16), S seconds (10), keep-alive "
	  "or one request per connection" },
	{ "loadgen stop", 0, 0, cli_loadgen_stop, CMD_NOCONFIG, "", "stop the load generator" },
	{ "loadgen show", 0, 0, cli_loadgen_show, CMD_NOCONFIG, "",
	  "load generator results: requests/s, connections/s, errors, latency percentiles" },
	{ "nat show", 0, 0, cli_nat_show, CMD_NOCONFIG, "", "NAT44 rules, timeouts and limits" },
	{ "nat stats", 0, 0, cli_nat_stats, CMD_NOCONFIG, "", "NAT44 counters and sessions" },
	{ "nat sessions show", 0, 0, cli_nat_sessions_show, CMD_NOCONFIG, "",
	  "NAT44 sessions like conntrack -L: protocol, state, both tuples, timeout, counters, "
	  "worker" },
	{ "nat sessions flush", 0, 0, cli_nat_sessions_flush, CMD_NOCONFIG, "",
	  "remove every NAT44 session" },
	{ "link show", 0, 1, cli_link_show, CMD_NOCONFIG, "[NAME]",
	  "ports: driver, MAC, MTU, link, counters" },
	{ "stats show", 0, 0, cli_stats_show, CMD_NOCONFIG, "",
	  "per-node packets and calls, drops by reason, worker load, mempools" },
	{ "stats clear", 0, 0, cli_stats_clear, CMD_NOCONFIG, "",
	  "zero the node and port counters" },
	{ "show running-config", 0, 0, cli_running_config, CMD_NOCONFIG, "",
	  "the configuration as a file ternd can boot from" },
	{ "help", 0, 8, cli_help, CMD_NOCONFIG, "[COMMAND...]", "list commands" },
	{ "version", 0, 0, cli_version, CMD_NOCONFIG, "", "ternd and DPDK versions" },
	{ "shutdown", 0, 0, cli_shutdown, CMD_NOCONFIG, "", "stop ternd cleanly" },
	{ 0 },
};
