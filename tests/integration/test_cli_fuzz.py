# SPDX-License-Identifier: BSD-3-Clause
"""CLI fuzz: every command of the table (as `help` lists it) gets mutated
arguments, through ternctl and through a config file checked with
`ternd -t`.  ternd must stay up, every error must name the argument or the
command at fault, a refused command must leave `show running-config` as it
was, and the mbuf pools must end where they started.

TERN_CLI_FUZZ_SEED=N replays one run (the seed is printed)."""

import json
import os
import random
import re
import subprocess
import time

from conftest import TERNCTL, TERND, Conn, config

SEED = int(os.environ.get("TERN_CLI_FUZZ_SEED", random.SystemRandom().randrange(1 << 32)))
ROUNDS = 10         # mutated argument lists per command, over the socket
CONFIG_ROUNDS = 3   # and in a config file checked with ternd -t
BUDGET = 25.0       # seconds for the socket part; the file part gets what is left

# Two ports that invent no traffic, so the pools stay still.
CFG = config("port add null0 net_null0,no-rx=1", "port add null1 net_null1,no-rx=1",
             "addr add 192.0.2.1/24 dev null0", "addr add 198.51.100.1/24 dev null1")

# A plausible value for each placeholder of the usage strings.
VALUES = {
    "PORT": "null0", "NAME": "p2", "A": "null0", "B": "null1", "N": "8", "M": "4",
    "S": "1", "SECONDS": "30", "VALUE": "5000", "LCORELIST": "1", "DEVARGS": "net_null7",
    "A.B.C.D/LEN": "192.0.2.9/32", "A.B.C.D": "192.0.2.7", "PREFIX": "203.0.113.0/24",
    "GW": "192.0.2.254", "MAC": "02:00:00:00:00:01", "ADDR": "192.0.2.9",
    "ADDR:PORT": "192.0.2.9:80", "INSIDE": "10.1.1.1", "OUTSIDE": "192.0.2.20",
    "LO-HI": "2000-3000", "ADDR-ADDR": "192.0.2.20-192.0.2.30",
    "A-B": "192.0.2.1-192.0.2.3", "P": "/x", "FILE": None, "COMMAND": "link",
}
# NAME VALUE commands: a name each knows.
SETTING = {"arp set": "reachable-ms", "tcp set": "msl-ms", "nat timeout": "udp"}


def mutations(rng):
    """One bad word: overlong, wrong type, negative, huge, bad prefix, empty,
    unicode, stray quotes and blanks."""
    return rng.choice([
        "x" * rng.choice([32, 64, 300, 5000]),
        "1" * rng.choice([20, 64, 400]),
        "192.0.2.1:" + "0" * 60 + "80",
        "abc", "on", "none", "all", "null9", "1.2.3.4", "1.2.3.4/24", "0x10", "1e3", "12x",
        "-1", "-99999999999999999999", "0", "65536", "4294967296",
        "18446744073709551615", "18446744073709551616", "99999999999999999999999",
        "1.2.3.4/33", "1.2.3.4/-1", "300.1.1.1/8", "1.2.3/24", "1.2.3.4/", "/24",
        "203.0.113.77/24", "0.0.0.0-192.0.2.9", "224.0.0.1", "255.255.255.255",
        "1.2.3.4-1.2.3.1", "1.2.3.4:99999", ":80", "1.2.3.4:",
        "", " ", "\t",
        "ünïcødé", "名前", "\U0001f600", "\u202e", "\ufeff",
        '"', 'a"b', '""', "\\", "\\\"", "'", "#comment", "a b", "%s%n%x",
    ])


def usage_args(rng, name, usage):
    """Plausible arguments from a usage string: its first alternative, each
    optional part kept or not."""
    if name == "nat del":
        usage = "snat src PREFIX out PORT [to ADDR[-ADDR]] [ports LO-HI]"  # RULE (as added)
    usage = usage.split(" | ")[0]
    while re.search(r"\[[^\[\]]*\]", usage):
        usage = re.sub(r"\[([^\[\]]*)\]", lambda m: m.group(1) if rng.random() < 0.5 else "",
                       usage, count=1)
    words = []
    for w in usage.split():
        w = w.split("|")[0].rstrip(".")
        if w == "NAME" and name in SETTING:
            w = SETTING[name]
        words.append(VALUES.get(w, w))
    return words


