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
    assert "3 received" in r.stdout and "demo: OK" in r.stdout
    # Both ports moved the pings; namespaces and veths are gone afterwards.
    assert "name: lan" in r.stdout and "name: wan" in r.stdout
    assert "tern-a" not in subprocess.run(["ip", "netns"], capture_output=True,
                                          text=True).stdout
