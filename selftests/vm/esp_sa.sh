#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh esp_sa.sh): the ESP
# SA table of umigame.ko through `umigame sa`. Adds AES-GCM-128, AES-GCM-256,
# AES-CBC + HMAC-SHA-256 and the same with ESN (authencesn); lists them as
# JSON with the right fields and no key material; refuses bad input with the
# module's own message and adds nothing; refuses a caller without
# CAP_NET_ADMIN; deletes and flushes; unloads with SAs present and leaves no
# warning in the kernel log. Also: the kfuncs are in the module's BTF, the
# tracepoints exist. (Decrypting packets is esp_frames.sh's and esp_xfrm.sh's.)
#
#   UMIGAME_KO=path    the module (default: build/kmod/umigame.ko)
#   UMIGAME_CLI=path   the umigame binary (default: build/release/tools/umigame/umigame)
#
# The guest is slow at exec'ing over 9p: few external commands, checks in bash.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/tap.sh
. "$repo/selftests/lib/tap.sh"
# shellcheck source=../lib/kmsg.sh
. "$repo/selftests/lib/kmsg.sh"

ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
cli=${UMIGAME_CLI:-$repo/build/release/tools/umigame/umigame}
mod=umigame
plan=22

tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ]; then
	for _ in $(seq $plan); do
		tap_skip "esp_sa" "needs root and a kernel with module support (run selftests/vm/run.sh)"
	done
	tap_finish
fi
if [ ! -x "$cli" ]; then
	for _ in $(seq $plan); do
		tap_skip "esp_sa" "no $cli: build the CLI (make userspace) or set UMIGAME_CLI"
	done
	tap_finish
fi

# Keys as `ip xfrm` takes them. Each must never show up in any output.
k_gcm128=00112233445566778899aabbccddeeffcafebabe
k_gcm256=0f1e2d3c4b5a69788796a5b4c3d2e1f0f0e1d2c3b4a5968778695a4b3c2d1e0fdeadbeef
k_cbc=8899aabbccddeeff0011223344556677
k_hmac=a1a2a3a4a5a6a7a8b1b2b3b4b5b6b7b8c1c2c3c4c5c6c7c8d1d2d3d4d5d6d7d8
k_cbc2=7766554433221100ffeeddccbbaa99887766554433221100ffeeddccbbaa9988
keys=("$k_gcm128" "$k_gcm256" "$k_cbc" "$k_hmac" "$k_cbc2")
gcm='rfc4106(gcm(aes))'

