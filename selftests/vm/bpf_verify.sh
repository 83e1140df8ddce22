#!/usr/bin/env bash
# Run inside the Debian 6.1 guest (selftests/vm/run.sh bpf_verify.sh): every
# XDP object must pass the 6.1 verifier, not only the host's 6.18 one.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../lib/tap.sh
source "$repo/selftests/lib/tap.sh"

objs=("$repo"/build/bpf/*.bpf.o)
tap_plan ${#objs[@]}
pins=/sys/fs/bpf/umigame-verify-$$ # bpffs refuses dots in names
mkdir -p "$pins"
trap 'rm -rf "$pins"' EXIT
for obj in "${objs[@]}"; do
	name=$(basename "$obj" .bpf.o)
	mkdir -p "$pins/$name"
	if log=$(bpftool -d prog loadall "$obj" "$pins/$name" pinmaps "$pins/$name/maps" 2>&1); then
		tap_ok "$name verifies on $(uname -r) ($(grep -o 'processed [0-9]* insns' <<<"$log" | tail -1))"
	else
		tap_fail "$name verifies on $(uname -r)" "$(grep -vE '^libbpf: (map|elf|sec|CO-RE)' <<<"$log" | tail -25)"
	fi
done
tap_finish
