/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every reason the datapath drops a packet, in one list.
 *
 * Each reason becomes a graph node named "drop_<name>" (drop.c), so the
 * graph's own per-node, per-worker counters are the drop statistics and
 * `ternctl stats show` needs no extra bookkeeping.  A node that drops sends
 * the packet down the edge to the reason's node: count, then jump.
 *
 * X(id, name, description)
 */
#ifndef TERN_CORE_DROP_H
#define TERN_CORE_DROP_H

#define TERN_DROP_REASONS(X)                                                                       \
	X(ETH_RUNT, "eth_runt", "frame shorter than an Ethernet header")                           \
	X(ETH_OTHER_HOST, "eth_other_host", "unicast frame for another MAC address")               \
	X(ETH_MULTICAST, "eth_multicast", "multicast frame and no multicast listener")             \
	X(ETH_VLAN, "eth_vlan", "802.1Q/802.1ad tagged frame (VLANs not supported)")               \
	X(ETH_UNKNOWN_TYPE, "eth_unknown_type", "EtherType with no registered protocol")           \
	X(ETH_OUT_NO_ROOM, "eth_out_no_room", "no headroom for the Ethernet header")               \
	X(XCONNECT_NO_PEER, "xconnect_no_peer", "cross-connect removed while packets in flight")   \
	X(TX_BAD_PORT, "tx_bad_port", "egress port does not exist")                                \
	X(TX_ADMIN_DOWN, "tx_admin_down", "egress port set down (link set PORT down)")             \
	X(TX_FULL, "tx_full", "egress TX queue full")                                              \
	X(TX_NO_MULTISEG, "tx_no_multiseg",                                                        \
	  "mbuf chain for a PMD that sends single segments, too long to linearize")                \
	X(PUNT_FULL, "punt_full", "slow-path ring to the control thread full")                     \
	X(PUNT_RESOLVE_FULL, "punt_resolve_full",                                                  \
	  "next hop unresolved and the slow-path ring 3/4 full (the rest is kept for ARP)")        \
	X(IP_RUNT, "ip_runt", "shorter than an IPv4 header (RFC 1812 5.2.2)")                      \
	X(IP_VERSION, "ip_version", "IP version is not 4 (RFC 1812 5.2.2)")                        \
	X(IP_IHL, "ip_ihl", "header length below 5 words (RFC 1812 5.2.2)")                        \
	X(IP_CHECKSUM, "ip_checksum", "bad header checksum (RFC 1812 5.2.2)")                      \
	X(IP_TOTAL_LEN, "ip_total_len",                                                            \
	  "total length inconsistent with the frame (RFC 1812 5.2.2)")                             \
	X(IP_MARTIAN_SRC, "ip_martian_src",                                                        \
	  "source 0/8, 127/8, multicast, class E or broadcast (RFC 1812 5.3.7)")                   \
	X(IP_MARTIAN_DST, "ip_martian_dst", "destination 0/8, 127/8 or class E (RFC 1812 5.3.7)")  \
	X(IP_OPTIONS, "ip_options", "IP options are not supported")                                \
	X(IP_MULTICAST, "ip_multicast", "multicast destination, no multicast routing")             \
	X(IP_REASM_FAIL, "ip_reasm_fail",                                                          \
	  "fragment refused: overlap, too many fragments or table full")                           \
	X(IP_REASM_OVERSIZE, "ip_reasm_oversize",                                                  \
	  "fragment ends past 65535 bytes (RFC 791 total length)")                                 \
	X(IP_REASM_TIMEOUT, "ip_reasm_timeout",                                                    \
	  "fragments of a datagram that never completed (30 s)")                                   \
	X(IP_FRAG_FAIL, "ip_frag_fail", "could not fragment (no mbufs or too many fragments)")     \
	X(IP_NO_ROUTE, "ip_no_route", "no route to the destination")                               \
	X(IP_TTL_EXCEEDED, "ip_ttl_exceeded", "TTL ran out in transit")                            \
	X(IP_BLACKHOLE, "ip_blackhole", "blackhole route")                                         \
	X(IP_L2_BROADCAST, "ip_l2_broadcast",                                                      \
	  "unicast packet in a link-layer broadcast, not forwarded (RFC 1812 5.3.4)")              \
	X(IP_UNKNOWN_PROTO, "ip_unknown_proto", "no handler for this IP protocol")                 \
	X(IP_MTU, "ip_mtu", "larger than the egress MTU with DF set (frag needed sent)")           \
	X(ICMP_RUNT, "icmp_runt", "shorter than an ICMP header")                                   \
	X(ICMP_CHECKSUM, "icmp_checksum", "bad ICMP checksum")                                     \
	X(ICMP_UNHANDLED, "icmp_unhandled", "ICMP type with no handler")                           \
	X(ICMP_RATE_LIMIT, "icmp_rate_limit", "ICMP error suppressed by the rate limit")           \
	X(ICMP_NO_ERROR, "icmp_no_error",                                                          \
	  "no ICMP error allowed about this packet (RFC 1812 4.3.2.7)")                            \
	X(ICMP_NO_MBUF, "icmp_no_mbuf", "no mbuf for an ICMP error")                               \
	X(ICMP_NO_ROUTE, "icmp_no_route", "no route back for an ICMP error or reply")              \
	X(NEIGH_FAILED, "neigh_failed", "next hop did not answer ARP (host unreachable sent)")     \
	X(UDP_NO_PORT, "udp_no_port", "UDP to a closed port (port unreachable sent)")              \
	X(UDP_RUNT, "udp_runt", "shorter than a UDP header")                                       \
	X(UDP_LEN, "udp_len", "UDP length below 8 or beyond the IP payload (RFC 768)")             \
	X(UDP_CHECKSUM, "udp_checksum", "bad UDP checksum")                                        \
	X(UDP_SOCK_FULL, "udp_sock_full", "UDP socket receive queue full")                         \
	X(UDP_ECHO_NOT_UNICAST, "udp_echo_not_unicast", "echo request to a broadcast address")     \
	X(ARP_RUNT, "arp_runt", "shorter than an ARP packet for IPv4 over Ethernet")               \
	X(ARP_HW, "arp_hw", "ARP hardware type not Ethernet or length not 6 (RFC 826)")            \
	X(ARP_PROTO, "arp_proto", "ARP protocol type not IPv4 or length not 4 (RFC 826)")          \
	X(ARP_OP, "arp_op", "ARP opcode neither request nor reply")                                \
	X(ARP_BAD_SENDER, "arp_bad_sender", "ARP sender is a broadcast, multicast or martian")     \
	X(ARP_NOT_FOR_US, "arp_not_for_us", "ARP for another host, sender not in our table")       \
	X(NAT_REFUSED, "nat_refused",                                                              \
	  "NAT refused: filtered, session table or host limit full, no outside port")              \
	X(NAT_BAD, "nat_bad", "NAT could not parse the packet (truncated transport header)")       \
	X(NAT_HANDOFF_FULL, "nat_handoff_full",                                                    \
	  "handoff to the session's worker failed (ring full)")                                    \
	X(TCP_RUNT, "tcp_runt", "shorter than a TCP header")                                       \
	X(TCP_OFFSET, "tcp_offset", "TCP data offset below 5 words or beyond the segment")         \
	X(TCP_CHECKSUM, "tcp_checksum", "bad TCP checksum")                                        \
	X(TCP_OPTIONS, "tcp_options", "malformed TCP option list (RFC 9293 3.1)")                  \
	X(TCP_FLAGS, "tcp_flags", "SYN with FIN or RST")                                           \
	X(TCP_NOT_UNICAST, "tcp_not_unicast", "TCP to a broadcast address (RFC 1122 4.2.3.10)")    \
	X(TCP_NO_CONN, "tcp_no_conn", "segment for no connection or listener (RST sent)")          \
	X(TCP_REFUSED, "tcp_refused",                                                              \
	  "segment refused: out of window, old timestamp (PAWS) or bad ACK")                       \
	X(TCP_WRONG_WORKER, "tcp_wrong_worker", "handoff to the owning worker failed (ring full)")

