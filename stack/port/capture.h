/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet capture to a pcapng file, the operator's tcpdump: the kernel sees
 * none of ternd's traffic.
 *
 * While a capture runs, the configuration version (struct tern_dp) points
 * at a struct tern_capture_dp.  port_rx and port_tx copy each burst of the
 * captured port with rte_pcapng_copy() into the capture pool and put the
 * copies on a ring (multi-producer: every worker); the control thread
 * takes them off once a millisecond and writes them with
 * rte_pcapng_write_packets().  A copy that finds the pool empty or the
 * ring full is counted as dropped, never waited for.  Stopping publishes a
 * version without the capture, waits for the grace period, then writes
 * what is left on the ring.
 */
#ifndef TERN_PORT_CAPTURE_H
#define TERN_PORT_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

#include "core/dp.h"

struct tern_worker;

struct tern_capture_dp {
	uint16_t port;    /* the captured port, or TERN_PORT_NONE: every port */
	uint32_t snaplen; /* bytes kept of each frame */
	/* Wall-clock time of a TSC value: base_ns + (tsc - base_tsc) *
	 * ns_per_tsc / 2^32 (see tern_capture_burst). */
	uint64_t base_tsc, base_ns, ns_per_tsc;
	struct rte_ring *ring;
	struct rte_mempool *pool;
};

/* Is `port` being captured in this configuration version? */
static inline const struct tern_capture_dp *
tern_capture_of(const struct tern_dp *dp, uint16_t port)
{
	const struct tern_capture_dp *c = dp->capture;

	if (likely(c == NULL) || (c->port != TERN_PORT_NONE && c->port != port))
		return NULL;
	return c;
}

/* Worker: copy `n` frames received (out false) or about to be sent (out
 * true) on `port`'s queue `queue`. */
void tern_capture_burst(struct tern_worker *w, const struct tern_capture_dp *c, uint16_t port,
                        uint16_t queue, struct rte_mbuf *const *pkts, uint16_t n, bool out);

#endif
