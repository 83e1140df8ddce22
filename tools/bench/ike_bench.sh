#!/usr/bin/env bash
# ike_bench.sh — IKEv2 responder throughput: full setups per second
# (IKE_SA_INIT, IKE_AUTH with PSK and the first CHILD_SA into xfrm, then
# an INFORMATIONAL Delete: RFC 7296 §1.2, §1.4.1), umigame-iked against
# strongSwan's charon-systemd as the baseline, same load generator
# (umigame-ike-load), same guest, same run. Also the CHILD_SA install
# latency inside umigame-iked under that load, next to the same kernel
# calls made by a bare loop (xfrm_install_bench) in the same guest.
#
# Runs itself in the 6.1 guest (tools/vm/vm-run): the host kernel has no
# ESP.
#
#   ns load (umigame-ike-load, CPU 0)
#   l0 192.0.2.2/24 ------ veth ------ u0 192.0.2.1/24     ns umi (umigame-iked, CPU 1)
#   l1 198.51.100.2/24 --- veth ------ s0 198.51.100.1/24  ns sw  (charon-systemd, CPU 1)
#
# Both responders run the whole time, pinned with taskset to the same
# single CPU (the same CPU budget; charon's worker threads share it), and
# are loaded in turn, alternating which goes first each round; an idle one
# costs the other nothing measurable. Same PSK, proposals
# (aes128gcm16-prfsha256-ecp256, ESP aes128gcm16-esn) and selectors
# (10.0.0.0/9 <-> 10.128.0.0/9, narrowed to a /32 pair per setup). Both are
# told not to defend themselves against the load: no cookies (ours
# cookie_threshold = 0; charon dos_protection = no and thresholds out of
# reach, else its per-IP half-open limit of 5 refuses most of the window)
# and charon keeps several IKE SAs per identity (unique = never); the
# generator sends no INITIAL_CONTACT. Logging: ours at its default level,
# charon's file log at level 0.
#
# Responder CPU per setup: utime + stime of the daemon (all threads,
# /proc/PID/stat) over the round, divided by the setups of that round.
#
# Environment: IKE_BENCH_ROUNDS (default 3), IKE_BENCH_SETUPS (per round,
# 300), IKE_BENCH_WINDOW (32), IKE_BENCH_WARMUP (40 setups per daemon).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${UMIGAME_VM:-0}" != 1 ]; then
	env=()
	for v in IKE_BENCH_ROUNDS IKE_BENCH_SETUPS IKE_BENCH_WINDOW IKE_BENCH_WARMUP; do
		[ -n "${!v:-}" ] && env+=(--env "$v=${!v}")
	done
	exec "$top/tools/vm/vm-run" --timeout "${IKE_BENCH_TIMEOUT:-480}" "${env[@]}" -- "$top/tools/bench/ike_bench.sh"
fi

# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$top/selftests/lib/netns.sh"

rounds=${IKE_BENCH_ROUNDS:-3}
setups=${IKE_BENCH_SETUPS:-300}
window=${IKE_BENCH_WINDOW:-32}
warmup=${IKE_BENCH_WARMUP:-40}
build=$top/build/release
load=$build/tools/loadgen/umigame-ike-load
iked_bin=$build/userspace/iked/umigame-iked
cli=$build/tools/umigame/umigame
baseline=$build/tools/bench/xfrm_install_bench
psk="umigame bench secret, long enough"
for f in "$load" "$iked_bin" "$cli" "$baseline"; do
	[ -x "$f" ] || umi_die "missing $f (cmake --build build/release --target umigame-ike-load umigame-iked umigame xfrm_install_bench)"
done
command -v charon-systemd >/dev/null || umi_die "charon-systemd not installed"
for m in esp4 xfrm_user; do modprobe -q "$m" 2>/dev/null; done

ns_create load >/dev/null
ns_create umi >/dev/null
ns_create sw >/dev/null
veth_pair load l0 umi u0
veth_pair load l1 sw s0
ns_exec load ip addr add 192.0.2.2/24 dev l0
ns_exec umi ip addr add 192.0.2.1/24 dev u0
ns_exec load ip addr add 198.51.100.2/24 dev l1
ns_exec sw ip addr add 198.51.100.1/24 dev s0

# The first ESP SA after boot loads the GCM modules (seconds under TCG):
# pay for it here, outside every measurement.
ns_exec umi ip xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x100 mode tunnel \
	aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
ns_exec umi ip xfrm state flush

sock=$(umi_tmp iked.sock)
conf=$(umi_tmp iked.toml)
cat >"$conf" <<EOF
[daemon]
control_socket = "$sock"
cookie_threshold = 0

[[connection]]
name = "bench"
local_addr = "192.0.2.1"
local_id = "fqdn:responder.example"
psk = "$psk"
ike_proposals = ["aes128gcm16-prfsha256-ecp256"]
dpd_delay = 0
[[connection.child]]
name = "t"
local_ts = ["10.0.0.0/9"]
remote_ts = ["10.128.0.0/9"]
esp_proposals = ["aes128gcm16-esn"]
EOF
bg_start umi iked taskset -c 1 "$iked_bin" -c "$conf"
wait_for 20 "umigame-iked's control socket" test -S "$sock" || umi_die "umigame-iked did not start: $(tail -5 "$(bg_log iked)")"