# no_keys TEXT: the name of the first key (or 8-digit piece of one) in TEXT.
no_keys() {
	local k i
	for k in "${keys[@]}"; do
		for ((i = 0; i + 8 <= ${#k}; i += 8)); do
			[[ ${1,,} == *"${k:i:8}"* ]] && { echo "${k:i:8} (of $k)"; return 1; }
		done
	done
	return 0
}

# refused NAME WANT CMD...: CMD fails and says WANT.
refused() {
	local name=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		tap_fail "$name" "it was accepted: $out"
	elif [[ $out == *"$want"* ]]; then
		tap_ok "$name"
	else
		tap_fail "$name" "want '$want' in: $out"
	fi
}

if [ -d /sys/module/$mod ]; then
	tap_diag "$mod was already loaded; unloading it first"
	rmmod $mod || true
fi
kmsg_mark esp_sa

# 1: load
if out=$(insmod "$ko" 2>&1); then
	tap_ok "insmod ${ko##*/}"
else
	tap_fail "insmod ${ko##*/}" "$out"
	for _ in $(seq $((plan - 1))); do tap_skip "esp_sa" "insmod failed"; done
	tap_finish
fi

# 2: the kfuncs are in the module's BTF (6.1 registers nothing without it)
btf=$(bpftool btf dump file /sys/kernel/btf/$mod 2>&1)
if [[ $btf == *"FUNC 'umigame_esp_decrypt'"* && $btf == *"FUNC 'umigame_esp_note_replay'"* ]]; then
	tap_ok "kfuncs umigame_esp_decrypt and umigame_esp_note_replay in /sys/kernel/btf/$mod"
else
	tap_fail "kfuncs in /sys/kernel/btf/$mod" "${btf:0:400}"
fi

# 3: the tracepoints
missing=
for ev in esp_decrypt_ok esp_auth_fail esp_unknown_sa esp_replay; do
	[ -d /sys/kernel/tracing/events/umigame/$ev ] || missing+=" $ev"
done
if [ -z "$missing" ]; then
	tap_ok "tracepoints umigame:{esp_decrypt_ok,esp_auth_fail,esp_unknown_sa,esp_replay}"
else
	tap_fail "tracepoints" "missing under /sys/kernel/tracing/events/umigame:$missing"
fi

# 4-7: add one SA per suite; each prints its id and nothing else
declare -a ids=()
add() { # NAME ARGS...
	local name=$1 out
	shift
	if out=$("$cli" sa add "$@" 2>&1) && [[ $out =~ ^[0-9]+$ ]]; then
		ids+=("$out")
		tap_ok "sa add $name (id $out)"
	else
		ids+=(0)
		tap_fail "sa add $name" "$out"
	fi
}
add "AES-GCM-128, IPv6 tunnel, ESN" src 2001:db8::1 dst 2001:db8::2 spi 0x1000 mode tunnel \
	aead "$gcm" 0x$k_gcm128 128 replay-window 64 flag esn replay-seq 0xffffff00 replay-seq-hi 1
add "AES-GCM-256, IPv4, ESP-in-UDP, 96-bit ICV" src 192.0.2.1 dst 192.0.2.2 spi 4097 \
	encap-port 4500 aead "$gcm" 0x$k_gcm256 96 replay-window 1024
add "AES-CBC-128 + HMAC-SHA-256, IPv4 transport, hard limits" src 192.0.2.1 dst 192.0.2.2 \
	spi 0x1002 enc 'cbc(aes)' 0x$k_cbc auth 'hmac(sha256)' 0x$k_hmac \
	limit byte-hard 1000000 limit packet-hard 1000
add "AES-CBC-256 + HMAC-SHA-256 with ESN (authencesn)" src 2001:db8::1 dst 2001:db8::2 \
	spi 0x1003 mode tunnel enc 'cbc(aes)' 0x$k_cbc2 auth-trunc 'hmac(sha256)' 0x$k_hmac 128 \
	replay-window 65536 flag esn

# 8-12: refusals, each with the module's (or the CLI's) reason
refused "a 17-byte AES-GCM key is refused by the module, naming the attribute" \
	"AES-GCM key must be 20, 28 or 36 bytes: a 128, 192 or 256-bit AES key and the 4-byte salt [attribute ENC_KEY]" \
	"$cli" sa add src ::1 dst ::2 spi 0x2000 aead "$gcm" 0x${k_gcm128:0:34} 128
refused "a 20-byte HMAC-SHA-256 key is refused" "HMAC-SHA-256 key must be 32 bytes (RFC 4868)" \
	"$cli" sa add src ::1 dst ::2 spi 0x2001 enc 'cbc(aes)' 0x$k_cbc auth 'hmac(sha256)' 0x$k_gcm128
refused "replay window 100 is refused" \
	"replay window must be 0 (off) or a power of two from 64 to 65536" \
	"$cli" sa add src ::1 dst ::2 spi 0x2002 aead "$gcm" 0x$k_gcm128 128 replay-window 100
refused "ESN without a replay window is refused" "ESN needs a replay window" \
	"$cli" sa add src ::1 dst ::2 spi 0x2003 aead "$gcm" 0x$k_gcm128 128 flag esn
refused "a second SA with the same SPI, destination and port is refused" \
	"an SA with this SPI, destination and encap port exists" \
	"$cli" sa add src 192.0.2.9 dst 192.0.2.2 spi 4097 encap-port 4500 aead "$gcm" 0x$k_gcm128 128

# 13-14: what show --json says: the four SAs (the refusals added nothing),
# every field right, and no key anywhere, also not in the text output
json=$("$cli" sa show --json 2>&1)
text=$("$cli" sa show 2>&1)
got=$(jq -r '.sas[] | [.spi_hex, .family, .src, .dst, .mode, .encap_port, .suite,
	(.aead // (.enc + "+" + .auth)), .key_bits, .icv_bits, .iv_len, .replay_window,
	(.flags | join(",")), .replay_start, .limits.byte_hard, .limits.packet_hard,
	.counters.packets, .expired] | map(tostring) | join(" ")' <<<"$json" 2>&1)
want="0x00001000 inet6 2001:db8::1 2001:db8::2 tunnel 0 aes-gcm rfc4106(gcm(aes)) 128 128 8 64 esn 8589934336 0 0 0 false
0x00001001 inet 192.0.2.1 192.0.2.2 transport 4500 aes-gcm rfc4106(gcm(aes)) 256 96 8 1024  0 0 0 0 false
0x00001002 inet 192.0.2.1 192.0.2.2 transport 0 aes-cbc-hmac-sha256 cbc(aes)+hmac(sha256) 128 128 16 0  0 1000000 1000 0 false
0x00001003 inet6 2001:db8::1 2001:db8::2 tunnel 0 aes-cbc-hmac-sha256 cbc(aes)+hmac(sha256) 256 128 16 65536 esn 0 0 0 0 false"
if [ "$got" = "$want" ]; then
	tap_ok "sa show --json lists the four SAs with the right fields"
else
	tap_fail "sa show --json lists the four SAs with the right fields" \
		"want:
$want
got:
$got"
fi
if leak=$(no_keys "$json$text") && [[ $json != *'"enc_key'* && $json != *'"auth_key'* ]]; then
	tap_ok "no key material in sa show (JSON and text)"
else
	tap_fail "no key material in sa show (JSON and text)" "found ${leak:-a key field}"
fi

# 15: CAP_NET_ADMIN for every command, reading included
nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all)
out_show=$("${nobody[@]}" "$cli" sa show 2>&1)
rc_show=$?
out_add=$("${nobody[@]}" "$cli" sa add src ::1 dst ::2 spi 0x3000 aead "$gcm" 0x$k_gcm128 128 2>&1)
rc_add=$?
want_eperm="permission denied: managing ESP SAs needs CAP_NET_ADMIN"
if [ $rc_show -ne 0 ] && [ $rc_add -ne 0 ] && [[ $out_show == *"$want_eperm"* && $out_add == *"$want_eperm"* ]]; then
	tap_ok "a caller without CAP_NET_ADMIN is refused (show and add: EPERM)"
else
	tap_fail "a caller without CAP_NET_ADMIN is refused" \
		"show ($rc_show): $out_show; add ($rc_add): $out_add"
fi

# 16-18: one SA, delete it, delete an unknown one
out=$("$cli" sa show "${ids[1]}" --json 2>&1)
if [[ $(jq -r '.sas | length, .[0].id, .[0].spi' <<<"$out" 2>&1 | tr '\n' ' ') == "1 ${ids[1]} 4097 " ]]; then
	tap_ok "sa show ${ids[1]} gives that SA"
else
	tap_fail "sa show ${ids[1]} gives that SA" "$out"
fi
if out=$("$cli" sa del "${ids[1]}" 2>&1) &&
	! out2=$("$cli" sa show "${ids[1]}" 2>&1) && [[ $out2 == *"no SA with this id"* ]]; then
	tap_ok "sa del ${ids[1]}: it is gone"
else
	tap_fail "sa del ${ids[1]}: it is gone" "del: $out; show after: ${out2:-}"
fi
refused "sa del of an unknown id is refused" "sa del: no SA with this id [attribute SA_ID]" \
	"$cli" sa del 4000

# 19: flush
if out=$("$cli" sa flush 2>&1) && out=$("$cli" sa show 2>&1) && [ "$out" = "no SAs" ]; then
	tap_ok "sa flush empties the table"
else
	tap_fail "sa flush empties the table" "$out"
fi

# 20: unload with SAs present
ok=1
for spi in 0x4000 0x4001; do
	"$cli" sa add src 192.0.2.1 dst 192.0.2.3 spi $spi aead "$gcm" 0x$k_gcm256 128 >/dev/null 2>&1 || ok=0
done
if [ $ok = 1 ] && out=$(rmmod $mod 2>&1) && [ ! -e /sys/module/$mod ]; then
	tap_ok "rmmod with two SAs present"
else
	tap_fail "rmmod with two SAs present" "add ok=$ok; $out"
fi

# 21: the CLI says what is wrong when the module is not there
refused "without the module: a clear message" "the umigame module is not loaded" "$cli" sa show

# 22: the kernel log: the SAs were freed, no warning, no key
log=$(kmsg_since)
bad=$(kmsg_trouble)
if [ -z "$bad" ] && [[ $log == *"$mod: esp: freed 2 SAs"* ]] && leak=$(no_keys "$log"); then
	tap_ok "kernel log: 2 SAs freed on unload, no WARNING/BUG/Oops, no key"
else
	tap_fail "kernel log: 2 SAs freed on unload, no WARNING/BUG/Oops, no key" \
		"${bad:-}${leak:+key $leak}
$log"
fi

tap_finish
