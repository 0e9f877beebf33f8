/* SPDX-License-Identifier: BSD-3-Clause */
/* Command layer: tokenizer, table lookup, central arity checks, replies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ctl.h"
#include "mgmt/cmd.h"
#include "mgmt/server.h"
#include "tcp/tcp_worker.h"

static int
tok(const char *in, char **argv, char *buf)
{
	const char *err;
	strcpy(buf, in);
	return cmd_tokenize(buf, argv, CMD_MAX_WORDS, &err);
}

static void
test_tokenize_words(void **state)
{
	char buf[256], *argv[CMD_MAX_WORDS];

	assert_int_equal(tok("  link   show\tp0  \r\n", argv, buf), 3);
	assert_string_equal(argv[0], "link");
	assert_string_equal(argv[1], "show");
	assert_string_equal(argv[2], "p0");
	assert_int_equal(tok("", argv, buf), 0);
	assert_int_equal(tok("   # only a comment", argv, buf), 0);
	assert_int_equal(tok("version # trailing", argv, buf), 1);
}

static void
test_tokenize_quotes(void **state)
{
	char buf[256], *argv[CMD_MAX_WORDS];
	const char *err;

	assert_int_equal(tok("port add p0 \"net_pcap0,rx_pcap=/a b.pcap\" mtu 9000", argv, buf), 6);
	assert_string_equal(argv[3], "net_pcap0,rx_pcap=/a b.pcap");
	assert_int_equal(tok("x \"a\\\"b\\\\c\" \"\"", argv, buf), 3);
	assert_string_equal(argv[1], "a\"b\\c");
	assert_string_equal(argv[2], "");
	assert_int_equal(tok("x pre\"mid dle\"post", argv, buf), 2);
	assert_string_equal(argv[1], "premid dlepost");
	strcpy(buf, "x \"open");
	assert_int_equal(cmd_tokenize(buf, argv, CMD_MAX_WORDS, &err), -EINVAL);
	assert_string_equal(err, "unterminated quote");
}

static void
test_tokenize_too_many(void **state)
{
	char buf[1024] = "", *argv[4];
	const char *err;

	strcpy(buf, "a b c d e");
	assert_int_equal(cmd_tokenize(buf, argv, 4, &err), -E2BIG);
}

static int
exec_ctx(const char *line, bool boot, bool dry_run, bool json, char **reply)
{
	char buf[1024], *argv[CMD_MAX_WORDS];
	struct tern_out out;
	struct cmd_ctx c = { .out = &out, .boot = boot, .dry_run = dry_run };
	size_t len;
	int argc = tok(line, argv, buf), rc;

	out_init(&out, json);
	rc = cmd_exec(&c, argc, argv);
	*reply = strdup(out_finish(&out, &len));
	out_free(&out);
	return rc;
}

/* A line as the config file's first pass (boot) or ternctl (not) runs it. */
static int
exec_line(const char *line, bool boot, bool json, char **reply)
{
	return exec_ctx(line, boot, boot, json, reply);
}

/* Run `line` (validation only) and expect status `rc` and `msg` in the reply. */
static void
expect(const char *line, bool boot, int rc, const char *msg)
{
	char *r;

	assert_int_equal(exec_ctx(line, boot, true, false, &r), rc);
	if (msg != NULL && strstr(r, msg) == NULL)
		fail_msg("'%s': reply '%s' lacks '%s'", line, r, msg);
	free(r);
}

static void
test_lookup_longest_match(void **state)
{
	char *argv[] = { "port", "xconnect", "a", "b" };
	int nw;
	const struct cmd_def *d = cmd_lookup(4, argv, &nw);

	assert_non_null(d);
	assert_string_equal(d->name, "port xconnect");
	assert_int_equal(nw, 2);
	argv[1] = "add";
	assert_string_equal(cmd_lookup(4, argv, &nw)->name, "port add");
	argv[0] = "nope";
	assert_null(cmd_lookup(4, argv, &nw));
}

