#!/usr/bin/env bash
# The test command: installs what is missing, builds with -Werror, runs the
# unit tests (cmocka, through meson test) and the integration tests (pytest
# with scapy and Linux peers in network namespaces), and ends with one line
# "N passed, N failed".
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k xconnect
set -u
. "$(dirname "$0")/lib.sh"
tern_need_root
tern_install_deps "${TERN_DEPS[@]}"
tern_build true || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
tern_hugepages 512

passed=0
failed=0
log=$(mktemp -d /tmp/tern-test.XXXXXX)

echo "== unit tests (meson test)"
meson test -C "$TERN_BUILD" --suite unit --print-errorlogs >"$log/unit.txt" 2>&1
cat "$log/unit.txt" | grep -E '^ *[0-9]+/[0-9]+ |^Ok:|^Fail:' || cat "$log/unit.txt"
# Count cmocka cases, not binaries: each prints "[  PASSED  ] N test(s)."
u_pass=$(grep -hoE '\[  PASSED  \] [0-9]+' "$TERN_BUILD"/meson-logs/testlog.txt | awk '{s+=$NF} END {print s+0}')
u_fail=$(grep -hoE '\[  FAILED  \] [0-9]+' "$TERN_BUILD"/meson-logs/testlog.txt | awk '{s+=$NF} END {print s+0}')
u_bin_fail=$(grep -hoE '^Fail: +[0-9]+' "$log/unit.txt" | awk '{print $2}')
if [ "${u_bin_fail:-0}" -gt 0 ] && [ "$u_fail" -eq 0 ]; then
	u_fail=$u_bin_fail # a binary crashed before printing its summary
fi
passed=$((passed + u_pass))
failed=$((failed + u_fail))

echo "== format (clang-format, .clang-format)"
if command -v clang-format >/dev/null; then
	bad=$(cd "$TERN_TOP" && for f in $(git ls-files '*.c' '*.h' 2>/dev/null); do
		clang-format "$f" | cmp -s - "$f" || echo "$f"; done)
	if [ -z "$bad" ]; then
		echo "format: ok"
		passed=$((passed + 1))
	else
		echo "format: not clang-formatted: $bad"
		failed=$((failed + 1))
	fi
fi

echo "== integration tests (pytest)"
cd "$TERN_TOP/tests/integration" || exit 1
/usr/bin/python3 -m pytest -p no:cacheprovider -q -rfE --junitxml="$log/pytest.xml" "$@" 2>&1 |
	tee "$log/pytest.txt" | grep -vE '^\s*$'
if [ -f "$log/pytest.xml" ]; then
	read -r p_tests p_fail p_err p_skip < <(/usr/bin/python3 - "$log/pytest.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
print(s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped"))
PY
)
	passed=$((passed + p_tests - p_fail - p_err - p_skip))
	failed=$((failed + p_fail + p_err))
else
	failed=$((failed + 1))
fi
rm -rf "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
