/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet capture (capture.h): the workers' copy step, and the control
 * thread's writer and commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

#include "core/ctl.h"
#include "core/init.h"
#include "core/log.h"
#include "core/worker.h"
#include "mgmt/cli.h"
#include "port/capture.h"

/* Largest frame kept (jumbo frames included), and the default. */
#define CAPTURE_SNAPLEN_MAX 9216
/* Copies in flight between the workers and the writer. */
#define CAPTURE_POOL 4095
#define CAPTURE_RING 4096
/* Copies written per writer pass (once a millisecond). */
#define CAPTURE_WRITE_BURST 256

/*
 * The start of a pcapng Enhanced Packet Block (draft-ietf-opsawg-pcapng
 * 4.3), which rte_pcapng_copy() puts in front of the frame: the time stamp
 * is in the interface's resolution, nanoseconds for rte_pcapng's.
 */
struct capture_epb {
	uint32_t type; /* 6 */
	uint32_t length;
	uint32_t interface;
	uint32_t ts_hi, ts_lo;
};
#define CAPTURE_EPB_TYPE 6

/*
 * The burst's wall-clock time.  rte_pcapng_copy() converts the TSC itself,
 * but DPDK 22.11's conversion overflows once the process has run a few
 * seconds (cycles * 10^9 in 64 bits), so we stamp the block ourselves.
 */
static inline uint64_t
capture_ns(const struct tern_capture_dp *c, uint64_t tsc)
{
	/* A burst clock read just before the capture started: its start. */
	if ((int64_t)(tsc - c->base_tsc) < 0)
		return c->base_ns;
	return c->base_ns +
	       (uint64_t)(((unsigned __int128)(tsc - c->base_tsc) * c->ns_per_tsc) >> 32);
}

void
tern_capture_burst(struct tern_worker *w, const struct tern_capture_dp *c, uint16_t port,
                   uint16_t queue, struct rte_mbuf *const *pkts, uint16_t n, bool out)
{
	enum rte_pcapng_direction dir = out ? RTE_PCAPNG_DIRECTION_OUT : RTE_PCAPNG_DIRECTION_IN;
	uint64_t ns = capture_ns(c, w->now_tsc);
	struct rte_mbuf *copy[64];

	for (uint16_t base = 0; base < n; base += RTE_DIM(copy)) {
		uint16_t k = 0, todo = RTE_MIN(n - base, (uint16_t)RTE_DIM(copy));
		/* Frames the ring has no room for now would be copied only to
		 * be dropped: the writer is behind, drop them uncopied. */
		uint16_t room = (uint16_t)RTE_MIN((unsigned)todo, rte_ring_free_count(c->ring));
		unsigned sent;

		for (uint16_t i = 0; i < room; i++) {
			struct rte_mbuf *m = rte_pcapng_copy(port, queue, pkts[base + i], c->pool,
			                                     c->snaplen, w->now_tsc, dir);
			struct capture_epb *epb;

			if (m == NULL)
				continue;
			epb = rte_pktmbuf_mtod(m, struct capture_epb *);
			if (likely(epb->type == CAPTURE_EPB_TYPE)) {
				epb->ts_hi = (uint32_t)(ns >> 32);
				epb->ts_lo = (uint32_t)ns;
			}
			copy[k++] = m;
		}
		sent = rte_ring_mp_enqueue_burst(c->ring, (void **)copy, k, NULL);
		if (unlikely(sent < k))
			rte_pktmbuf_free_bulk(&copy[sent], k - sent);
		w->capture_copied += sent;
		w->capture_dropped += todo - sent;
	}
}

/* ---- The control thread's side ---- */

/* Control thread only. */
static struct {
	bool running;
	struct tern_capture_dp dp; /* what the published version points at */
	rte_pcapng_t *out;
	int fd;    /* cap.out's file */
	off_t end; /* where its last whole block ends; -1: not seekable (a FIFO) */
	char file[PATH_MAX];
	uint64_t count; /* frames to write, 0: until stopped */
	uint64_t written;
	uint64_t copied0, dropped0; /* the workers' counters at start */
	uint64_t copied, dropped;   /* ... and the run's, once stopped */
	int error;                  /* why the writer stopped, 0: it did not */
	struct tern_timer timer;
} cap;

