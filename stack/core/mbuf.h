/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-packet metadata carried between nodes, in the mbuf's private area
 * (every pool is created with priv_size = sizeof(struct tern_mbuf_priv)).
 * The ingress port is the mbuf's own `port` field, stamped by port_rx.
 */
#ifndef TERN_CORE_MBUF_H
#define TERN_CORE_MBUF_H

#include <rte_ether.h>
#include <rte_mbuf.h>

struct tern_mbuf_priv {
	uint16_t tx_port;             /* egress port, set before port_tx */
	uint16_t l2_type;             /* EtherType for eth_output, network order */
	struct rte_ether_addr l2_dst; /* destination MAC for eth_output */
	uint8_t reserved[52];         /* for later layers; keeps the size at 64 */
} __rte_aligned(RTE_MBUF_PRIV_ALIGN);

static inline struct tern_mbuf_priv *
tern_mbuf_priv(struct rte_mbuf *m)
{
	return (struct tern_mbuf_priv *)rte_mbuf_to_priv(m);
}

#endif