static void
test_exec_errors(void **state)
{
	char *r;

	assert_int_equal(exec_line("frob", false, false, &r), -ENOENT);
	assert_non_null(strstr(r, "unknown command 'frob'"));
	free(r);
	/* A first word that starts commands lists them. */
	assert_int_equal(exec_line("stats", false, false, &r), -EINVAL);
	assert_non_null(strstr(r, "stats show, stats clear"));
	free(r);
	/* Arity is checked centrally, with the usage in the message. */
	assert_int_equal(exec_line("link show a b", false, false, &r), -EINVAL);
	assert_string_equal(r, "usage: link show [NAME]\n");
	free(r);
	assert_int_equal(exec_line("version extra", false, false, &r), -EINVAL);
	free(r);
	assert_int_equal(exec_line("port add p0 net_null0", false, false, &r), -EPERM);
	assert_non_null(strstr(r, "boot-only"));
	free(r);
	assert_int_equal(exec_line("shutdown", true, false, &r), -EINVAL);
	free(r);
	assert_int_equal(exec_line("", false, false, &r), -EINVAL);
	free(r);
}

static void
test_exec_json_error(void **state)
{
	char *r;

	assert_int_equal(exec_line("frob", false, true, &r), -ENOENT);
	assert_string_equal(r, "{\"error\":\"unknown command 'frob' (try 'help')\"}\n");
	free(r);
}

