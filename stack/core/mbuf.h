/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-packet metadata carried between nodes, in the mbuf's private area
 * (every pool is created with priv_size = sizeof(struct tern_mbuf_priv)).
 * The ingress port is the mbuf's own `port` field, stamped by port_rx.
 */
#ifndef TERN_CORE_MBUF_H
#define TERN_CORE_MBUF_H

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

struct tern_mbuf_priv {
	uint16_t tx_port;             /* egress port, set before port_tx */
	uint16_t l2_type;             /* EtherType for eth_output, network order */
	struct rte_ether_addr l2_dst; /* destination MAC for eth_output */
	rte_be32_t nh_ip;             /* next hop to resolve (ip_output), or 0 */
	uint8_t punt_kind;            /* enum tern_punt_kind, for ctl_punt */
	uint8_t inject_next;          /* enum tern_inject_next, for ctl_inject */
	uint8_t icmp_type;            /* for icmp_error: the error to send */
	uint8_t icmp_code;
	rte_be32_t icmp_info; /* for icmp_error: next-hop MTU, pointer */
	uint8_t l3_bcast;     /* ip_input, local delivery: to a broadcast address */
	uint8_t reserved[39]; /* for later layers; keeps the size at 64 */
} __rte_aligned(RTE_MBUF_PRIV_ALIGN);

_Static_assert(sizeof(struct tern_mbuf_priv) == 64, "tern_mbuf_priv must stay 64 bytes");

static inline struct tern_mbuf_priv *
tern_mbuf_priv(struct rte_mbuf *m)
{
	return (struct tern_mbuf_priv *)rte_mbuf_to_priv(m);
}

/*
 * Cut `m` down to its first `keep` bytes.  Unlike rte_pktmbuf_trim it works
 * across segments (a reassembled datagram is a chain); segments past the
 * cut are freed.
 */
static inline void
tern_mbuf_truncate(struct rte_mbuf *m, uint32_t keep)
{
	struct rte_mbuf *seg = m;
	uint32_t off = 0;
	uint16_t nsegs = 1;

	if (keep >= rte_pktmbuf_pkt_len(m))
		return;
	while (off + seg->data_len < keep && seg->next != NULL) {
		off += seg->data_len;
		seg = seg->next;
		nsegs++;
	}
	seg->data_len = (uint16_t)(keep - off);
	rte_pktmbuf_free(seg->next);
	seg->next = NULL;
	m->nb_segs = nsegs;
	m->pkt_len = keep;
}

#endif
