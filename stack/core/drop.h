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
	X(TX_FULL, "tx_full", "egress TX queue full")

enum tern_drop {
#define X(id, name, desc) TERN_DROP_##id,
	TERN_DROP_REASONS(X)
#undef X
	    TERN_DROP_MAX
};

#define TERN_DROP_NODE_PREFIX "drop_"
/* The node name for a reason, for next_nodes[] tables. */
#define TERN_DROP_NODE(name) TERN_DROP_NODE_PREFIX name

/* One-line description of the drop node `node_name`, or NULL. */
const char *tern_drop_describe(const char *node_name);

#endif
