# SPDX-License-Identifier: BSD-3-Clause
"""The README's main command works as written (in its non-interactive form)."""

import os
import subprocess

from conftest import TOP


def test_demo_check(tmpdir_tern):
    env = dict(os.environ, TERN_SOCKET=os.path.join(tmpdir_tern, "demo.sock"))
    r = subprocess.run([os.path.join(TOP, "scripts", "demo.sh"), "--check"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 received" in r.stdout and "3 received" in r.stdout and "demo: OK" in r.stdout
    # ternd is hop 1 of the trace, tern-b hop 2; both hosts are neighbours.
    assert " 1  10.99.1.1 " in r.stdout and " 2  10.99.2.2 " in r.stdout
    assert "address: 10.99.1.2" in r.stdout and "address: 10.99.2.2" in r.stdout
    # Namespaces and veths are gone afterwards.
    assert "tern-a" not in subprocess.run(["ip", "netns"], capture_output=True,
                                          text=True).stdout