static void
test_parse_u64(void **state)
{
	struct tern_out out;
	struct cmd_ctx c = { .out = &out };
	uint64_t v = 0;

	out_init(&out, false);
	assert_int_equal(cmd_parse_u64(&c, "mtu", "1500", 68, 9600, &v), 0);
	assert_int_equal(v, 1500);
	/* Decimal only: a leading zero is not octal, 0x is not hex. */
	assert_int_equal(cmd_parse_u64(&c, "mtu", "010", 0, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(cmd_parse_u64(&c, "mtu", "0x40", 0, 100, &v), -EINVAL);
	assert_int_equal(cmd_parse_u64(&c, "mtu", "67", 68, 9600, &v), -EINVAL);
	assert_int_equal(cmd_parse_u64(&c, "mtu", "-1", 0, 9600, &v), -EINVAL);
	assert_int_equal(cmd_parse_u64(&c, "mtu", "12x", 0, 9600, &v), -EINVAL);
	assert_int_equal(cmd_parse_u64(&c, "mtu", "99999999999999999999999", 0, UINT64_MAX, &v),
	                 -EINVAL);
	assert_int_equal(cmd_parse_u64(&c, "mtu", "", 0, 9600, &v), -EINVAL);
	out_free(&out);
	/* Digits past 2^64 - 1 are a number, out of range; a sign is not. */
	expect("ip fib-size 99999999999999999999999", true, -EINVAL,
	       "fib-size '99999999999999999999999' out of range [1024, ");
	expect("ip fib-size 18446744073709551616", true, -EINVAL, "out of range");
	expect("ip fib-size -1", true, -EINVAL, "fib-size '-1' is not a number");
}

/* route del refuses host bits as route add does, rather than removing the
 * prefix they belong to. */
static void
test_route_prefix_host_bits(void **state)
{
	expect("route del 203.0.113.77/24", true, -EINVAL,
	       "prefix '203.0.113.77/24' has host bits set (did you mean 203.0.113.0/24?)");
	expect("route add 203.0.113.77/24 blackhole", true, -EINVAL,
	       "prefix '203.0.113.77/24' has host bits set");
	expect("route del 203.0.113.0/24", true, 0, NULL);
	expect("route del 203.0.113.77", true, 0, NULL); /* a /32 */
	expect("route del 203.0.113.0/33", true, -EINVAL, "prefix '203.0.113.0/33'");
}

/* A word that may come once is refused the second time, never overridden. */
static void
test_options_given_twice(void **state)
{
	tern_ctl.nb_ports = 0;
	expect("port add null0 net_null0", true, 0, NULL);
	expect("route add 10.6.0.0/16 via 192.0.2.9 via 192.0.2.10", true, -EINVAL,
	       "'via' given twice");
	expect("route add 10.6.0.0/16 dev null0 dev null0", true, -EINVAL, "'dev' given twice");
	expect("route add 10.6.0.0/16 blackhole blackhole", true, -EINVAL,
	       "'blackhole' given twice");
	expect("nat add snat src 10.0.0.0/8 out null0 to 192.0.2.5 to 192.0.2.6", true, -EINVAL,
	       "'to' given twice");
	expect("nat add snat src 10.0.0.0/8 out null0 ports 2000-3000 ports 4000-5000", true,
	       -EINVAL, "'ports' given twice");
	expect("nat add snat src 10.0.0.0/8 out null0 to 192.0.2.5 ports 2000-3000", true, 0, NULL);
	expect("nat sessions show src 192.0.2.4 src 192.0.2.5", false, -EINVAL,
	       "'src' given twice");
	expect("port add p1 net_null1 rxq 2 mtu 1500 rxq 4", true, -EINVAL, "'rxq' given twice");
	assert_int_equal(tern_ctl.nb_ports, 1);
	expect("loadgen start 192.0.2.1:80 conns 2 path /a conns 4", false, -EINVAL,
	       "'conns' given twice");
	expect("loadgen start 192.0.2.1:80 close close", false, -EINVAL, "'close' given twice");
	expect("loadgen start 192.0.2.1:80 conns 2 path /conns", false, 0, NULL);
	tern_ctl.nb_ports = 0;
}

/* addr add/del name the word that is not `dev`. */
static void
test_addr_not_dev(void **state)
{
	expect("addr del 192.0.2.9/24 1.2.3.4/24 null0", true, -EINVAL,
	       "'1.2.3.4/24': expected dev PORT");
	expect("addr add 192.0.2.9/24 \"\" null0", true, -EINVAL, "'': expected dev PORT");
}

/* A pool end addr add would refuse is refused: 0.0.0.0 would read as "no
 * pool" (masquerade), and the rule could not be deleted as shown.  So is a
 * pool with 127/8 inside: an inside host could be mapped to loopback. */
static void
test_nat_pool_not_host(void **state)
{
	static const char *const bad[] = {
		"0.0.0.0-192.0.2.9",
		"0.0.0.0",
		"0.1.2.3",
		"127.0.0.1",
		"192.0.2.1-224.0.0.1",
		"239.1.1.1",
		"240.0.0.1",
		"255.255.255.255",
		"126.0.0.1-128.0.0.1",
		"1.0.0.0-223.255.255.255",
	};
	char line[128], msg[64];

	tern_ctl.nb_ports = 0;
	expect("port add null0 net_null0", true, 0, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "nat add snat src 10.0.0.0/8 out null0 to %s", bad[i]);
		snprintf(msg, sizeof(msg), "pool '%s'", bad[i]);
		expect(line, true, -EINVAL, msg);
		memcpy(line + 4, "del", 3);
		expect(line, true, -EINVAL, msg);
	}
	expect("nat add snat src 10.0.0.0/8 out null0 to 192.0.2.1-192.0.2.9", true, 0, NULL);
	expect("nat add snat src 10.0.0.0/8 out null0 to 1.0.0.0-126.255.255.255", true, 0, NULL);
	expect("nat add snat src 10.0.0.0/8 out null0 to 128.0.0.0-223.255.255.255", true, 0, NULL);
	/* The same for static and dnat addresses. */
	expect("nat add static 0.0.0.0 192.0.2.5", true, -EINVAL,
	       "'0.0.0.0': not a usable host address");
	expect("nat add static 10.0.0.1 127.0.0.1", true, -EINVAL, "'127.0.0.1'");
	expect("nat add dnat 224.0.0.1 to 10.0.0.1", true, -EINVAL, "'224.0.0.1'");
	expect("nat del dnat tcp 192.0.2.1:80 to 240.0.0.1:80", true, -EINVAL, "'240.0.0.1:80'");
	expect("nat add static 10.0.0.1 192.0.2.5", true, 0, NULL);
	tern_ctl.nb_ports = 0;
}

/* `all` stands for every port (capture start all), `none` for no port. */
static void
test_port_name_reserved(void **state)
{
	tern_ctl.nb_ports = 0;
	expect("port add all net_null0", true, -EINVAL, "port name 'all'");
	expect("port add none net_null0", true, -EINVAL, "port name 'none'");
	assert_int_equal(tern_ctl.nb_ports, 0);
	expect("port add all0 net_null0", true, 0, NULL);
	tern_ctl.nb_ports = 0;
}

/* help: the error quotes every word given, as the tokenizer reads them. */
static void
test_help_names_every_word(void **state)
{
	expect("help link bogus", false, -ENOENT, "no command 'link bogus' (try 'help')");
	expect("help bogus", false, -ENOENT, "no command 'bogus'");
	expect("help link \"a b\" c", false, -ENOENT, "no command 'link \"a b\" c'");
	expect("help link", false, 0, "link show");
}

/* loadgen start: an overlong target or from is refused whole, naming it,
 * never cut short and read as something else. */
static void
test_loadgen_overlong(void **state)
{
	char target[128], from[128], line[512], msg[160];

	/* 63 bytes end in ":...080": cut there, it read as port 80. */
	snprintf(target, sizeof(target), "192.0.2.1:%0*d", 53, 80);
	strcat(target, "0000000000");
	snprintf(line, sizeof(line), "loadgen start %s", target);
	snprintf(msg, sizeof(msg), "target '%s'", target);
	expect(line, false, -EINVAL, msg);
	snprintf(from, sizeof(from), "192.0.2.1-192.0.2.9%040d", 0);
	snprintf(line, sizeof(line), "loadgen start 192.0.2.1:80 from %s", from);
	snprintf(msg, sizeof(msg), "from '%s': expected ADDR or ADDR-ADDR (at most 39 bytes)",
	         from);
	expect(line, false, -EINVAL, msg);
	expect("loadgen start 192.0.2.1:0080 from 192.0.2.1-192.0.2.9 conns 4 close", false, 0,
	       NULL);
	expect("loadgen start 300.0.2.1:80", false, -EINVAL, "target '300.0.2.1:80'");
	expect("loadgen start 192.0.2.1:", false, -EINVAL,
	       "target '192.0.2.1:': port '' is not a number");
}

/* loadgen start: a `from` of 0.0.0.0 would read as no `from`, and close
 * (one request per connection) and idle (none) cannot both hold. */
static void
test_loadgen_from_and_modes(void **state)
{
	expect("loadgen start 192.0.2.1:80 from 0.0.0.0", false, -EINVAL,
	       "from '0.0.0.0': not usable host addresses");
	expect("loadgen start 192.0.2.1:80 from 126.0.0.1-128.0.0.1", false, -EINVAL,
	       "from '126.0.0.1-128.0.0.1'");
	expect("loadgen start 192.0.2.1:80 from 224.0.0.1", false, -EINVAL, "from '224.0.0.1'");
	expect("loadgen start 192.0.2.1:80 close idle", false, -EINVAL,
	       "'close' and 'idle' exclude each other");
	expect("loadgen start 192.0.2.1:80 from 10.0.0.1-10.0.0.9 idle", false, 0, NULL);
}

/* Refused for the state they find, commands name themselves. */
static void
test_state_errors_name_command(void **state)
{
	expect("loadgen stop", false, -ENOENT, "loadgen stop: no load generator running");
	expect("loadgen show", false, -ENOENT, "loadgen show: the load generator has not run");
	expect("capture stop", false, -ENOENT, "capture stop: no capture running");
}

static void
test_out_text_and_json(void **state)
{
	struct tern_out o;
	size_t len;

	for (int json = 0; json <= 1; json++) {
		out_init(&o, json);
		out_str(&o, "name", "p%d", 0);
		out_list_open(&o, "ports");
		out_obj_open(&o, NULL);
		out_u64(&o, "rx", 5);
		out_bool(&o, "up", true);
		out_obj_close(&o);
		out_obj_open(&o, NULL);
		out_i64(&o, "rx", -1);
		out_obj_open(&o, "inner");
		out_double(&o, "ratio", 0.25, 2);
		out_obj_close(&o);
		out_obj_close(&o);
		out_list_close(&o);
		out_str(&o, "quote", "a\"b\n");
		const char *s = out_finish(&o, &len);
		if (json)
			assert_string_equal(s, "{\"name\":\"p0\",\"ports\":[{\"rx\":5,\"up\":true},"
			                       "{\"rx\":-1,\"inner\":{\"ratio\":0.25}}],"
			                       "\"quote\":\"a\\\"b\\n\"}\n");
		else
			assert_string_equal(s, "name: p0\nports:\n  rx: 5\n  up: yes\n\n  rx: -1\n"
			                       "  inner:\n    ratio: 0.25\nquote: a\"b\n\n");
		assert_int_equal(len, strlen(s));
		out_free(&o);
	}
}

/* JSON strings are valid UTF-8 whatever bytes went in: well-formed
 * sequences pass, every other byte becomes U+FFFD. */
static void
test_out_json_utf8(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "a\xff-", "a\\ufffd-" },
		{ "\xc3", "\\ufffd" },                                  /* truncated at the end */
		{ "\xe2\x82", "\\ufffd\\ufffd" },                       /* truncated, 2 of 3 */
		{ "\xc0\xaf", "\\ufffd\\ufffd" },                       /* overlong '/' */
		{ "\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd" },            /* overlong, 3 bytes */
		{ "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd" },            /* surrogate D800 */
		{ "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd" }, /* > U+10FFFF */
		{ "\x80x", "\\ufffdx" },                                /* lone continuation */
		{ "\xc3(", "\\ufffd(" },                                /* bad continuation */
	};
	struct tern_out o;
	char want[128];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out_init(&o, true);
		out_str(&o, "f", "%s", cases[i].in);
		snprintf(want, sizeof(want), "{\"f\":\"%s\"}\n", cases[i].want);
		assert_string_equal(out_finish(&o, &len), want);
		out_free(&o);
	}
}

