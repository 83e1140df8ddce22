#!/usr/bin/env bash
# Build every libFuzzer target with clang (ASan + UBSan) and run each for a
# short, fixed time. `make check` runs this; longer runs: FUZZ_SECONDS=600;
# some targets only: run.sh dhcp6_message ra_solicit.
# Prints one TAP point per target.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
seconds=${FUZZ_SECONDS:-20}
mkdir -p "$out"
# shellcheck source=../../selftests/lib/tap.sh
source "$top/selftests/lib/tap.sh"

flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$top/userspace/core/include" -I"$top/include" -I"$top/tools/umigame")
core=("$top/userspace/core/src/config.cpp" "$top/userspace/core/src/net.cpp")
# The same toml++ and libmnl builds the CLI links (Debian's shared libraries).
toml_libs=$(pkg-config --cflags --libs tomlplusplus)
mnl_libs=$(pkg-config --cflags --libs libmnl)

# Each target T is tools/fuzz/T_fuzz.cpp with tools/umigame/T.cpp, unless
# `sources` names its own (paths from the top, globs allowed); `extra` adds
# compiler and linker flags for a target.
declare -A sources=(
	[dhcp6_message]="userspace/dhcp6/src/*.cpp"
	[ra_solicit]="userspace/dhcp6d/src/ra_message.cpp userspace/dhcp6/src/*.cpp"
	[dhcp6_server]="userspace/dhcp6/src/*.cpp userspace/dhcp6d/src/server_engine.cpp userspace/dhcp6d/src/lease_store.cpp userspace/dhcp6d/src/retransmit.cpp userspace/core/src/log.cpp"
	[sa_netlink]="userspace/ipsec/src/sa_netlink.cpp"
	[pim_netlink]="userspace/ipsec/src/pim_netlink.cpp userspace/ipsec/src/sa_netlink.cpp"
	[xfrm_event]="userspace/ipsec/src/xfrm.cpp userspace/ipsec/src/sa_netlink.cpp userspace/core/src/event_loop.cpp userspace/core/src/log.cpp"
	[ike_message]="userspace/ike/src/*.cpp"
	[mld_message]="userspace/mld/src/*.cpp"
	[isatap_link]="tools/umigame/isatap_link.cpp userspace/core/src/rtnetlink.cpp userspace/core/src/event_loop.cpp userspace/core/src/log.cpp"
	[ike_engine]="userspace/iked/src/config.cpp userspace/iked/src/proposal.cpp userspace/iked/src/selectors.cpp userspace/iked/src/credentials.cpp userspace/iked/src/engine.cpp userspace/iked/src/ike_sa.cpp userspace/ike/src/*.cpp userspace/ikecrypto/src/*.cpp userspace/core/src/event_loop.cpp userspace/core/src/log.cpp"
)
declare -A extra=(
	[dhcp6_message]="-I$top/userspace/dhcp6/include $(pkg-config --cflags --libs libcrypto)"
	[ra_solicit]="-I$top/userspace/dhcp6d/include -I$top/userspace/dhcp6/include $(pkg-config --cflags --libs libcrypto)"
	[dhcp6_server]="-I$top/userspace/dhcp6d/include -I$top/userspace/dhcp6/include $(pkg-config --cflags --libs libcrypto zlib)"
	[sa_netlink]="-I$top/userspace/ipsec/include"
	[pim_netlink]="-I$top/userspace/ipsec/include"
	[xfrm_event]="-I$top/userspace/ipsec/include"
	[ike_message]="-I$top/userspace/ike/include"
	[mld_message]="-I$top/userspace/mld/include"
	[isatap_link]="-I$top/tools/umigame -I$top/include"
	[ike_engine]="-I$top/userspace/iked/include -I$top/userspace/ike/include -I$top/userspace/ikecrypto/include $(pkg-config --cflags --libs libcrypto)"
)
targets=(raguard_policy classify_rules sa_netlink pim_netlink dhcp6_message ra_solicit dhcp6_server xfrm_event ike_message ike_engine mld_message isatap_link)
# `run.sh dhcp6_message ...` runs only the targets named.
[ $# -eq 0 ] || targets=("$@")
tap_plan ${#targets[@]}
for t in "${targets[@]}"; do
	bin=$out/${t}_fuzz
	read -ra patterns <<<"${sources[$t]:-tools/umigame/$t.cpp}"
	srcs=()
	for pattern in "${patterns[@]}"; do
		# shellcheck disable=SC2206 # the glob is meant to expand
		srcs+=("$top"/$pattern)
	done
	# shellcheck disable=SC2086
	if ! clang++ "${flags[@]}" "$top/tools/fuzz/${t}_fuzz.cpp" \
		"${srcs[@]}" "${core[@]}" $toml_libs $mnl_libs ${extra[$t]:-} -o "$bin" 2>"$out/$t.build.log"; then
		tap_fail "fuzz $t builds" "$(tail -20 "$out/$t.build.log")"
		continue
	fi
	corpus=$out/corpus-$t
	mkdir -p "$corpus"
	cp -n "$top/tools/fuzz/corpus/$t"/* "$corpus/" 2>/dev/null || true
	if "$bin" -print_final_stats=1 -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
		"$corpus" >"$out/$t.log" 2>&1; then
		tap_ok "fuzz $t ($seconds s, $(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/$t.log" | awk '{print $2}') runs)"
	else
		tap_fail "fuzz $t" "$(grep -A15 -E 'ERROR|SUMMARY|crash' "$out/$t.log" | head -30)"
	fi
done
tap_finish