#define TERN_DROP_ID(id, name, desc) TERN_DROP_##id,
enum tern_drop { TERN_DROP_REASONS(TERN_DROP_ID) TERN_DROP_MAX };

/*
 * The control thread's own drops (packets punted to it or built by it),
 * listed by `stats show` with the workers'.  It has no graph: a counter
 * each, written by the control thread only.
 */
#define TERN_CTL_DROP_REASONS(X)                                                                   \
	X(INJECT_FULL, "ctl_inject_full", "control thread to worker: inject ring full")            \
	X(PUNT_UNHANDLED, "ctl_punt_unhandled", "punted packet of a kind nothing handles")         \
	X(PUNT_NO_PORT, "ctl_punt_no_port", "punted packet from a port since removed")             \
	X(NEIGH_NO_ENTRY, "neigh_no_entry",                                                        \
	  "packet for a next hop that got no neighbour entry (table full, no memory)")             \
	X(NEIGH_DELETED, "neigh_deleted", "packet awaiting ARP when its entry was deleted")        \
	X(NEIGH_HOLD_FULL, "neigh_hold_full",                                                      \
	  "packet awaiting ARP pushed out of its hold queue by a newer one")                       \
	X(NEIGH_EVICTED, "neigh_evicted",                                                          \
	  "packet awaiting ARP when its entry was evicted to make room (table full)")              \
	X(NEIGH_LINK_DOWN, "neigh_link_down",                                                      \
	  "packet awaiting ARP when its port's link went down (entries flushed)")

#define TERN_CTL_DROP_ID(id, name, desc) TERN_CTL_DROP_##id,
enum tern_ctl_drop { TERN_CTL_DROP_REASONS(TERN_CTL_DROP_ID) TERN_CTL_DROP_MAX };

struct rte_mbuf;
/* Control thread: free `m`, counted under `reason`. */
void tern_ctl_drop(struct rte_mbuf *m, enum tern_ctl_drop reason);
/* The count since start (any thread), or since `stats clear` (control
 * thread); its name and description. */
uint64_t tern_ctl_drop_count(enum tern_ctl_drop reason);
uint64_t tern_ctl_drop_count_since_clear(enum tern_ctl_drop reason);
const char *tern_ctl_drop_name(enum tern_ctl_drop reason);
const char *tern_ctl_drop_desc(enum tern_ctl_drop reason);
/* `stats clear`: a baseline, the totals keep counting (telemetry). */
void tern_ctl_drops_clear(void);

#define TERN_DROP_NODE_PREFIX "drop_"
/* The node name for a reason, for next_nodes[] tables. */
#define TERN_DROP_NODE(name) TERN_DROP_NODE_PREFIX name

/* One-line description of the drop node `node_name`, or NULL. */
const char *tern_drop_describe(const char *node_name);

#endif
