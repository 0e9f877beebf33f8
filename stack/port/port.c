/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port bring-up: probe the device from its devargs, give it a mempool on its
 * own NUMA socket, one RX and one TX queue per worker (RSS across them when
 * the device can), and start it.
 */
#include <errno.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "core/ctl.h"
#include "core/log.h"
#include "core/mbuf.h"

/* Boot errors name the config line that declared the port. */
#define PORT_ERR(p, fmt, ...) LOG_ERR("%s: port %s: " fmt, (p)->where, (p)->name, ##__VA_ARGS__)

/* The RSS key: the usual Toeplitz key of Microsoft's RSS specification,
 * padded for devices with 52-byte keys. */
const uint8_t tern_rss_key[TERN_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43,
	0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb,
	0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01,
	0xfa, 0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d,
};

struct tern_port *
tern_port_lookup(const char *name)
{
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		if (strcmp(tern_ctl.port[i].name, name) == 0)
			return &tern_ctl.port[i];
	return NULL;
}

struct tern_port *
tern_port_by_id(uint16_t port_id)
{
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++)
		if (tern_ctl.port[i].probed && tern_ctl.port[i].port_id == port_id)
			return &tern_ctl.port[i];
	return NULL;
}

/*
 * Find the ethdev for p->devargs, probing it if EAL has not already (PCI
 * devices are probed at EAL init, vdevs given with --vdev too).  A probe may
 * name its ethdev differently from the devargs, so the port that appeared
 * during the probe is taken when there is exactly one.
 */
static int
port_probe(struct tern_port *p)
{
	char name[RTE_DEV_NAME_MAX_LEN];
	bool before[RTE_MAX_ETHPORTS] = { 0 };
	uint16_t pid, found = RTE_MAX_ETHPORTS;
	unsigned nnew = 0;
	int rc;

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(p->devargs, ","), p->devargs);
	if (rte_eth_dev_get_port_by_name(name, &pid) == 0)
		goto done;
	RTE_ETH_FOREACH_DEV (pid)
		before[pid] = true;
	rc = rte_dev_probe(p->devargs);
	if (rc < 0) {
		PORT_ERR(p, "cannot probe '%s': %s", p->devargs, strerror(-rc));
		return rc;
	}
	RTE_ETH_FOREACH_DEV (pid) {
		if (!before[pid]) {
			found = pid;
			nnew++;
		}
	}
	if (nnew == 1) {
		pid = found;
		goto done;
	}
	if (rte_eth_dev_get_port_by_name(name, &pid) == 0)
		goto done;
	PORT_ERR(p, "'%s' probed but no single ethdev appeared", p->devargs);
	return -ENODEV;
done:
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		if (&tern_ctl.port[i] != p && tern_ctl.port[i].probed &&
		    tern_ctl.port[i].port_id == pid) {
			PORT_ERR(p, "device already used by port %s", tern_ctl.port[i].name);
			return -EEXIST;
		}
	}
	p->port_id = pid;
	p->probed = true;
	return 0;
}

static uint32_t
default_mbufs(const struct tern_port *p, uint16_t rxd, uint16_t txd)
{
	uint32_t n = (uint32_t)p->nb_rxq * rxd + (uint32_t)p->nb_txq * txd +
	             tern_ctl.nb_workers * (TERN_RX_BURST + RTE_MEMPOOL_CACHE_MAX_SIZE) + 1024;
	uint32_t pow = 1;

	/* A power of two minus one is the mempool's most efficient size. */
	while (pow - 1 < n)
		pow <<= 1;
	return pow - 1;
}