static void
worker_counts(uint64_t *copied, uint64_t *dropped)
{
	*copied = *dropped = 0;
	for (unsigned i = 0; i < tern_ctl.nb_workers; i++) {
		const struct tern_worker *w = tern_ctl.worker[i];

		if (w == NULL)
			continue;
		*copied += __atomic_load_n(&w->capture_copied, __ATOMIC_RELAXED);
		*dropped += __atomic_load_n(&w->capture_dropped, __ATOMIC_RELAXED);
	}
}

/*
 * What rte_pcapng_write_packets() left unwritten of pkts[0..n), from byte
 * `skip` of their blocks on: it took a short writev as success.  Adds what
 * goes in to *put.  0, or -errno.
 */
static int
capture_write_rest(struct rte_mbuf **pkts, unsigned n, size_t skip, size_t *put)
{
	for (unsigned i = 0; i < n; i++) {
		for (const struct rte_mbuf *seg = pkts[i]; seg != NULL; seg = seg->next) {
			const char *p = rte_pktmbuf_mtod(seg, const char *);
			size_t len = rte_pktmbuf_data_len(seg);

			if (skip >= len) {
				skip -= len;
				continue;
			}
			p += skip;
			len -= skip;
			skip = 0;
			while (len > 0) {
				ssize_t w = write(cap.fd, p, len);

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					return w < 0 ? -errno : -EIO;
				*put += (size_t)w;
				p += w;
				len -= (size_t)w;
			}
		}
	}
	return 0;
}

/*
 * Append pkts[0..n) to the file; *done is how many of them it now holds.
 * 0, or -errno with the file cut back to the end of its last whole block.
 *
 * A regular file's write is short when the disk (or a quota, or the file
 * size limit) runs out midway: rte_pcapng_write_packets() counts that as
 * written, and the file would end in a truncated block, which tcpdump
 * reports as a damaged file and other readers refuse.  So a short write is
 * finished here, which either succeeds or fails with the reason (ENOSPC,
 * EDQUOT, EFBIG); on failure the partial block is cut off (ftruncate), and
 * the file stays readable to its end.  Error path only: the usual cost is
 * the one writev.
 */
static int
capture_append(struct rte_mbuf **pkts, unsigned n, unsigned *done)
{
	size_t want = 0, put, whole = 0;
	unsigned k = 0;
	ssize_t rc;
	off_t at;
	int err;

	for (unsigned i = 0; i < n; i++)
		want += rte_pktmbuf_pkt_len(pkts[i]);
	rc = rte_pcapng_write_packets(cap.out, pkts, (uint16_t)n);
	if (rc == (ssize_t)want) {
		if (cap.end >= 0)
			cap.end += (off_t)want;
		*done = n;
		return 0;
	}
	err = rc < 0 ? (rte_errno ? rte_errno : EIO) : 0;
	if (cap.end < 0) {
		/* Not seekable: nothing can be cut; report what we know. */
		*done = 0;
		return -(err ? err : EIO);
	}
	/* How much went in.  The file offset says even when the writev that
	 * failed followed others (a burst of more than IOV_MAX segments). */
	at = lseek(cap.fd, 0, SEEK_CUR);
	put = at > cap.end ? (size_t)(at - cap.end) : 0;
	if (rc >= 0) {
		err = -capture_write_rest(pkts, n, put, &put);
		if (err == 0) {
			cap.end += (off_t)want;
			*done = n;
			return 0;
		}
	}
	while (k < n && whole + rte_pktmbuf_pkt_len(pkts[k]) <= put)
		whole += rte_pktmbuf_pkt_len(pkts[k++]);
	cap.end += (off_t)whole;
	if (whole != put && ftruncate(cap.fd, cap.end) < 0)
		LOG_ERR("capture %s: cannot cut the partial block at %jd: %s", cap.file,
		        (intmax_t)cap.end, strerror(errno));
	*done = k;
	return -err;
}

