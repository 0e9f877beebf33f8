/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Nodes, fed fake mbufs (no EAL, no mempool): each test asserts the edge a
 * crafted frame takes, i.e. the next node or the drop reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_ether.h>
#include <rte_graph.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "core/dp.h"
#include "core/handoff.h"
#include "core/mbuf.h"
#include "eth/eth.h"
#include "port/port.h"
#include "tcp/tcp_node.h"
#include "tcp/tcp_worker.h"
#include "timer/wheel.h"

#define ROOM 2048

static const struct rte_ether_addr port_mac = { { 0x02, 0, 0, 0, 0, 0x01 } };
static const struct rte_ether_addr peer_mac = { { 0x02, 0, 0, 0, 0, 0x02 } };
static const struct rte_ether_addr other_mac = { { 0x02, 0, 0, 0, 0, 0x03 } };
static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
static const struct rte_ether_addr mcast = { { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } };

/* A mbuf laid out like a pool's: header, private area, headroom, data. */
static struct rte_mbuf *
fake_mbuf(uint16_t port, const void *data, uint16_t len)
{
	uint16_t priv = sizeof(struct tern_mbuf_priv);
	struct rte_mbuf *m = calloc(1, sizeof(*m) + priv + RTE_PKTMBUF_HEADROOM + ROOM);

	m->buf_addr = (char *)m + sizeof(*m) + priv;
	m->buf_len = RTE_PKTMBUF_HEADROOM + ROOM;
	m->priv_size = priv;
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->nb_segs = 1;
	m->port = port;
	m->data_len = len;
	m->pkt_len = len;
	memcpy(rte_pktmbuf_mtod(m, void *), data, len);
	return m;
}

static struct rte_mbuf *
frame(const struct rte_ether_addr *dst, uint16_t type, uint16_t payload)
{
	uint8_t buf[1514] = { 0 };
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;

	eh->dst_addr = *dst;
	eh->src_addr = peer_mac;
	eh->ether_type = rte_cpu_to_be_16(type);
	return fake_mbuf(0, buf, sizeof(*eh) + payload);
}

static struct tern_dp dp;

static int
setup(void **state)
{
	memset(&dp, 0, sizeof(dp));
	for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
		dp.port[i].xconnect = TERN_PORT_NONE;
	dp.port[0].mac = port_mac;
	dp.port[0].up = true;
	dp.port[1].mac = peer_mac;
	dp.port[1].up = true;
	return 0;
}

/* A stand-in upper layer for eth_input_register(). */
static uint16_t
sink_process(struct rte_graph *g, struct rte_node *n, void **objs, uint16_t nb)
{
	return nb;
}
static struct rte_node_register test_sink_node = { .name = "test_sink", .process = sink_process };
RTE_NODE_REGISTER(test_sink_node);

static void
test_eth_input_runt(void **state)
{
	uint8_t short_frame[13] = { 0 };
	struct rte_mbuf *m = fake_mbuf(0, short_frame, sizeof(short_frame));

	assert_int_equal(eth_input_classify(&dp, m), ETH_INPUT_NEXT_RUNT);
	free(m);
}

static void
test_eth_input_other_host(void **state)
{
	struct rte_mbuf *m = frame(&other_mac, RTE_ETHER_TYPE_IPV4, 20);

	assert_int_equal(eth_input_classify(&dp, m), ETH_INPUT_NEXT_OTHER_HOST);
	free(m);
}

static void
test_eth_input_multicast(void **state)
{
	struct rte_mbuf *m = frame(&mcast, RTE_ETHER_TYPE_IPV4, 20);

	assert_int_equal(eth_input_classify(&dp, m), ETH_INPUT_NEXT_MULTICAST);
	free(m);
}

static void
test_eth_input_vlan(void **state)
{
	struct rte_mbuf *m = frame(&port_mac, RTE_ETHER_TYPE_VLAN, 4);
	struct rte_mbuf *q = frame(&bcast, RTE_ETHER_TYPE_QINQ, 4);

	assert_int_equal(eth_input_classify(&dp, m), ETH_INPUT_NEXT_VLAN);
	assert_int_equal(eth_input_classify(&dp, q), ETH_INPUT_NEXT_VLAN);
	free(m);
	free(q);
}