int
tern_port_setup(struct tern_port *p)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	uint16_t rxd = TERN_DEFAULT_RXD, txd = TERN_DEFAULT_TXD, mtu;
	unsigned nw = tern_ctl.nb_workers;
	uint32_t room;
	int rc;

	if ((rc = port_probe(p)) < 0)
		return rc;
	if ((rc = rte_eth_dev_info_get(p->port_id, &info)) < 0) {
		PORT_ERR(p, "dev_info: %s", strerror(-rc));
		return rc;
	}
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name);
	p->nb_rxq = p->req_rxq ? p->req_rxq : nw;
	p->nb_txq = p->req_txq ? p->req_txq : nw;
	if (p->nb_rxq > info.max_rx_queues) {
		/* Fewer RX queues than workers is fine: some workers skip it. */
		if (p->req_rxq) {
			PORT_ERR(p, "rxq %u but %s supports at most %u", p->nb_rxq, p->driver,
			         info.max_rx_queues);
			return -EINVAL;
		}
		p->nb_rxq = info.max_rx_queues;
	}
	if ((p->nb_rxq + nw - 1) / nw > TERN_MAX_RXQ) {
		PORT_ERR(p, "rxq %u: at most %d RX queues per worker", p->nb_rxq, TERN_MAX_RXQ);
		return -EINVAL;
	}
	if (p->nb_txq < nw || p->nb_txq > info.max_tx_queues) {
		/* Every worker owns a TX queue on every port: no TX locks. */
		PORT_ERR(p, "%u workers need %u TX queues but %s supports %u%s", nw, nw, p->driver,
		         info.max_tx_queues,
		         p->nb_txq < nw ? " (txq set below the worker count)" : "");
		return -EINVAL;
	}
	if (p->nb_rxq > 1 && info.flow_type_rss_offloads != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
		    (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
		    info.flow_type_rss_offloads;
		/* Our own key, so software can predict the queue of a flow
		 * (TCP active opens pick ports whose replies land on their
		 * own worker); the table is programmed at start. */
		if (info.hash_key_size <= TERN_RSS_KEY_LEN && info.reta_size != 0 &&
		    info.reta_size <= TERN_RETA_MAX &&
		    (p->rss = rte_zmalloc("tern_rss", sizeof(*p->rss), 0)) != NULL) {
			memcpy(p->rss->key, tern_rss_key, sizeof(p->rss->key));
			p->rss->reta_size = info.reta_size;
			p->rss->nb_rxq = p->nb_rxq;
			p->rss->l4 =
			    conf.rx_adv_conf.rss_conf.rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP;
			conf.rx_adv_conf.rss_conf.rss_key = p->rss->key;
			conf.rx_adv_conf.rss_conf.rss_key_len =
			    info.hash_key_size ? info.hash_key_size : 40;
		}
	}
	/* Fragments (rte_ipv4_fragment_packet: a header mbuf and indirect
	 * data) and reassembled datagrams are chains.  Without this flag, NICs
	 * such as i40e and ixgbe pick a TX path that sends the first segment
	 * only; port_tx linearizes chains for PMDs that cannot send them. */
	p->tx_multiseg = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	if (p->tx_multiseg)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	/* No RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE: a TX queue sends mbufs from
	 * every port's pool and from the control pool, which it forbids. */
	if ((rc = rte_eth_dev_configure(p->port_id, p->nb_rxq, p->nb_txq, &conf)) < 0) {
		PORT_ERR(p, "configure: %s", strerror(-rc));
		return rc;
	}
	if (p->req_mtu && (rc = rte_eth_dev_set_mtu(p->port_id, p->req_mtu)) < 0) {
		PORT_ERR(p, "mtu %u: %s", p->req_mtu, strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_mtu(p->port_id, &mtu) < 0)
		mtu = RTE_ETHER_MTU;
	p->mtu = mtu;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);

	/* SOCKET_ID_ANY (-1) for vdevs: the queues and pool go anywhere. */
	p->socket = rte_eth_dev_socket_id(p->port_id);
	p->nb_mbufs = p->req_mbufs ? p->req_mbufs : default_mbufs(p, rxd, txd);
	if (p->nb_mbufs < (uint32_t)p->nb_rxq * rxd + 512) {
		PORT_ERR(p, "mbufs %u too few; its RX rings alone need %u", p->nb_mbufs,
		         p->nb_rxq * rxd + 512);
		return -EINVAL;
	}
	room = RTE_MAX((uint32_t)RTE_MBUF_DEFAULT_BUF_SIZE,
	               (uint32_t)(RTE_PKTMBUF_HEADROOM + p->mtu + RTE_ETHER_HDR_LEN +
	                          RTE_ETHER_CRC_LEN + 2 * RTE_VLAN_HLEN));
	snprintf(pool_name, sizeof(pool_name), "tern_mb%u", p->port_id);
	p->pool = rte_pktmbuf_pool_create(pool_name, p->nb_mbufs, RTE_MEMPOOL_CACHE_MAX_SIZE,
	                                  sizeof(struct tern_mbuf_priv), (uint16_t)room,
	                                  p->socket < 0 ? SOCKET_ID_ANY : p->socket);
	if (p->pool == NULL) {
		PORT_ERR(p, "mempool of %u mbufs on socket %d: %s", p->nb_mbufs, p->socket,
		         rte_strerror(rte_errno));
		return rte_errno ? -rte_errno : -ENOMEM;
	}
	for (uint16_t q = 0; q < p->nb_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, rxd, (unsigned)p->socket, NULL, p->pool);
		if (rc < 0) {
			PORT_ERR(p, "rxq %u: %s", q, strerror(-rc));
			return rc;
		}
	}
	for (uint16_t q = 0; q < p->nb_txq; q++) {
		rc = rte_eth_tx_queue_setup(p->port_id, q, txd, (unsigned)p->socket, NULL);
		if (rc < 0) {
			PORT_ERR(p, "txq %u: %s", q, strerror(-rc));
			return rc;
		}
	}
	rte_eth_macaddr_get(p->port_id, &p->mac);
	return 0;
}

