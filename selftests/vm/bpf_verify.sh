#!/usr/bin/env bash
# Run inside the Debian 6.1 guest (selftests/vm/run.sh bpf_verify.sh): every
# XDP object must pass the 6.1 verifier, not only the host's 6.18 one.
#
# Each object loads in a private mount namespace on a fresh bpffs, so maps
# pinned by name land there and vanish with it, whatever the machine already
# has pinned. No `bpftool -d`: printing the log of a large verification under
# TCG takes minutes; only its tail is reported on failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../lib/tap.sh
source "$repo/selftests/lib/tap.sh"

objs=("$repo"/build/bpf/*.bpf.o)
tap_plan ${#objs[@]}
for obj in "${objs[@]}"; do
	name=$(basename "$obj" .bpf.o)
	start=$(date +%s)
	if log=$(unshare --mount sh -c 'mount -t bpf bpf /sys/fs/bpf &&
			exec bpftool prog loadall "$1" /sys/fs/bpf/progs' sh "$obj" 2>&1); then
		tap_ok "$name verifies on $(uname -r) ($(($(date +%s) - start)) s)"
	else
		tap_fail "$name verifies on $(uname -r)" \
			"$(grep -vE '^[0-9]+: \(|^; |^libbpf: (map|elf|sec|CO-RE)' <<<"$log" | tail -25)"
	fi
done
tap_finish