static void
test_eth_input_unknown_type(void **state)
{
	struct rte_mbuf *m = frame(&port_mac, 0x88b6, 10);
	struct rte_mbuf *b = frame(&bcast, 0x88b6, 10);

	assert_int_equal(eth_input_classify(&dp, m), ETH_INPUT_NEXT_UNKNOWN_TYPE);
	/* Broadcast is accepted: it reaches the EtherType dispatch. */
	assert_int_equal(eth_input_classify(&dp, b), ETH_INPUT_NEXT_UNKNOWN_TYPE);
	/* Nothing was stripped from a frame that was not delivered. */
	assert_int_equal(rte_pktmbuf_data_len(m), RTE_ETHER_HDR_LEN + 10);
	free(m);
	free(b);
}

static void
test_eth_input_registered_type(void **state)
{
	struct rte_mbuf *m = frame(&port_mac, 0x88b5, 10);
	struct rte_mbuf *b = frame(&bcast, 0x88b5, 10);
	rte_edge_t e;

	assert_int_equal(eth_input_register(0x88b5, "test_sink"), 0);
	assert_int_equal(eth_input_register(0x88b5, "test_sink"), -EEXIST);
	assert_int_equal(eth_input_register(0x88b7, "no_such_node"), -ENOENT);
	e = eth_input_classify(&dp, m);
	assert_true(e >= ETH_INPUT_NEXT_FIRST_PROTO);
	/* The upper layer gets its header, with the Ethernet header stripped. */
	assert_int_equal(rte_pktmbuf_data_len(m), 10);
	assert_int_equal(m->l2_len, RTE_ETHER_HDR_LEN);
	assert_int_equal(eth_input_classify(&dp, b), e);
	free(m);
	free(b);
}

static void
test_eth_output_prepends_header(void **state)
{
	uint8_t payload[20] = { 0x45 };
	struct rte_mbuf *m = fake_mbuf(1, payload, sizeof(payload));
	struct tern_mbuf_priv *p = tern_mbuf_priv(m);
	const struct rte_ether_hdr *eh;

	p->tx_port = 0;
	p->l2_dst = peer_mac;
	p->l2_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	assert_int_equal(eth_output_prepare(&dp, m), ETH_OUTPUT_NEXT_PORT_TX);
	assert_int_equal(rte_pktmbuf_data_len(m), RTE_ETHER_HDR_LEN + sizeof(payload));
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	assert_true(rte_is_same_ether_addr(&eh->dst_addr, &peer_mac));
	/* The source is the egress port's MAC, not the ingress one's. */
	assert_true(rte_is_same_ether_addr(&eh->src_addr, &port_mac));
	assert_int_equal(eh->ether_type, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4));
	free(m);
}

static void
test_eth_output_no_headroom(void **state)
{
	uint8_t payload[20] = { 0 };
	struct rte_mbuf *m = fake_mbuf(0, payload, sizeof(payload));

	m->data_off = 4; /* less than an Ethernet header of headroom */
	assert_int_equal(eth_output_prepare(&dp, m), ETH_OUTPUT_NEXT_NO_ROOM);
	free(m);
}

static void
test_xconnect_peer(void **state)
{
	struct rte_mbuf *m = frame(&other_mac, RTE_ETHER_TYPE_IPV4, 20);

	dp.port[0].xconnect = 1;
	dp.port[1].xconnect = 0;
	assert_int_equal(xconnect_classify(&dp, m), XCONNECT_NEXT_PORT_TX);
	assert_int_equal(tern_mbuf_priv(m)->tx_port, 1);
	m->port = 1;
	assert_int_equal(xconnect_classify(&dp, m), XCONNECT_NEXT_PORT_TX);
	assert_int_equal(tern_mbuf_priv(m)->tx_port, 0);
	free(m);
}

static void
test_xconnect_removed(void **state)
{
	struct rte_mbuf *m = frame(&other_mac, RTE_ETHER_TYPE_IPV4, 20);

	/* A packet in flight while the cross-connect is removed is dropped. */
	assert_int_equal(xconnect_classify(&dp, m), XCONNECT_NEXT_NO_PEER);
	free(m);
}

/*
 * RSS prediction for TCP active opens: tern's key is the one of Microsoft's
 * RSS specification, whose verification suite gives the Toeplitz hash of
 * 66.9.149.187:2794 -> 161.142.100.80:1766 as 0x51ccc178.  The peer is the
 * source of what the NIC hashes.
 */
