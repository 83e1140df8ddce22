#!/usr/bin/env bash
# Host side of the VM selftests: build umigame.ko when it is missing or older
# than its sources, boot the Debian 6.1 guest with tools/vm/vm-run, run the
# test inside it and relay its KTAP output and exit status (0 pass, 1 fail,
# 4 all skipped; 124 timeout and 125 runner failure come from vm-run).
#
#   selftests/vm/run.sh [TEST]     TEST defaults to module_load.sh
#
# A test NAME.sh may come with NAME.prepare: run on the host first with a
# fresh directory (build/vmtest/NAME, which the guest sees read-only and
# finds in $UMIGAME_FIXTURES), for work that is slow under TCG, such as
# building packets with scapy.
#
#   VM_TIMEOUT=SECS   guest time limit (default 300, or what the test's
#                     "# vm-timeout: SECS" line asks for: long tests say so
#                     themselves, so a busy machine does not cut them short)
#   UMIGAME_KO=path   module to test (default: build/kmod/umigame.ko)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
test=${1:-module_load.sh}
test=${test##*/}
[ -f "$here/$test" ] || { echo "run.sh: no test selftests/vm/$test" >&2; exit 2; }

cd "$repo"
ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
if [ -z "${UMIGAME_KO:-}" ]; then
	if [ ! -f "$ko" ] || [ -n "$(find kmod -newer "$ko" -type f \
		\( -name '*.[ch]' -o -name Kbuild -o -name Makefile \) 2>/dev/null)" ]; then
		echo "run.sh: building umigame.ko (make kmod)" >&2
		make -s -C "$repo" kmod >&2
	fi
fi

fixtures=$repo/build/vmtest/${test%.sh}
if [ -x "$here/${test%.sh}.prepare" ]; then
	rm -rf "$fixtures"
	mkdir -p "$fixtures"
	"$here/${test%.sh}.prepare" "$fixtures" >&2
fi

own_timeout=$(sed -n 's/^# vm-timeout: *\([0-9][0-9]*\).*/\1/p' "$here/$test" | head -1)
exec tools/vm/vm-run --timeout "${VM_TIMEOUT:-${own_timeout:-300}}" --env "UMIGAME_KO=$ko" --ro "$ko" \
	--env "UMIGAME_FIXTURES=$fixtures" -- "selftests/vm/$test"