swdir=$(umi_tmp sw)
mkdir -p "$swdir"
cat >"$swdir/strongswan.conf" <<EOF
charon-systemd {
  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey kdf kernel-netlink socket-default vici
  install_routes = no
  dos_protection = no
  cookie_threshold = 1000000
  cookie_threshold_ip = 1000000
  block_threshold = 1000000
  ikesa_table_size = 256
  ikesa_table_segments = 16
  plugins {
    vici { socket = unix://$swdir/charon.vici }
  }
  journal { default = -1 }
  filelog {
    charon {
      path = $swdir/charon.log
      default = 0
    }
  }
}
EOF
cat >"$swdir/swanctl.conf" <<EOF
connections {
  bench {
    local_addrs = 198.51.100.1
    proposals = aes128gcm16-prfsha256-ecp256
    unique = never
    local { auth = psk
      id = responder.example }
    remote { auth = psk }
    children {
      t { local_ts = 10.0.0.0/9
        remote_ts = 10.128.0.0/9
        esp_proposals = aes128gcm16-esn }
    }
  }
}
secrets {
  ike-bench { secret = "$psk" }
}
EOF
STRONGSWAN_CONF=$swdir/strongswan.conf bg_start sw charon taskset -c 1 /usr/sbin/charon-systemd
wait_for 20 "charon's vici socket" test -S "$swdir/charon.vici" || umi_die "charon did not start"
swanctl --load-all --file "$swdir/swanctl.conf" --uri "unix://$swdir/charon.vici" >/dev/null 2>&1 ||
	umi_die "swanctl --load-all failed"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# drive WHO SEED N: one load run; "<setups/s> <CPU ms per setup> <failed>"
drive() {
	local who=$1 seed=$2 n=$3 addr pid c0 c1 out
	if [ "$who" = ours ]; then addr=192.0.2.1 pid=${BG_PID[iked]}; else addr=198.51.100.1 pid=${BG_PID[charon]}; fi
	c0=$(cpu_ticks "$pid")
	out=$(ns_exec load taskset -c 0 "$load" -s "$addr" --psk "$psk" -n "$n" -w "$window" --seed "$seed" \
		--timeout-ms 2000 --json)
	c1=$(cpu_ticks "$pid")
	[ -n "$out" ] || { echo "0 0 $n"; return; }
	echo "$out" >>"$(umi_tmp "load-$who.json")"
	jq -r --argjson c $((c1 - c0)) --argjson hz "$hz" \
		'"\(.setups_per_second) \(if .setups > 0 then $c / $hz * 1000 / .setups else 0 end) \(.failed + .unfinished)"' <<<"$out"
}

for who in ours charon; do
	read -r _ _ f <<<"$(drive "$who" 999 "$warmup")"
	[ "${f:-1}" = 0 ] || echo "# warm-up against $who: $f setups failed" >&2
done

declare -a our_rate=() sw_rate=() our_cpu=() sw_cpu=()
fails=0
for ((r = 1; r <= rounds; r++)); do
	if ((r % 2)); then order="ours charon"; else order="charon ours"; fi
	for who in $order; do
		read -r rate cpu f <<<"$(drive "$who" "$r" "$setups")"
		fails=$((fails + f))
		if [ "$who" = ours ]; then our_rate+=("$rate") our_cpu+=("$cpu"); else sw_rate+=("$rate") sw_cpu+=("$cpu"); fi
	done
done

show=$(ns_nsenter umi "$cli" ike show --json --socket "$sock" 2>/dev/null)
base=$(ns_exec umi taskset -c 1 "$baseline" 500)

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
our_med=$(median "${our_rate[@]}")
sw_med=$(median "${sw_rate[@]}")
our_c=$(median "${our_cpu[@]}")
sw_c=$(median "${sw_cpu[@]}")
ratio=$(awk -v a="$our_med" -v b="$sw_med" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
cratio=$(awk -v a="$our_c" -v b="$sw_c" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }')
verdict=$(awk -v r="$ratio" 'BEGIN { print (r + 0 >= 2.0) ? "met" : "missed" }')
f1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
f2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }

printf '%d setups per round, %d in flight, %d rounds, one guest CPU per responder (setups/s per round: charon %s; ours %s; failed setups: %d)\n' \
	"$setups" "$window" "$rounds" "$(printf '%.1f ' "${sw_rate[@]}")" "$(printf '%.1f ' "${our_rate[@]}")" "$fails"
printf '| %-36s | %14s | %14s | %7s | %-12s |\n' "IKE SA + CHILD_SA setup" "charon" "umigame-iked" "ratio" "target"
printf '| %-36s | %14s | %14s | %7s | %-12s |\n' "setups/s (median)" "$(f1 "$sw_med")" "$(f1 "$our_med")" "${ratio}x" ">= 2x, $verdict"
printf '| %-36s | %14s | %14s | %7s | %-12s |\n' "responder CPU ms per setup (median)" "$(f2 "$sw_c")" "$(f2 "$our_c")" "${cratio}x" ""
echo
printf '| %-36s | %14s | %14s | %7s |\n' "CHILD_SA install (xfrm)" "p50 us" "p99 us" "samples"
printf '| %-36s | %14s | %14s | %7s |\n' "umigame-iked, under the load above" \
	"$(jq -r '.child_install.p50_us' <<<"$show")" "$(jq -r '.child_install.p99_us' <<<"$show")" \
	"$(jq -r '.child_install.samples' <<<"$show")"
printf '| %-36s | %14s | %14s | %7s |\n' "bare libumigame-ipsec loop, idle" \
	"$(jq -r '.p50_us' <<<"$base")" "$(jq -r '.p99_us' <<<"$base")" "$(jq -r '.samples' <<<"$base")"
