/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ternctl: operator CLI for ternd.
 *
 * Talks to ternd over its UNIX stream control socket.  A request is one
 * line of text ("\n" terminated, at most TERNCTL_REQ_MAX bytes including
 * the newline); words are separated by blanks and a word holding blanks,
 * quotes or backslashes (or an empty word) is double-quoted with \" and \\
 * escaped.  An optional first word "-j" asks for a JSON reply.
 *
 * A reply is a header "<status> <length>\n" (ASCII decimal; status is 0 or
 * a positive errno) followed by exactly <length> bytes of payload.  Several
 * request/reply pairs may share one connection, strictly in turn.
 *
 * The payload is streamed to stdout (stderr for errors) as it arrives, so a
 * large table neither needs a size cap nor waits for the whole reply.
 *
 * Exit status: 0 success, 1 ternd reported an error (or local output
 * failed), 2 usage error or unsendable request, 3 could not talk to ternd
 * (connect failure, timeout, connection closed, malformed reply).
 *
 * Plain libc only; no DPDK, no line-editing library.
 */
/* The meson build passes -D_GNU_SOURCE; this keeps a bare gcc build working. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TERNCTL_DEFAULT_SOCKET  "/run/tern/ternd.sock"
#define TERNCTL_DEFAULT_TIMEOUT 30    /* seconds */
#define TERNCTL_REQ_MAX         65536 /* request line, including "\n" */
#define TERNCTL_HDR_MAX         32    /* reply header, including "\n" */
#define TERNCTL_JSON_PREFIX     "-j "

enum {
	TERNCTL_EXIT_OK = 0,
	TERNCTL_EXIT_FAIL = 1,
	TERNCTL_EXIT_USAGE = 2,
	TERNCTL_EXIT_COMM = 3,
};

/* One connection to ternd with a small receive buffer. */
struct conn {
	int fd;
	int64_t timeout_ms; /* per request; < 0 means wait forever */
	size_t head;        /* next unread byte in buf */
	size_t tail;        /* end of valid data in buf */
	char buf[8192];
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "Usage: ternctl [-s SOCKET] [-j] [-t SECONDS] [COMMAND [ARGS...]]\n"
	        "\n"
	        "Send COMMAND to ternd and print its reply.  Without COMMAND, read\n"
	        "commands from standard input, one per line (\"quit\" or EOF ends).\n"
	        "\n"
	        "  -s SOCKET   control socket (default: $TERN_SOCKET, else " TERNCTL_DEFAULT_SOCKET
	        ")\n"
	        "  -j          ask ternd for JSON output\n"
	        "  -t SECONDS  reply timeout, 0 waits forever (default: %d)\n"
	        "  -h          show this help\n"
	        "\n"
	        "Exit status: 0 success, 1 command failed, 2 usage error,\n"
	        "3 cannot talk to ternd.\n",
	        TERNCTL_DEFAULT_TIMEOUT);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Absolute deadline for one request, or -1 for none. */
static int64_t
deadline_start(const struct conn *c)
{
	return c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
}

/*
 * Wait until the socket is ready for @events or the deadline passes.
 * Errors and hangups are left for the following read/send to report,
 * since they carry the precise errno.
 */
static int
conn_wait(const struct conn *c, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		if (deadline < 0) {
			left = -1;
		} else {
			left = deadline - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			if (left > INT_MAX)
				left = INT_MAX;
		}
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
		/* rc == 0: poll timed out; loop re-checks the deadline. */
	}
}

/*
 * Connect to ternd.  The socket is blocking during connect() with
 * SO_SNDTIMEO set, because a blocking UNIX connect() waits for room in
 * the listener's backlog and honours that timeout; afterwards it is made
 * non-blocking so every read and send goes through conn_wait().
 */
static int
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int flags;
	int err;

	c->fd = -1;
	c->head = c->tail = 0;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;

	if (c->timeout_ms > 0) {
		struct timeval tv = {
			.tv_sec = c->timeout_ms / 1000,
			.tv_usec = (c->timeout_ms % 1000) * 1000,
		};

		if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
			goto fail;
	}
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		/* Backlog still full when SO_SNDTIMEO ran out. */
		if (errno == EAGAIN)
			errno = ETIMEDOUT;
		goto fail;
	}

	flags = fcntl(c->fd, F_GETFL);
	if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) < 0)
		goto fail;
	return 0;

fail:
	err = errno;
	close(c->fd);
	c->fd = -1;
	return -err;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * Send all of @buf.  MSG_NOSIGNAL keeps a vanished ternd from killing us
 * with SIGPIPE; SIGPIPE stays at its default so "ternctl ... | head" still
 * ends quietly when stdout goes away.
 */
