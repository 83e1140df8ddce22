#!/usr/bin/env bash
# Run every test tier after `make all userspace-asan`, then print the
# project's closing line: "N passed, N failed[, N skipped]".
#
#   1. unit      GoogleTest via CTest, ASan/UBSan build
#   2. bpf       BPF_PROG_TEST_RUN tests on the host kernel, same build
#   3. fuzz      libFuzzer targets, a short fixed time each
#   4. netns     host network-namespace scenarios (KTAP)
#   5. vm        tests inside the Debian 6.1 guest (KTAP)
#
# UMIGAME_CHECK_TIERS="unit bpf" runs a subset.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
tiers=${UMIGAME_CHECK_TIERS:-unit bpf fuzz netns vm}
logdir=$top/build/check
rm -rf "$logdir"
mkdir -p "$logdir"

passed=0 failed=0 skipped=0
declare -a skip_reasons=() failures=()

# CTest: count its per-case results from the JUnit report.
run_ctest() {
	local label=$1 junit=$logdir/$1.xml
	echo "== $label tests (ctest -L $label, ASan/UBSan build)"
	(cd build/asan && ctest -L "$label" --output-on-failure --timeout 300 \
		--output-junit "$junit") 2>&1 | tee "$logdir/$label.log" | grep -E '^\s*[0-9]+/[0-9]+ Test|tests passed|FAILED|Failure' || true
	if [ ! -s "$junit" ]; then
		echo "   no results from ctest -L $label"
		failed=$((failed + 1))
		return
	fi
	local total fail skip
	# The <testsuite> element's attributes span several lines.
	suite_attr() { tr '\n' ' ' <"$junit" | grep -o '<testsuite [^>]*' | grep -o "[[:space:]]$1=\"[0-9]*\"" | grep -o '[0-9]*'; }
	total=$(suite_attr tests)
	fail=$(suite_attr failures)
	skip=$(suite_attr skipped)
	passed=$((passed + total - fail - ${skip:-0}))
	failed=$((failed + fail))
	skipped=$((skipped + ${skip:-0}))
	while IFS= read -r t; do
		failures+=("$label: $t")
	done < <(grep -E '^\s*[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess|Exception)' "$logdir/$label.log" | sed 's/^\s*[0-9]* - //')
	[ "${skip:-0}" -gt 0 ] && skip_reasons+=("$label: $skip skipped (see $logdir/$label.log)")
}

# KTAP: count "ok"/"not ok" lines; "# SKIP reason" is a skip with its reason.
run_tap() {
	local name=$1 log=$logdir/$1.tap
	shift
	echo "== $name ($*)"
	"$@" >"$log" 2>&1
	local rc=$?
	grep -E '^(not )?ok |^# (totals|SKIP)|^#   ' "$log" || true
	local p f s
	p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log" | tr -d ' ')
	f=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
	p=$((p - s))
	if [ "$((p + f + s))" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] && [ "$f" -eq 0 ]; }; then
		echo "   $name exited $rc without a failing test point: counted as a failure"
		tail -20 "$log" | sed 's/^/   | /'
		f=$((f + 1))
		failures+=("$name: exited $rc without a failing test point")
	fi
	# Each failure keeps the first lines of its diagnostics: a CI report
	# may show nothing but these closing lines.
	while IFS= read -r -d '' entry; do
		failures+=("$name: $entry")
	done < <(awk '/^not ok [0-9]+/ { if (n) printf "%s%c", e, 0; e = $0; n = 1; d = 0; next }
		n && /^#/ && d < 8 { e = e "\n    " substr($0, 1, 200); d++; next }
		n && !/^#/ { printf "%s%c", e, 0; n = 0 }
		END { if (n) printf "%s%c", e, 0 }' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	while IFS= read -r line; do
		skip_reasons+=("$name: ${line#*# SKIP }")
	done < <(grep -E '^ok [0-9]+ .*# SKIP' "$log")
}

start=$SECONDS
for tier in $tiers; do
	case $tier in
	unit) run_ctest unit ;;
	bpf) run_ctest bpf ;;
	fuzz) run_tap fuzz tools/fuzz/run.sh ;;
	netns)
		for t in selftests/*/*_netns.sh; do
			# selftests/vm holds guest tests only, whatever their name.
			[ "${t%/*}" = selftests/vm ] && continue
			[ -e "$t" ] && run_tap "netns $(basename "$t" .sh)" "$t"
		done
		;;
	vm)
		for t in selftests/vm/*.sh; do
			[ "$(basename "$t")" = run.sh ] && continue
			# A test known to be flaky says "# make-check: skip REASON" near
			# its top: it is not run, and the skip and its reason are printed.
			why=$(sed -n 's/^# make-check: skip //p' "$t" | head -1)
			if [ -n "$why" ]; then
				echo "== vm $(basename "$t" .sh): skipped, $why"
				skipped=$((skipped + 1))
				skip_reasons+=("vm $(basename "$t" .sh): $why")
				continue
			fi
			run_tap "vm $(basename "$t" .sh)" selftests/vm/run.sh "$(basename "$t")"
		done
		;;
	*) echo "unknown tier '$tier'"; failed=$((failed + 1)) ;;
	esac
done

echo
echo "make check: $((SECONDS - start)) s, logs in $logdir"
# The closing lines are what a CI report keeps: name every failure there.
for r in "${failures[@]}"; do
	echo "failed: $r"
done
for r in "${skip_reasons[@]}"; do
	echo "skipped: $r"
done
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line+=", $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