/* Write what the ring holds (all of it when draining), up to the count. */
static void
capture_write(bool drain)
{
	struct rte_mbuf *pkts[CAPTURE_WRITE_BURST];
	unsigned n, rounds = 0;

	while ((n = rte_ring_sc_dequeue_burst(cap.dp.ring, (void **)pkts, RTE_DIM(pkts), NULL)) !=
	       0) {
		unsigned keep = n;

		if (cap.count != 0 && cap.written + keep > cap.count)
			keep = (unsigned)(cap.count - cap.written);
		if (cap.error == 0 && keep != 0) {
			unsigned done;
			int rc = capture_append(pkts, keep, &done);

			cap.written += done;
			if (rc < 0) {
				cap.error = -rc;
				LOG_ERR("capture %s: %s; capture stopped", cap.file,
				        strerror(cap.error));
			}
		}
		rte_pktmbuf_free_bulk(pkts, n);
		/* A busy port must not hold the control thread: a few passes,
		 * then the next tick. */
		if (!drain && ++rounds == 8)
			break;
	}
}

static int capture_end(void);

static void
capture_tick(struct tern_timer *t, void *arg)
{
	(void)arg;
	capture_write(false);
	/* Done: stop, or try again next tick when out of memory for that. */
	if ((cap.error != 0 || (cap.count != 0 && cap.written >= cap.count)) && capture_end() == 0)
		return;
	tern_timer_start(&tern_ctl.wheel, t, tern_now_ms() + 1);
}

/* The pool and ring, made on the first capture and kept: the pool is
 * listed with the others by `stats show`. */
static int
capture_setup_once(void)
{
	if (cap.dp.pool != NULL)
		return 0;
	cap.dp.pool =
	    rte_pktmbuf_pool_create("tern_capture", CAPTURE_POOL, 64, 0,
	                            rte_pcapng_mbuf_size(CAPTURE_SNAPLEN_MAX), SOCKET_ID_ANY);
	if (cap.dp.pool == NULL)
		return rte_errno ? -rte_errno : -ENOMEM;
	cap.dp.ring = rte_ring_create("tern_capture", CAPTURE_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (cap.dp.ring == NULL) {
		rte_mempool_free(cap.dp.pool);
		cap.dp.pool = NULL;
		return rte_errno ? -rte_errno : -ENOMEM;
	}
	if (tern_mempool_track(cap.dp.pool) < 0) {
		rte_ring_free(cap.dp.ring);
		rte_mempool_free(cap.dp.pool);
		cap.dp.ring = NULL;
		cap.dp.pool = NULL;
		return -ENOSPC;
	}
	tern_timer_init(&cap.timer, capture_tick, NULL);
	return 0;
}

/* Stop: no worker copies once the version without the capture is in
 * force; then the rest of the ring goes to the file.  0, or -ENOMEM with
 * the capture still running (the version could not be made). */
static int
capture_end(void)
{
	if (!cap.running)
		return 0;
	if (tern_ctl.started) {
		struct tern_dp *next = tern_dp_copy();

		if (next == NULL)
			return -ENOMEM;
		next->capture = NULL;
		tern_dp_publish(next);
	}
	tern_timer_stop(&tern_ctl.wheel, &cap.timer);
	capture_write(true);
	worker_counts(&cap.copied, &cap.dropped);
	cap.copied -= cap.copied0;
	cap.dropped -= cap.dropped0;
	rte_pcapng_close(cap.out);
	cap.out = NULL;
	cap.running = false;
	LOG_INFO("capture %s: %" PRIu64 " frames written", cap.file, cap.written);
	return 0;
}

/* The TSC's wall-clock origin and rate, for capture_ns(). */
static void
capture_clock(struct tern_capture_dp *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	c->base_tsc = rte_rdtsc();
	c->base_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	c->ns_per_tsc = (uint64_t)(((unsigned __int128)1000000000u << 32) / rte_get_tsc_hz());
}

/* capture start PORT|all FILE [count N] [snaplen N] */
int
cli_capture_start(struct cmd_ctx *c, int argc, char **argv)
{
	const struct tern_port *p = NULL;
	uint64_t count = 0, snaplen = CAPTURE_SNAPLEN_MAX;
	struct tern_dp *next;
	int fd, rc;

	if (strcmp(argv[0], "all") != 0 && (p = tern_port_lookup(argv[0])) == NULL)
		return out_err(c->out, ENODEV, "no port '%s'", argv[0]);
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			return out_err(c->out, EINVAL, "'%s' needs a value", argv[i]);
		if ((rc = cmd_once(c, argv, 2, i, 2)) < 0)
			return rc;
		if (strcmp(argv[i], "count") == 0)
			rc = cmd_parse_u64(c, "count", argv[i + 1], 1, UINT64_MAX, &count);
		else if (strcmp(argv[i], "snaplen") == 0)
			rc = cmd_parse_u64(c, "snaplen", argv[i + 1], 64, CAPTURE_SNAPLEN_MAX,
			                   &snaplen);
		else
			return out_err(c->out, EINVAL, "unknown option '%s' (count N, snaplen N)",
			               argv[i]);
		if (rc < 0)
			return rc;
	}
	if (cap.running)
		return out_err(c->out, EBUSY, "a capture to %s is running (capture stop)",
		               cap.file);
	if (strlen(argv[1]) >= sizeof(cap.file))
		return out_err(c->out, ENAMETOOLONG, "file '%s': name longer than %zu bytes",
		               argv[1], sizeof(cap.file) - 1);
	if ((rc = capture_setup_once()) < 0)
		return out_err(c->out, -rc, "capture buffers: %s", strerror(-rc));
	if ((next = tern_dp_copy()) == NULL)
		return out_err(c->out, ENOMEM, "out of memory");
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = errno;
		rte_free(next);
		return out_err(c->out, rc, "file '%s': %s", argv[1], strerror(rc));
	}
	/* Writes the section header and an interface block per port. */
	cap.out = rte_pcapng_fdopen(fd, NULL, NULL, "ternd", NULL);
	if (cap.out == NULL) {
		rc = rte_errno ? rte_errno : EIO;
		close(fd);
		rte_free(next);
		return out_err(c->out, rc, "file '%s': %s", argv[1], rte_strerror(rc));
	}
	snprintf(cap.file, sizeof(cap.file), "%s", argv[1]);
	cap.fd = fd;
	cap.end = lseek(fd, 0, SEEK_CUR); /* past the headers just written */
	cap.dp.port = p != NULL ? p->port_id : TERN_PORT_NONE;
	capture_clock(&cap.dp);
	cap.dp.snaplen = (uint32_t)snaplen;
	cap.count = count;
	cap.written = cap.copied = cap.dropped = 0;
	cap.error = 0;
	worker_counts(&cap.copied0, &cap.dropped0);
	cap.running = true;
	next->capture = &cap.dp;
	tern_dp_publish(next);
	tern_timer_start(&tern_ctl.wheel, &cap.timer, tern_now_ms() + 1);
	return 0;
}