static void
test_rss_hash_matches_the_specification(void **state)
{
	struct tern_rss r = { .known = true, .l4 = true, .reta_size = 128, .nb_rxq = 2 };
	struct tcp_tuple t = {
		.laddr = RTE_IPV4(161, 142, 100, 80),
		.lport = 1766,
		.raddr = RTE_IPV4(66, 9, 149, 187),
		.rport = 2794,
	};

	memcpy(r.key, tern_rss_key, sizeof(r.key));
	assert_int_equal(tcp_rss_hash(&r, &t), 0x51ccc178);
	t = (struct tcp_tuple){ .laddr = RTE_IPV4(65, 69, 140, 83),
		                .lport = 4739,
		                .raddr = RTE_IPV4(199, 92, 111, 2),
		                .rport = 14230 };
	assert_int_equal(tcp_rss_hash(&r, &t), 0xc626b0ea);
}

/* ---- handoff (core/handoff.h) --------------------------------------- */

#define HO_OWNERS 3
static struct rte_ring *ho_rings[HO_OWNERS];

static struct rte_ring *
ho_ring(unsigned owner)
{
	return ho_rings[owner];
}

/* Each owner gets its packets in their order, one burst each; what a full
 * ring refuses comes back for the caller to drop, and nothing is lost. */
static void
test_handoff_flush(void **state)
{
	/* Owner of packet i, and the rings' room: 8, 8, and 2 (so one of
	 * owner 2's three packets is refused). */
	static const unsigned owner[] = { 0, 1, 2, 0, 2, 1, 0, 2, 1, 0 };
	static const unsigned room[HO_OWNERS] = { 8, 8, 2 };
	struct rte_mbuf fake[RTE_DIM(owner)], *refused[RTE_DIM(owner)], *got[16];
	struct tern_handoff h = { .n = 0 };
	uint64_t sent = 0;
	uint16_t nref;

	(void)state;
	for (unsigned o = 0; o < HO_OWNERS; o++) {
		/* Exact-size rings hold exactly `room` (a power of two). */
		size_t sz = rte_ring_get_memsize_elem(sizeof(void *), room[o]);

		ho_rings[o] =
		    aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN(sz, RTE_CACHE_LINE_SIZE));
		assert_non_null(ho_rings[o]);
		assert_int_equal(
		    rte_ring_init(ho_rings[o], "ho", room[o], RING_F_SC_DEQ | RING_F_EXACT_SZ), 0);
	}
	for (unsigned i = 0; i < RTE_DIM(owner); i++)
		tern_handoff_add(&h, &fake[i], owner[i]);
	nref = tern_handoff_flush(&h, ho_ring, refused, &sent);
	assert_int_equal(h.n, 0);
	assert_int_equal(nref, 1);
	assert_ptr_equal(refused[0], &fake[7]); /* owner 2's third */
	assert_int_equal(sent, RTE_DIM(owner) - 1);
	for (unsigned o = 0; o < HO_OWNERS; o++) {
		unsigned n = rte_ring_dequeue_burst(ho_rings[o], (void **)got, RTE_DIM(got), NULL);
		unsigned k = 0;

		for (unsigned i = 0; i < RTE_DIM(owner); i++) {
			if (owner[i] != o || &fake[i] == refused[0])
				continue;
			assert_true(k < n);
			assert_ptr_equal(got[k++], &fake[i]);
		}
		assert_int_equal(k, n);
		free(ho_rings[o]);
	}
}

/* ------------------------------------------------------------------------ */
/* tcp_segment_in: a TCP stack fed fake mbufs, segments out recorded */

#define TCP_US   RTE_IPV4(10, 0, 0, 1)
#define TCP_PEER RTE_IPV4(10, 0, 0, 2)

static struct tcp_out tcp_last; /* what the stack sent last */

static int
tcp_record(void *ctx, const struct tcp_out *o)
{
	(void)ctx;
	tcp_last = *o;
	return 0;
}

/* A segment from the peer (port 40000) to port 80: IPv4 and TCP headers
 * in one mbuf, then `len` bytes of payload split evenly over `nseg` more
 * mbufs, chained. */