static void
test_server_request_framing(void **state)
{
	char line[64], *reply;
	size_t len;
	int status;

	strcpy(line, "-j version");
	status = tern_server_request(line, strlen(line), &reply, &len);
	assert_int_equal(status, 0);
	assert_non_null(strstr(reply, "\"version\":"));
	free(reply);
	memcpy(line, "ver\0sion", 8);
	status = tern_server_request(line, 8, &reply, &len);
	assert_int_equal(status, EINVAL);
	assert_non_null(strstr(reply, "binary data"));
	free(reply);
}

/* `tcp set` hands the settings to the workers before it stores them.
 * Three stand-in workers, each with its stack's settings; the hand-off to
 * the one numbered fake_refuse fails (-EBUSY: its call ring is full). */
#define FAKE_WORKERS 3
static struct tcp_cfg fake_stack[FAKE_WORKERS];
static unsigned fake_refuse, fake_pushes;

static int
fake_push(unsigned i, const struct tcp_cfg *cfg)
{
	assert_true(i < FAKE_WORKERS);
	fake_pushes++;
	if (i == fake_refuse)
		return -EBUSY;
	fake_stack[i] = *cfg;
	return 0;
}

static void
test_tcp_set_handoff_fails(void **state)
{
	struct tcp_cfg before, next;
	char *r;

	/* With no worker running, `tcp set` stores the setting. */
	assert_int_equal(exec_line("tcp set rto-min-ms 300", false, false, &r), 0);
	free(r);
	assert_int_equal(tcp_global_cfg()->rto_min_ms, 300);
	before = *tcp_global_cfg();
	for (unsigned i = 0; i < FAKE_WORKERS; i++)
		fake_stack[i] = before;
	next = before;
	next.rto_min_ms = 400;
	next.cc = next.cc == TCP_CC_RENO ? TCP_CC_CUBIC : TCP_CC_RENO;
	/* The last worker refuses: the two before it get the old settings
	 * back, and the stored ones do not change. */
	fake_refuse = 2;
	assert_int_equal(tcp_cfg_commit(&next, FAKE_WORKERS, fake_push), -EBUSY);
	assert_memory_equal(tcp_global_cfg(), &before, sizeof(before));
	for (unsigned i = 0; i < FAKE_WORKERS; i++)
		assert_memory_equal(&fake_stack[i], &before, sizeof(before));
	assert_int_equal(fake_pushes, 3 + 2);
	/* The first refuses: nobody else is asked. */
	fake_refuse = 0;
	fake_pushes = 0;
	assert_int_equal(tcp_cfg_commit(&next, FAKE_WORKERS, fake_push), -EBUSY);
	assert_int_equal(fake_pushes, 1);
	assert_memory_equal(tcp_global_cfg(), &before, sizeof(before));
	/* All take it: stored. */
	fake_refuse = FAKE_WORKERS;
	assert_int_equal(tcp_cfg_commit(&next, FAKE_WORKERS, fake_push), 0);
	assert_memory_equal(tcp_global_cfg(), &next, sizeof(next));
	for (unsigned i = 0; i < FAKE_WORKERS; i++)
		assert_memory_equal(&fake_stack[i], &next, sizeof(next));
	tcp_cfg_default(tcp_global_cfg());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokenize_words),
		cmocka_unit_test(test_tokenize_quotes),
		cmocka_unit_test(test_tokenize_too_many),
		cmocka_unit_test(test_lookup_longest_match),
		cmocka_unit_test(test_exec_errors),
		cmocka_unit_test(test_exec_json_error),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_route_prefix_host_bits),
		cmocka_unit_test(test_addr_not_dev),
		cmocka_unit_test(test_options_given_twice),
		cmocka_unit_test(test_nat_pool_not_host),
		cmocka_unit_test(test_port_name_reserved),
		cmocka_unit_test(test_help_names_every_word),
		cmocka_unit_test(test_loadgen_overlong),
		cmocka_unit_test(test_loadgen_from_and_modes),
		cmocka_unit_test(test_state_errors_name_command),
		cmocka_unit_test(test_out_text_and_json),
		cmocka_unit_test(test_out_json_utf8),
		cmocka_unit_test(test_server_request_framing),
		cmocka_unit_test(test_tcp_set_handoff_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