/* The redirection table spreads hashes round robin over the RX queues; if
 * the device will not take it, ternd cannot predict queues (rss->known
 * stays false) and TCP falls back to handing segments over. */
static void
rss_program(struct tern_port *p)
{
	struct rte_eth_rss_reta_entry64 reta[TERN_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	struct tern_rss *r = p->rss;

	memset(reta, 0, sizeof(reta));
	for (unsigned i = 0; i < r->reta_size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
		    (uint16_t)(i % r->nb_rxq);
		r->reta[i] = (uint16_t)(i % r->nb_rxq);
	}
	r->known = rte_eth_dev_rss_reta_update(p->port_id, reta, r->reta_size) == 0;
	LOG_INFO("port %s: RSS over %u queues, table of %u%s", p->name, r->nb_rxq, r->reta_size,
	         r->known ? "" : " (not programmable: queues not predicted)");
}

int
tern_port_start(struct tern_port *p)
{
	int rc = rte_eth_dev_start(p->port_id);

	if (rc < 0) {
		PORT_ERR(p, "start: %s", strerror(-rc));
		return rc;
	}
	p->started = true;
	if (p->rss != NULL)
		rss_program(p);
	LOG_INFO("port %s: %s id %u mac " RTE_ETHER_ADDR_PRT_FMT " mtu %u rxq %u txq %u "
	         "mbufs %u socket %d",
	         p->name, p->driver, p->port_id, RTE_ETHER_ADDR_BYTES(&p->mac), p->mtu, p->nb_rxq,
	         p->nb_txq, p->nb_mbufs, p->socket);
	return 0;
}

/*
 * Stop every port, then close every port, then free the pools: a port's
 * mbufs may sit in another port's TX ring (cross-connect, forwarding) until
 * that port is closed.
 */
void
tern_ports_teardown(void)
{
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		struct tern_port *p = &tern_ctl.port[i];
		if (p->started)
			rte_eth_dev_stop(p->port_id);
		p->started = false;
	}
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		struct tern_port *p = &tern_ctl.port[i];
		if (p->probed)
			rte_eth_dev_close(p->port_id);
		p->probed = false;
	}
	for (unsigned i = 0; i < tern_ctl.nb_ports; i++) {
		tern_mempool_audit(tern_ctl.port[i].pool);
		rte_mempool_free(tern_ctl.port[i].pool);
		tern_ctl.port[i].pool = NULL;
		rte_free(tern_ctl.port[i].rss);
		tern_ctl.port[i].rss = NULL;
	}
}