static struct rte_mbuf *
tcp_chain(uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *data, uint32_t len,
          unsigned nseg)
{
	uint8_t hdr[sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_tcp_hdr)] = { 0 };
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)hdr;
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	struct rte_mbuf *m, *last;
	uint32_t off = 0;

	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(hdr) + len));
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = rte_cpu_to_be_32(TCP_PEER);
	ip->dst_addr = rte_cpu_to_be_32(TCP_US);
	th->src_port = rte_cpu_to_be_16(40000);
	th->dst_port = rte_cpu_to_be_16(80);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = 5 << 4;
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(65535);
	m = last = fake_mbuf(0, hdr, sizeof(hdr));
	m->l3_len = sizeof(*ip);
	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	for (unsigned i = 0; i < nseg; i++) {
		uint16_t n = (uint16_t)(i + 1 < nseg ? len / nseg : len - off);
		last->next = fake_mbuf(0, data + off, n);
		last = last->next;
		m->nb_segs++;
		m->pkt_len += n;
		off += n;
	}
	return m;
}

static void
free_chain(struct rte_mbuf *m)
{
	while (m != NULL) {
		struct rte_mbuf *next = m->next;
		free(m);
		m = next;
	}
}

/* tcp_segment_in on `tw`, which must take the segment. */
static void
tcp_in_ok(struct tcp_worker *tw, struct rte_mbuf *m)
{
	unsigned owner = 0;

	assert_int_equal(tcp_segment_in(tw, m, false, &owner), TCP_INPUT_CONSUMED);
	free_chain(m);
}

/*
 * ESTABLISHED, data in a chain of 13 mbufs (the headers, then 12 of
 * payload, as a driver with small buffers or scattered RX gives a large
 * frame): all of it reaches the receive buffer, in order.  A chain is
 * walked to its end, however long (RFC 9293 3.10.7.4 seventh: the text of
 * an acceptable segment goes to the receive buffer).
 */
static void
test_established_data_mbuf_chain(void **state)
{
	static const struct tcp_ops ops = { .output = tcp_record };
	static const uint8_t key[16] = { 1 };
	struct tern_worker w = { .dp = &dp, .now_ms = 1000 };
	struct tcp_worker tw = { .w = &w };
	struct tcp_conn *l, *c;
	struct tern_wheel wheel;
	struct tcp_cfg cfg;
	uint8_t data[480], buf[sizeof(data) + 1];
	uint32_t irs = 0x10000000u, iss;

	(void)state;
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 8));
	tcp_cfg_default(&cfg);
	cfg.max_conns = 4;
	tern_wheel_init(&wheel, w.now_ms);
	tw.st = tcp_stack_create(&cfg, &ops, &tw, &wheel, key);
	assert_non_null(tw.st);
	assert_int_equal(tcp_listen(tw.st, TCP_US, 80, 4, &l), 0);
	/* The handshake. */
	tcp_in_ok(&tw, tcp_chain(TCP_F_SYN, irs, 0, NULL, 0, 0));
	assert_int_equal(tcp_last.flags, TCP_F_SYN | TCP_F_ACK);
	iss = tcp_last.seq;
	tcp_in_ok(&tw, tcp_chain(TCP_F_ACK, irs + 1, iss + 1, NULL, 0, 0));
	c = tcp_accept(l);
	assert_non_null(c);
	assert_int_equal(tcp_conn_state(c), TCP_ESTABLISHED);
	/* 480 bytes in 12 mbufs of 40. */
	tcp_in_ok(&tw, tcp_chain(TCP_F_ACK | TCP_F_PSH, irs + 1, iss + 1, data, sizeof(data), 12));
	assert_int_equal(tcp_conn_readable(c), sizeof(data));
	assert_int_equal(tcp_recv(c, buf, sizeof(buf)), sizeof(data));
	assert_memory_equal(buf, data, sizeof(data));
	tcp_abort(c);
	tcp_close(l);
	assert_int_equal(tcp_stack_nb_conns(tw.st), 0);
	tcp_stack_destroy(tw.st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_eth_input_runt, setup),
		cmocka_unit_test_setup(test_eth_input_other_host, setup),
		cmocka_unit_test_setup(test_eth_input_multicast, setup),
		cmocka_unit_test_setup(test_eth_input_vlan, setup),
		cmocka_unit_test_setup(test_eth_input_unknown_type, setup),
		cmocka_unit_test_setup(test_eth_input_registered_type, setup),
		cmocka_unit_test_setup(test_eth_output_prepends_header, setup),
		cmocka_unit_test_setup(test_eth_output_no_headroom, setup),
		cmocka_unit_test_setup(test_xconnect_peer, setup),
		cmocka_unit_test_setup(test_xconnect_removed, setup),
		cmocka_unit_test(test_rss_hash_matches_the_specification),
		cmocka_unit_test(test_handoff_flush),
		cmocka_unit_test_setup(test_established_data_mbuf_chain, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