static int
conn_send(struct conn *c, const char *buf, size_t len, int64_t deadline)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			if (errno == EPIPE || errno == ECONNRESET)
				return -ECONNRESET;
			return -errno;
		}
		rc = conn_wait(c, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Refill the receive buffer; only called once it is fully consumed.
 * End of stream means ternd closed the connection mid-reply, reported
 * as -ECONNRESET.
 */
static int
conn_fill(struct conn *c, int64_t deadline)
{
	ssize_t n;
	int rc;

	c->head = c->tail = 0;
	for (;;) {
		n = read(c->fd, c->buf, sizeof(c->buf));
		if (n > 0) {
			c->tail = (size_t)n;
			return 0;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		rc = conn_wait(c, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
}

/* Parse decimal digits at *p into *val, refusing overflow past @max. */
static int
parse_digits(const char **p, const char *end, uint64_t max, uint64_t *val)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s == end || *s < '0' || *s > '9')
		return -EPROTO;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (max - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	*p = s;
	*val = v;
	return 0;
}

/*
 * Strict header check: digits, one space, digits, newline, nothing else.
 * Anything looser could silently desynchronise a shared connection.
 */
static int
parse_header(const char *hdr, size_t n, int *status, uint64_t *len)
{
	const char *p = hdr;
	const char *end = hdr + n;
	uint64_t st;

	if (parse_digits(&p, end, INT_MAX, &st) < 0)
		return -EPROTO;
	if (p == end || *p++ != ' ')
		return -EPROTO;
	if (parse_digits(&p, end, UINT64_MAX, len) < 0)
		return -EPROTO;
	if (p + 1 != end || *p != '\n')
		return -EPROTO;
	*status = (int)st;
	return 0;
}

static int
read_header(struct conn *c, int64_t deadline, int *status, uint64_t *len)
{
	char hdr[TERNCTL_HDR_MAX];
	size_t n = 0;
	int rc;

	for (;;) {
		while (c->head < c->tail) {
			char ch = c->buf[c->head++];

			if (n == sizeof(hdr))
				return -EPROTO;
			hdr[n++] = ch;
			if (ch == '\n')
				return parse_header(hdr, n, status, len);
		}
		rc = conn_fill(c, deadline);
		if (rc < 0)
			return rc;
	}
}

/*
 * Copy @len payload bytes to @out, optionally after @prefix, and end
 * with a newline if the payload did not.  If the reply breaks off, the
 * partial line is still terminated so the error message that follows
 * starts on its own line.
 */
static int
relay_payload(struct conn *c, uint64_t len, FILE *out, const char *prefix, int64_t deadline)
{
	char last = '\n';
	int rc = 0;

	if (len == 0)
		return 0;
	fputs(prefix, out);
	while (len > 0) {
		size_t chunk;

		if (c->head == c->tail) {
			rc = conn_fill(c, deadline);
			if (rc < 0)
				break;
		}
		chunk = c->tail - c->head;
		if (chunk > len)
			chunk = (size_t)len;
		fwrite(c->buf + c->head, 1, chunk, out);
		last = c->buf[c->head + chunk - 1];
		c->head += chunk;
		len -= chunk;
	}
	if (last != '\n')
		fputc('\n', out);
	return rc;
}

/*
 * Send one request line (including its "\n") and print the reply.
 * Returns the reply status (0 or a positive errno), or a negative errno
 * when the exchange itself failed; the connection is then unusable.
 */
static int
transact(struct conn *c, const char *req, size_t len)
{
	int64_t deadline = deadline_start(c);
	uint64_t plen;
	int status;
	int rc;

	rc = conn_send(c, req, len, deadline);
	if (rc < 0)
		return rc;
	rc = read_header(c, deadline, &status, &plen);
	if (rc < 0)
		return rc;

	if (status == 0) {
		rc = relay_payload(c, plen, stdout, "", deadline);
	} else if (plen > 0) {
		fflush(stdout);
		rc = relay_payload(c, plen, stderr, "ternctl: ", deadline);
	} else {
		fflush(stdout);
		fprintf(stderr, "ternctl: error %d (%s)\n", status, strerror(status));
	}
	/* Keep stdout and stderr in order for an interactive session. */
	fflush(stdout);
	return rc < 0 ? rc : status;
}

static void
report_comm_error(int err, const char *path)
{
	switch (err) {
	case -ETIMEDOUT:
		fprintf(stderr, "ternctl: timed out waiting for reply from ternd\n");
		break;
	case -ECONNRESET:
		fprintf(stderr, "ternctl: connection closed by ternd\n");
		break;
	case -EPROTO:
		fprintf(stderr, "ternctl: malformed reply from ternd\n");
		break;
	default:
		fprintf(stderr, "ternctl: error talking to ternd on %s: %s\n", path,
		        strerror(-err));
		break;
	}
}

/* Quote what ternd's tokenizer would otherwise take apart: blanks and '\r'
 * separate words, and a word starting with '#' starts a comment. */
static bool
word_needs_quotes(const char *w)
{
	return *w == '\0' || *w == '#' || strpbrk(w, " \t\r\"\\") != NULL;
}

static size_t
word_quoted_len(const char *w)
{
	size_t n = 2;

	if (!word_needs_quotes(w))
		return strlen(w);
	for (; *w != '\0'; w++)
		n += (*w == '"' || *w == '\\') ? 2 : 1;
	return n;
}

/* Write @w, quoted if needed, at @dst; returns the end of what was written. */
static char *
word_quote(char *dst, const char *w)
{
	if (!word_needs_quotes(w)) {
		size_t n = strlen(w);

		memcpy(dst, w, n);
		return dst + n;
	}
	*dst++ = '"';
	for (; *w != '\0'; w++) {
		if (*w == '"' || *w == '\\')
			*dst++ = '\\';
		*dst++ = *w;
	}
	*dst++ = '"';
	return dst;
}

/*
 * Join argv words into one request line.  A newline cannot be quoted in
 * this protocol, so such a word is refused (a NUL cannot occur inside a C
 * string argument at all).  On -E2BIG, *lenp holds the size it would have.
 */
static int
build_request(int argc, char **argv, bool json, char **reqp, size_t *lenp, int *badp)
{
	size_t len = json ? strlen(TERNCTL_JSON_PREFIX) : 0;
	char *req, *p;
	int i;

	for (i = 0; i < argc; i++) {
		if (strchr(argv[i], '\n') != NULL) {
			*badp = i;
			return -EINVAL;
		}
		len += word_quoted_len(argv[i]) + 1; /* separator or "\n" */
	}
	*lenp = len;
	if (len > TERNCTL_REQ_MAX)
		return -E2BIG;

	req = malloc(len);
	if (req == NULL)
		return -ENOMEM;
	p = req;
	if (json) {
		memcpy(p, TERNCTL_JSON_PREFIX, strlen(TERNCTL_JSON_PREFIX));
		p += strlen(TERNCTL_JSON_PREFIX);
	}
	for (i = 0; i < argc; i++) {
		p = word_quote(p, argv[i]);
		*p++ = i + 1 < argc ? ' ' : '\n';
	}
	*reqp = req;
	return 0;
}

/* Check stdout made it out; a full disk should not look like success. */
static int
finish_output(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ternctl: error writing output: %s\n", strerror(errno));
		return TERNCTL_EXIT_FAIL;
	}
	return code;
}

static int
run_oneshot(struct conn *c, const char *path, int argc, char **argv, bool json)
{
	char *req = NULL;
	size_t len = 0;
	int bad = 0;
	int rc;

	rc = build_request(argc, argv, json, &req, &len, &bad);
	if (rc == -EINVAL) {
		fprintf(stderr, "ternctl: argument %d contains a newline, which cannot be sent\n",
		        bad + 1);
		return TERNCTL_EXIT_USAGE;
	} else if (rc == -E2BIG) {
		fprintf(stderr, "ternctl: request too long (%zu bytes, max %d)\n", len,
		        TERNCTL_REQ_MAX);
		return TERNCTL_EXIT_USAGE;
	} else if (rc < 0) {
		fprintf(stderr, "ternctl: %s\n", strerror(-rc));
		return TERNCTL_EXIT_FAIL;
	}

	rc = conn_open(c, path);
	if (rc < 0) {
		fprintf(stderr, "ternctl: cannot connect to %s: %s\n", path, strerror(-rc));
		free(req);
		return TERNCTL_EXIT_COMM;
	}
	rc = transact(c, req, len);
	conn_close(c);
	free(req);
	if (rc < 0) {
		fflush(stdout);
		report_comm_error(rc, path);
		return TERNCTL_EXIT_COMM;
	}
	return finish_output(rc == 0 ? TERNCTL_EXIT_OK : TERNCTL_EXIT_FAIL);
}

/* Span of @s with leading and trailing blanks removed (for matching only). */
static const char *
trim(const char *s, size_t *lenp)
{
	size_t len = *lenp;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	*lenp = len;
	return s;
}

static bool
is_word(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

/*
 * Interactive shell: one connection for the whole session, one request
 * per input line.  Errors from ternd are shown and the session goes on;
 * a broken connection ends it, since replies could no longer be matched
 * to requests.
 */
static int
run_shell(struct conn *c, const char *path, bool json)
{
	const size_t plen = json ? strlen(TERNCTL_JSON_PREFIX) : 0;
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL, *req = NULL;
	size_t cap = 0;
	int code = TERNCTL_EXIT_OK;
	ssize_t n;
	int rc;

	rc = conn_open(c, path);
	if (rc < 0) {
		fprintf(stderr, "ternctl: cannot connect to %s: %s\n", path, strerror(-rc));
		return TERNCTL_EXIT_COMM;
	}
	req = malloc(TERNCTL_REQ_MAX);
	if (req == NULL) {
		fprintf(stderr, "ternctl: %s\n", strerror(ENOMEM));
		conn_close(c);
		return TERNCTL_EXIT_FAIL;
	}

	for (;;) {
		const char *word;
		size_t len, wlen;

		if (tty) {
			fputs("tern> ", stdout);
			fflush(stdout);
		}
		n = getline(&line, &cap, stdin);
		if (n < 0) {
			if (tty)
				fputc('\n', stdout);
			break;
		}
		len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		/* Tolerate CRLF scripts: a stray '\r' would end up in a word. */
		if (len > 0 && line[len - 1] == '\r')
			len--;

		wlen = len;
		word = trim(line, &wlen);
		if (wlen == 0 || word[0] == '#')
			continue;
		if (is_word(word, wlen, "quit") || is_word(word, wlen, "exit"))
			break;

		if (memchr(line, '\0', len) != NULL) {
			fprintf(stderr, "ternctl: line contains a NUL byte, not sent\n");
			code = TERNCTL_EXIT_FAIL;
			continue;
		}
		if (plen + len + 1 > TERNCTL_REQ_MAX) {
			fprintf(stderr, "ternctl: request too long (%zu bytes, max %d), not sent\n",
			        plen + len + 1, TERNCTL_REQ_MAX);
			code = TERNCTL_EXIT_FAIL;
			continue;
		}
		memcpy(req, TERNCTL_JSON_PREFIX, plen);
		memcpy(req + plen, line, len);
		req[plen + len] = '\n';

		rc = transact(c, req, plen + len + 1);
		if (rc < 0) {
			report_comm_error(rc, path);
			code = TERNCTL_EXIT_COMM;
			break;
		}
		code = rc == 0 ? TERNCTL_EXIT_OK : TERNCTL_EXIT_FAIL;
	}

	free(line);
	free(req);
	conn_close(c);
	return finish_output(code);
}

/* Strict non-negative integer seconds; -1 on anything else. */
static int64_t
parse_timeout(const char *s)
{
	uint64_t v;

	if (parse_digits(&s, s + strlen(s), INT_MAX, &v) < 0 || *s != '\0')
		return -1;
	return (int64_t)v;
}

int
main(int argc, char **argv)
{
	const char *path = getenv("TERN_SOCKET");
	int64_t timeout = TERNCTL_DEFAULT_TIMEOUT;
	struct conn c = { .fd = -1 };
	bool json = false;
	int opt;

	if (path == NULL || *path == '\0')
		path = TERNCTL_DEFAULT_SOCKET;

	/* '+': stop at the command so its own dash arguments reach ternd. */
	opterr = 0;
	while ((opt = getopt(argc, argv, "+s:jt:h")) != -1) {
		switch (opt) {
		case 's':
			if (*optarg == '\0') {
				fprintf(stderr, "ternctl: empty socket path\n");
				usage(stderr);
				return TERNCTL_EXIT_USAGE;
			}
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			timeout = parse_timeout(optarg);
			if (timeout < 0) {
				fprintf(stderr, "ternctl: invalid timeout '%s'\n", optarg);
				usage(stderr);
				return TERNCTL_EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return finish_output(TERNCTL_EXIT_OK);
		default:
			if (optopt == 's' || optopt == 't')
				fprintf(stderr, "ternctl: option -%c needs an argument\n", optopt);
			else
				fprintf(stderr, "ternctl: unknown option -%c\n", optopt);
			usage(stderr);
			return TERNCTL_EXIT_USAGE;
		}
	}
	c.timeout_ms = timeout == 0 ? -1 : timeout * 1000;

	if (optind < argc)
		return run_oneshot(&c, path, argc - optind, argv + optind, json);
	return run_shell(&c, path, json);
}
