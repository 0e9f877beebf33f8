/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The datapath's view of the configuration.
 *
 * The control thread owns it.  To change it, the control thread copies the
 * current version, edits the copy, publishes it with one atomic pointer
 * store, waits for an RCU grace period (rte_rcu_qsbr: every worker reports a
 * quiescent state once per loop) and frees the old version.  Workers load
 * the pointer once per loop and read it without locks; a version never
 * changes once published.
 */
#ifndef TERN_CORE_DP_H
#define TERN_CORE_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_ether.h>

#define TERN_PORT_NONE UINT16_MAX

/*
 * A port's RSS as ternd programmed it (key and redirection table), so that
 * software can tell which RX queue a flow lands on (rte_softrss).  Written
 * by the control thread before the workers start, never changed after.
 */
#define TERN_RSS_KEY_LEN 52
#define TERN_RETA_MAX    512
struct tern_rss {
	bool known;
	bool l4; /* TCP/UDP ports are in the hash, not just addresses */
	uint16_t nb_rxq;
	uint16_t reta_size;
	uint8_t key[TERN_RSS_KEY_LEN];
	uint16_t reta[TERN_RETA_MAX]; /* hash % reta_size -> RX queue */
};

/* The key ternd programs into every RSS port (port.c). */
extern const uint8_t tern_rss_key[TERN_RSS_KEY_LEN];

struct tern_dp_port {
	struct rte_ether_addr mac;
	uint16_t mtu;
	uint16_t xconnect;          /* peer port id, or TERN_PORT_NONE */
	bool up;                    /* configured and started */
	bool admin_down;            /* `link set PORT down`: not polled, nothing sent */
	bool tx_multiseg;           /* sends mbuf chains; else port_tx linearizes them */
	rte_be32_t ip4;             /* first IPv4 address (source of ICMP errors), or 0 */
	const struct tern_rss *rss; /* NULL: no RSS, or not known */
};

struct rte_hash;
struct rte_fib;
struct tern_nexthop;
struct udp_port_map;
struct nat_rules;
struct tern_capture_dp;

struct tern_dp {
	struct tern_dp_port port[RTE_MAX_ETHPORTS];
	/* Tables created once at boot and updated in place, lock-free for
	 * readers (RCU-deferred reclamation): */
	struct rte_fib *fib;                   /* IPv4 routes -> index in nh[], 0: none */
	const struct tern_nexthop *nh;         /* next hops (ip/fib.c) */
	struct rte_hash *neigh;                /* (port, IPv4) -> struct tern_neigh * (arp/) */
	const struct udp_port_map *udp;        /* UDP port -> receiver (udp/) */
	const struct nat_rules *nat;           /* NAT44 rules, or NULL (nat/) */
	bool prerouting;                       /* ip_input hands packets to the hook (NAT) */
	const struct tern_capture_dp *capture; /* a packet capture, or NULL (port/capture.h) */
	uint32_t icmp_rate;                    /* ICMP errors per second per worker */
	uint32_t icmp_burst;
	bool icmp_redirects; /* RFC 1812 5.2.7.2 (icmp redirects on|off) */
};

/* The version workers see now (control thread only). */
const struct tern_dp *tern_dp_current(void);

/* A private copy of the current version, to edit then publish. NULL: ENOMEM. */
struct tern_dp *tern_dp_copy(void);

/* Publish `next`, wait for the grace period and free the old version. */
void tern_dp_publish(struct tern_dp *next);

#endif
