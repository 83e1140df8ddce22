#!/usr/bin/env bash
# Host side of the VM selftests: build umigame.ko when it is missing or older
# than its sources, boot the Debian 6.1 guest with tools/vm/vm-run, run the
# test inside it and relay its KTAP output and exit status (0 pass, 1 fail,
# 4 all skipped; 124 timeout and 125 runner failure come from vm-run).
#
#   selftests/vm/run.sh [TEST]     TEST defaults to module_load.sh
#
#   VM_TIMEOUT=SECS   guest time limit (default 300)
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

exec tools/vm/vm-run --timeout "${VM_TIMEOUT:-300}" --env "UMIGAME_KO=$ko" --ro "$ko" \
	-- "selftests/vm/$test"
