# shellcheck shell=bash
# KTAP output for shell selftests, as kselftest's ktap_helpers.sh prints it.
# A test script sources this, calls tap_plan N, then one of tap_ok/tap_fail/
# tap_skip per test point, and ends with tap_finish (exit status: 0 when
# nothing failed, 1 otherwise; 4 = skip when every point was skipped).

TAP_COUNT=0
TAP_PASSED=0
TAP_FAILED=0
TAP_SKIPPED=0

tap_plan() {
	echo "TAP version 13"
	echo "1..$1"
}

tap_diag() {
	local line
	while IFS= read -r line; do echo "# $line"; done <<<"$*"
}

tap_ok() {
	TAP_COUNT=$((TAP_COUNT + 1)); TAP_PASSED=$((TAP_PASSED + 1))
	echo "ok $TAP_COUNT $1"
}

tap_fail() {
	TAP_COUNT=$((TAP_COUNT + 1)); TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_COUNT $1"
	[ $# -gt 1 ] && tap_diag "$2"
	return 0
}

tap_skip() {
	TAP_COUNT=$((TAP_COUNT + 1)); TAP_SKIPPED=$((TAP_SKIPPED + 1))
	echo "ok $TAP_COUNT $1 # SKIP ${2:-no reason given}"
}

# tap_check NAME CMD...: one test point from a command's exit status; the
# command's output is shown as diagnostics only when it fails.
tap_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_ok "$name"
	else
		tap_fail "$name" "$out"
	fi
}

tap_finish() {
	echo "# totals: pass:$TAP_PASSED fail:$TAP_FAILED skip:$TAP_SKIPPED"
	[ "$TAP_FAILED" -eq 0 ] || exit 1
	[ "$TAP_PASSED" -eq 0 ] && [ "$TAP_SKIPPED" -gt 0 ] && exit 4
	exit 0
}