def quote(word):
    """The word as ternd's tokenizer reads it back (cmd_quote)."""
    if word and not word.startswith("#") and not re.search(r'[ \t"\\]', word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def names_culprit(msg, name, args):
    """Does the error name an argument or the command?"""
    if name in msg:
        return True
    for a in args:
        if "'%s'" % a in msg or (a.strip() and (a in msg or quote(a) in msg)):
            return True
    # A part of an argument in quotes: "port '0x'" of 1.2.3.4:0x, or the
    # start of a long one ("devargs 'xxx...' too long").
    return any(q.strip() and any(q in a for a in args)
               for q in re.findall(r"'([^']*?)(?:\.\.\.)?'", msg))


class Fuzz:
    def __init__(self, t, rng):
        self.t, self.rng = t, rng
        self.conn = Conn(t.sock)
        self.bad = []
        self.counts = [0, 0]  # refused, accepted

    def request(self, line):
        self.conn.send(line.encode() + b"\n")
        return self.conn.reply()

    def running(self):
        status, text = self.request("show running-config")
        assert status == 0, text
        return text

    def commands(self):
        """(name, usage) for each row of the table: the name is the longest
        run of the listed words that `help` knows."""
        status, text = self.request("-j help")
        assert status == 0
        rows = []
        for c in json.loads(text)["commands"]:
            words = c["command"].split()
            n = max(i for i in range(1, len(words) + 1)
                    if self.request("help " + " ".join(quote(w) for w in words[:i]))[0] == 0)
            rows.append((" ".join(words[:n]), " ".join(words[n:])))
        return rows

    def args_for(self, name, usage):
        args = [a if a is not None else os.path.join(self.t.dir, "fuzz.pcapng")
                for a in usage_args(self.rng, name, usage)]
        kind = self.rng.random()
        if kind < 0.1:
            pass                                                # as is
        elif not args or kind < 0.25:
            args.append(mutations(self.rng))                    # one too many
        elif kind < 0.35:
            args.pop(self.rng.randrange(len(args)))            # one too few
        else:
            for _ in range(self.rng.choice([1, 1, 2])):
                i = self.rng.randrange(len(args))
                if "fuzz.pcapng" not in args[i]:               # never a file elsewhere
                    args[i] = mutations(self.rng)
        return args

    def note(self, what):
        self.bad.append(what)

    def over_socket(self, name, usage):
        args = self.args_for(name, usage)
        before = self.running()
        r = subprocess.run([TERNCTL, "-s", self.t.sock] + name.split() + args,
                           capture_output=True, encoding="utf-8", errors="replace",
                           timeout=30)
        line = "%s %s" % (name, " ".join(quote(a) for a in args))
        assert self.t.proc.poll() is None, "ternd died on: %s" % line
        self.counts[r.returncode == 0] += 1
        if r.returncode == 0:
            # Accepted: undo what would get in the way of the next ones.
            for undo in ("capture stop", "loadgen stop", "link set null0 up",
                         "link set null1 up", "log level warning"):
                if undo.split()[0] == name.split()[0]:
                    self.request(undo)
            return
        msg = r.stderr.strip()
        if r.returncode != 1 or not msg.startswith("ternctl: "):
            self.note("%s: exit %d %r" % (line, r.returncode, msg))
            return
        if not names_culprit(msg[9:], name, args):
            self.note("%s: names nothing at fault: %s" % (line, msg))
        if self.running() != before:
            self.note("%s: refused but half-applied" % line)

    def in_config(self, name, usage, n):
        args = self.args_for(name, usage)
        cfg = os.path.join(self.t.dir, "fuzz%d.conf" % n)
        line = "%s %s" % (name, " ".join(quote(a) for a in args))
        text = config("port add null0 net_null0", "port add null1 net_null1", line)
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(text)
        r = subprocess.run([TERND, "-t", "-c", cfg], capture_output=True, encoding="utf-8",
                           errors="replace", timeout=30)
        if r.returncode == 0:
            return
        where = "%s:%d: " % (cfg, text.count("\n"))
        if r.returncode != 2 or where not in r.stderr:
            self.note("config %s: exit %d %r" % (line, r.returncode, r.stderr))
        elif not names_culprit(r.stderr.split(where, 1)[1], name, args):
            self.note("config %s: names nothing at fault: %s" % (line, r.stderr.strip()))


def test_cli_fuzz(ternd_factory):
    print("TERN_CLI_FUZZ_SEED=%d" % SEED)
    rng = random.Random(SEED)
    t = ternd_factory(CFG)
    f = Fuzz(t, rng)
    start = time.time()
    rows = f.commands()
    mbufs = t.mbufs_in_use()
    for _ in range(ROUNDS):
        for name, usage in rows:
            if name != "shutdown":
                f.over_socket(name, usage)
        if time.time() - start > BUDGET:
            break
    # The file part: every command again, the operator-only ones to be
    # refused by name.
    n = 0
    for _ in range(CONFIG_ROUNDS):
        for name, usage in rows:
            n += 1
            f.in_config(name, usage, n)
    # What the accepted ones left is still a file ternd boots from.
    running = os.path.join(t.dir, "running.conf")
    with open(running, "w", encoding="utf-8") as out:
        out.write(f.running())
    r = subprocess.run([TERND, "-t", "-c", running], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        f.note("running-config does not load back: %s" % r.stderr.strip())
    # And what it shows can be removed by the words it shows.
    undone = 0
    for line in f.running().splitlines():
        w = line.split()
        if line.startswith("nat add "):
            undo = "nat del " + line[len("nat add "):]
        elif line.startswith("route add "):
            undo = "route del " + w[2]
        else:
            continue
        status, msg = f.request(undo)
        undone += 1
        if status != 0:
            f.note("running-config has '%s' but '%s' says: %s" % (line, undo, msg))
    f.conn.close()
    print("refused %d, accepted %d, %d shown rules removed" % (*f.counts, undone))
    assert t.ctl("version")
    t.wait_mbufs(mbufs)
    assert not f.bad, "seed %d:\n%s" % (SEED, "\n".join(f.bad))
    assert t.stop() == 0