/* capture stop */
int
cli_capture_stop(struct cmd_ctx *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!cap.running)
		return out_err(c->out, ENOENT, "capture stop: no capture running");
	if (capture_end() < 0)
		return out_err(c->out, ENOMEM, "out of memory; the capture is still running");
	out_u64(c->out, "written", cap.written);
	out_u64(c->out, "dropped", cap.dropped);
	return 0;
}

/* capture show: the running capture, or the last one. */
int
cli_capture_show(struct cmd_ctx *c, int argc, char **argv)
{
	uint64_t copied = cap.copied, dropped = cap.dropped;
	const struct tern_port *p = tern_port_by_id(cap.dp.port);

	(void)argc;
	(void)argv;
	if (cap.running) {
		worker_counts(&copied, &dropped);
		copied -= cap.copied0;
		dropped -= cap.dropped0;
	}
	out_bool(c->out, "running", cap.running);
	out_str(c->out, "port", "%s", cap.file[0] == 0 ? "-" : p != NULL ? p->name : "all");
	out_str(c->out, "file", "%s", cap.file[0] ? cap.file : "-");
	out_u64(c->out, "snaplen", cap.dp.snaplen);
	out_u64(c->out, "count", cap.count);
	out_u64(c->out, "copied", copied);
	out_u64(c->out, "written", cap.written);
	out_u64(c->out, "dropped", dropped);
	out_str(c->out, "error", "%s", cap.error ? strerror(cap.error) : "-");
	return 0;
}

/* Shutdown: the workers have stopped; what they copied goes to the file. */
static void
capture_fini(void)
{
	capture_end();
	rte_ring_free(cap.dp.ring);
	cap.dp.ring = NULL;
	cap.dp.pool = NULL; /* freed with the tracked pools */
}
TERN_FINI(capture_fini);
