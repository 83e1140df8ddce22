#!/usr/bin/env bash
# ike_badinput_netns.sh — umigame-iked as an IKEv2 responder facing bad
# input: datagrams that lie about their lengths, an unknown critical
# payload, a higher major version, unknown SPIs (each made with scapy by
# ike_craft.py); then a flood of IKE_SA_INITs from spoofed sources, under
# which a legitimate initiator (a second umigame-iked) must still get its
# IKE SA through the cookie exchange.
#
#   attacker ns                          responder ns (umigame-iked, PSK)
#   eth0 10.0.1.2/24 ------------------- eth0 10.0.1.1/24
#        2001:db8:1::2/64                     2001:db8:1::1/64
#   ike_craft.py: own UDP socket :500    route 10.99.0.0/16 via 10.0.1.2
#   + raw socket, sources 10.99.0.0/16   [daemon] cookie_threshold = 5
#                                        half_open_timeout = 10
#   peer ns (umigame-iked, initiator)    eth1 10.0.2.1/24
#   eth0 10.0.2.2/24 ------------------- /
#
# This is about the IKE layer only. The host kernel has XFRM netlink but
# no ESP, so installing a CHILD_SA fails here (the responder answers the
# child part of IKE_AUTH with an error notify, RFC 7296 §1.2/§2.21.2); the
# IKE SA itself is established and that is what is checked. ESP runs in
# the VM tests.
#
# Every bad datagram is followed by a probe (an IKE_SA_INIT of major
# version 3) from the same socket: the daemon handles one socket's
# datagrams in order, so the probe's INVALID_MAJOR_VERSION answer proves
# the bad datagram was processed, and "no answer to it" is asserted only
# after that answer arrived. Each point checks the daemon's counters
# (`umigame ike show --json`) moved by exactly the expected amount and that
# the daemon (its PID) is still alive.
#
# KTAP output; every namespace and process goes away on exit (netns.sh).
# Needs root, jq, /usr/bin/python3 with scapy. charon-systemd points are
# skipped without strongSwan.
#
# Environment: UMIGAME_IKED, UMIGAME (default build/release/...),
# UMI_KEEP_TMP=1.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
IKED=${UMIGAME_IKED:-$TOP/build/release/userspace/iked/umigame-iked}
UMIGAME=${UMIGAME:-$TOP/build/release/tools/umigame/umigame}
PY=/usr/bin/python3 # Debian's scapy is installed for this interpreter
CRAFT=$HERE/ike_craft.py
THRESHOLD=5
# Longer than strongSwan's first retransmission (4 s): a legitimate
# initiator whose IKE_AUTH was lost in the flood must find its SA again.
HALF_OPEN_TIMEOUT=10
FLOOD=300

umi_require ip jq timeout "$PY"
"$PY" -c 'import scapy.contrib.ikev2' 2>/dev/null || { echo "1..0 # SKIP scapy (python3-scapy) missing"; exit 4; }
[ -x "$IKED" ] || { echo "1..0 # SKIP no umigame-iked at $IKED"; exit 4; }
[ -x "$UMIGAME" ] || { echo "1..0 # SKIP no umigame CLI at $UMIGAME"; exit 4; }
tap_plan 25

# ---- topology -------------------------------------------------------------------
for ns in attacker responder peer; do
	ns_create "$ns"
	ns_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
veth_pair attacker eth0 responder eth0
veth_pair peer eth0 responder eth1
ip -n "$(ns_name attacker)" addr add 10.0.1.2/24 dev eth0
ip -n "$(ns_name attacker)" addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$(ns_name responder)" addr add 10.0.1.1/24 dev eth0
ip -n "$(ns_name responder)" addr add 2001:db8:1::1/64 dev eth0 nodad
ip -n "$(ns_name responder)" addr add 10.0.2.1/24 dev eth1
ip -n "$(ns_name peer)" addr add 10.0.2.2/24 dev eth0
# The spoofed sources live behind the attacker: the responder's answers
# (cookies) go there and die, as they would at a real spoofer's victims.
ip -n "$(ns_name responder)" route add 10.99.0.0/16 via 10.0.1.2
ns_sysctl responder net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0

# ---- the responder ----------------------------------------------------------------
RDIR=$(umi_tmp responder)
mkdir -p "$RDIR"
cat >"$RDIR/iked.toml" <<TOML
[daemon]
control_socket = "$RDIR/iked.sock"
cookie_threshold = $THRESHOLD
half_open_timeout = $HALF_OPEN_TIMEOUT

[[connection]]
name = "any"
local_id = "fqdn:responder.example"
remote_id = "fqdn:peer.example"
auth = "psk"
psk = "a bad-input test secret, long enough"
ike_proposals = ["aes128gcm16-prfsha256-x25519"]
dpd_delay = 0
[[connection.child]]
name = "lan"
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.2.0.0/16"]
esp_proposals = ["aes128gcm16-esn"]
TOML

rshow() { timeout 5 "$UMIGAME" ike show --json --socket "$RDIR/iked.sock"; }
# counter NAME: one of the responder's counters (or .half_open etc. with a dot).
counter() {
	local f=$1
	[ "${f:0:1}" = . ] || f=".counters.$f"
	rshow | jq -r "$f"
}
bg_start responder iked "$IKED" -v -c "$RDIR/iked.toml"
IKED_PID=${BG_PID[iked]}
wait_for 15 "umigame-iked answers on its control socket" rshow >/dev/null ||
	umi_die "umigame-iked did not start: $(tail -5 "$(bg_log iked)")"
listening() { ip netns exec "$(ns_name responder)" ss -uln | grep -q ':500 '; }
wait_for 5 "umigame-iked listens on 500" listening || umi_die "no UDP 500: $(tail -5 "$(bg_log iked)")"
alive() { kill -0 "$IKED_PID" 2>/dev/null && [ "$(ps -o stat= -p "$IKED_PID")" != Z ]; }

diag() {
	echo "daemon: $(alive && echo "alive, pid $IKED_PID" || echo DEAD)"
	echo "counters: $(counter . 2>&1 | jq -c '{received: .counters.received, malformed: .counters.malformed, bad_spi: .counters.bad_spi, invalid_major: .counters.invalid_major, unsupported_critical: .counters.unsupported_critical, cookies_sent: .counters.cookies_sent, half_open, ike_sas}' 2>&1)"
	echo "helper: ${OUT:-}"
	echo "daemon log:"
	tail -6 "$(bg_log iked)" | sed 's/^/  /'
}

# bad_input NAME DST KIND COUNTER EXPECT_REPLY_JQ: send KIND (then the
# probe), and check: COUNTER moved by exactly one, invalid_major by one
# (the probe), nothing else of the daemon's view changed (no half-open SA
# made), the replies to KIND match the jq filter (on the array), the probe
# was answered, the daemon lives.
bad_input() {
	local name=$1 dst=$2 kind=$3 ctr=$4 expect=$5 before after ok=1 why=""
	before=$(rshow) || { tap_fail "$name" "no answer from the daemon before the test"; return; }
	OUT=$(ip netns exec "$(ns_name attacker)" timeout 20 "$PY" "$CRAFT" probe "$dst" "$kind" 2>&1)
	# The probe's answer arrived: the daemon handled both datagrams.
	if ! jq -e '.probe.notifies[0].type == 5' <<<"$OUT" >/dev/null 2>&1; then
		ok=0 why+="the probe got no INVALID_MAJOR_VERSION; "
	fi
	after=$(rshow) || { ok=0 why+="no answer from the daemon afterwards; "; }
	if [ "$ok" = 1 ]; then
		local d_ctr d_major d_rx d_half
		d_ctr=$(($(jq ".counters.$ctr" <<<"$after") - $(jq ".counters.$ctr" <<<"$before")))
		d_major=$(($(jq .counters.invalid_major <<<"$after") - $(jq .counters.invalid_major <<<"$before")))
		d_rx=$(($(jq .counters.received <<<"$after") - $(jq .counters.received <<<"$before")))
		d_half=$(($(jq .half_open <<<"$after") - $(jq .half_open <<<"$before")))
		if [ "$ctr" = invalid_major ]; then
			[ "$d_ctr" = 2 ] || { ok=0 why+="invalid_major moved by $d_ctr, expected 2 (probe included); "; }
		else
			[ "$d_ctr" = 1 ] || { ok=0 why+="$ctr moved by $d_ctr, expected 1; "; }
			[ "$d_major" = 1 ] || { ok=0 why+="invalid_major moved by $d_major, expected 1 (the probe); "; }
		fi
		[ "$d_rx" = 2 ] || { ok=0 why+="received moved by $d_rx, expected 2; "; }
		[ "$d_half" = 0 ] || { ok=0 why+="half_open moved by $d_half; "; }
		jq -e ".replies | $expect" <<<"$OUT" >/dev/null || { ok=0 why+="replies do not match: $expect; "; }
	fi
	alive || { ok=0 why+="the daemon died; "; }
	if [ "$ok" = 1 ]; then tap_ok "$name"; else tap_fail "$name" "$why"$'\n'"$(diag)"; fi
}

# ---- malformed datagrams ---------------------------------------------------------------
# RFC 7296 §3.1: the Length field is the whole message; §2.21: a message
# that cannot be parsed is dropped, unanswered (nothing in it can be
# trusted, and answering would make us a reflector).
bad_input "a datagram shorter than the IKE header is dropped and counted as malformed" \
	10.0.1.1 truncated malformed 'length == 0' # RFC 7296 §3.1, §2.21
bad_input "a header Length longer than the datagram: dropped, counted as malformed" \
	10.0.1.1 hdr_len_long malformed 'length == 0' # RFC 7296 §3.1, §2.21
bad_input "a header Length shorter than the datagram: dropped, counted as malformed" \
	10.0.1.1 hdr_len_short malformed 'length == 0' # RFC 7296 §3.1, §2.21
bad_input "a header Length of 2^32-1: dropped, counted as malformed" \
	10.0.1.1 hdr_len_huge malformed 'length == 0' # RFC 7296 §3.1, §2.21
bad_input "a payload Length past the end of the message: dropped, counted as malformed" \
	10.0.1.1 pl_len_past_end malformed 'length == 0' # RFC 7296 §3.2, §2.21
bad_input "a payload Length below the generic header's 4 octets: dropped, counted as malformed" \
	10.0.1.1 pl_len_small malformed 'length == 0' # RFC 7296 §3.2, §2.21
bad_input "a payload Length of 65535: dropped, counted as malformed" \
	10.0.1.1 pl_len_huge malformed 'length == 0' # RFC 7296 §3.2, §2.21
bad_input "a 300-octet nonce (over the 256 allowed): dropped, counted as malformed" \
	10.0.1.1 nonce_huge malformed 'length == 0' # RFC 7296 §3.9, §2.21

# ---- answered errors -------------------------------------------------------------------
# RFC 7296 §2.5: an unknown payload with the critical bit makes the whole
# message rejected, answered by UNSUPPORTED_CRITICAL_PAYLOAD (type 1) whose
# data is the payload type (200 = c8); in IKE_SA_INIT the answer is
# unprotected (§2.21.1) and no SA is made.
bad_input "an unknown critical payload in IKE_SA_INIT: UNSUPPORTED_CRITICAL_PAYLOAD naming type 200, no SA" \
	10.0.1.1 critical unsupported_critical \
	'length == 1 and .[0].notifies[0].type == 1 and .[0].notifies[0].data == "c8" and .[0].exchange == 34 and (.[0].flags | . == 32)'
# RFC 7296 §2.5: major version 3 gets INVALID_MAJOR_VERSION (type 5) in a
# response carrying the version we speak (2.0), flags: response only.
bad_input "IKE_SA_INIT of major version 3: INVALID_MAJOR_VERSION in a version 2.0 response" \
	10.0.1.1 major3 invalid_major \
	'length == 1 and .[0].notifies[0].type == 5 and .[0].major == 2 and .[0].minor == 0 and .[0].exchange == 34 and .[0].flags == 32'
bad_input "the same over IPv6: INVALID_MAJOR_VERSION in a version 2.0 response" \
	2001:db8:1::1 major3 invalid_major \
	'length == 1 and .[0].notifies[0].type == 5 and .[0].major == 2' # RFC 7296 §2.5
# RFC 7296 §2.21.4: a message on SPIs we have no IKE SA for is dropped (an
# INVALID_IKE_SPI answer is a MAY; we stay silent and count it).
bad_input "IKE_AUTH on unknown SPIs: dropped, counted as bad_spi" \
	10.0.1.1 bad_spi bad_spi 'length == 0' # RFC 7296 §2.21.4

# ---- the legitimate initiator's configuration ----------------------------------------------
PDIR=$(umi_tmp peer)
mkdir -p "$PDIR"
cat >"$PDIR/iked.toml" <<TOML
[daemon]
control_socket = "$PDIR/iked.sock"

[[connection]]
name = "to-responder"
remote_addr = "10.0.2.1"
local_id = "fqdn:peer.example"
remote_id = "fqdn:responder.example"
auth = "psk"
psk = "a bad-input test secret, long enough"
ike_proposals = ["aes128gcm16-prfsha256-x25519"]
retransmit_timeout_ms = 500
dpd_delay = 0
[[connection.child]]
name = "lan"
local_ts = ["10.2.0.0/16"]
remote_ts = ["10.1.0.0/16"]
esp_proposals = ["aes128gcm16-esn"]
start_action = "start"
TOML
psas() { timeout 5 "$UMIGAME" ike sas --json --socket "$PDIR/iked.sock"; }
peer_established() { json_holds '[.ike_sas[] | select(.state == "established")] | length == 1' psas; }

# ---- the flood ---------------------------------------------------------------------------
# RFC 7296 §2.6: with cookie_threshold half-open SAs, every further
# IKE_SA_INIT without a valid cookie is answered with a COOKIE and makes no
# state. $FLOOD packets, 10 ms apart, each from a fresh address of
# 10.99.0.0/16: none can ever return a cookie.
cookies_before=$(counter cookies_sent)
HALF_MAX=0
bg_start attacker flood ip netns exec "$(ns_name attacker)" timeout 60 "$PY" "$CRAFT" flood 10.0.1.1 "$FLOOD" 10.99.0.0/16 0.01
# half_open_sample: remember the largest half-open count seen.
half_open_sample() {
	local h
	h=$(counter .half_open) || return 1
	[ "$h" -gt "$HALF_MAX" ] && HALF_MAX=$h
	return 0
}
threshold_reached() { half_open_sample && [ "$(counter .half_open)" -ge "$THRESHOLD" ] && [ "$(counter cookies_sent)" -gt "$cookies_before" ]; }
if wait_for 20 "half-open SAs reach cookie_threshold and cookies go out" threshold_reached; then
	tap_ok "the flood fills cookie_threshold ($THRESHOLD) half-open SAs, then cookies are sent" # RFC 7296 §2.6
else
	tap_fail "the flood fills cookie_threshold half-open SAs, then cookies are sent" "$(diag)"
fi

# The legitimate initiator starts while the flood goes on and the
# responder demands cookies: it must answer the COOKIE (§2.6) and finish.
bg_start peer peer "$IKED" -v -c "$PDIR/iked.toml"
# RFC 7296 §2.6 (the initiator retries with the cookie first), §1.2.
if wait_for 20 "the peer's IKE SA is established" eval 'half_open_sample; peer_established'; then
	tap_ok "under the flood a legitimate initiator (umigame-iked) gets its IKE SA established"
else
	tap_fail "under the flood a legitimate initiator (umigame-iked) gets its IKE SA established" \
		"$(diag; echo "peer sas: $(psas 2>&1 | jq -c . 2>&1)"; tail -8 "$(bg_log peer)")"
fi
if grep -q 'asks for a cookie' "$(bg_log peer)"; then
	tap_ok "the legitimate initiator was asked for a cookie and answered it" # RFC 7296 §2.6
else
	tap_fail "the legitimate initiator was asked for a cookie and answered it" "$(tail -8 "$(bg_log peer)")"
fi
flood_running() { bg_running flood; }
# While the flood lasts, the daemon answers its control socket at once.
slow=0
while flood_running; do
	t0=$(_umi_now_ms)
	half_open_sample || slow=$((slow + 1000))
	t=$(($(_umi_now_ms) - t0))
	[ "$t" -gt "$slow" ] && slow=$t
	[ "$SECONDS" -gt 600 ] && break
	sleep 0.1 # pacing the samples, not waiting for anything
done
wait "${BG_PID[flood]}" 2>/dev/null
flood_out=$(cat "$(bg_log flood)")
if [ "$slow" -lt 2000 ] && alive; then
	tap_ok "during the flood the daemon lives and answers show within 2 s (slowest ${slow} ms)"
else
	tap_fail "during the flood the daemon lives and answers show within 2 s" "slowest ${slow} ms"$'\n'"$(diag)"
fi
cookies_sent=$(($(counter cookies_sent) - cookies_before))
tap_diag "flood: $flood_out; cookies sent: $cookies_sent; largest half-open count seen: $HALF_MAX"
# §2.6: every flood packet past the threshold got a cookie and no state;
# the peer's first IKE_SA_INIT got one too.
if [ "$cookies_sent" -ge $((FLOOD - THRESHOLD)) ] && [ "$cookies_sent" -le $((FLOOD + 1)) ]; then
	tap_ok "cookies_sent counts the flood beyond the threshold ($cookies_sent)" # RFC 7296 §2.6
else
	tap_fail "cookies_sent counts the flood beyond the threshold" "cookies_sent moved by $cookies_sent for $FLOOD packets"$'\n'"$(diag)"
fi
# Memory stays bounded: the flood itself never makes more half-open SAs
# than the threshold; the legitimate peer's own half-open SA (admitted by
# its valid cookie, §2.6) may come on top while its IKE_AUTH is under way.
if [ "$HALF_MAX" -le $((THRESHOLD + 1)) ] && [ "$(counter .ike_sas)" -le $((THRESHOLD + 1)) ]; then
	tap_ok "half-open SAs never exceed cookie_threshold + the cookie-carrying peer (largest seen $HALF_MAX)" # RFC 7296 §2.6
else
	tap_fail "half-open SAs never exceed cookie_threshold + the cookie-carrying peer" "largest seen $HALF_MAX"$'\n'"$(diag)"
fi
# §2.6 / §2.4: half-open SAs nobody completes go after half_open_timeout.
half_open_gone() { [ "$(counter .half_open)" = 0 ]; }
if wait_for $((HALF_OPEN_TIMEOUT + 6)) "half-open SAs time out" half_open_gone; then
	tap_ok "after half_open_timeout ($HALF_OPEN_TIMEOUT s) no half-open SA is left"
else
	tap_fail "after half_open_timeout no half-open SA is left" "$(diag)"
fi
only_peer() { [ "$(counter .ike_sas)" = 1 ]; }
tap_check "only the legitimate peer's IKE SA remains on the responder" wait_for 5 "one IKE SA" only_peer
tap_check "the legitimate peer's IKE SA is still established after the flood" peer_established
tap_check "the responder is alive after everything" alive

# ---- strongSwan as the legitimate initiator under a second flood -----------------------------
if command -v charon-systemd >/dev/null && command -v swanctl >/dev/null; then
	SDIR=$(umi_tmp swan)
	mkdir -p "$SDIR"
	ip -n "$(ns_name peer)" addr add 10.0.2.3/24 dev eth0
	cat >"$SDIR/strongswan.conf" <<CONF
charon-systemd {
	# Only what this test needs (no kernel-libipsec TUN, no bypass-lan,
	# no forecast: they would reroute the peer namespace's traffic).
	load = random nonce openssl aes sha1 sha2 hmac gcm curve25519 kdf pem pkcs1 x509 pubkey kernel-netlink socket-default vici
	journal {
		default = -1
	}
	filelog {
		stderr {
			path = /dev/stderr
			default = 1
			ike = 2
		}
	}
	port = 500
	port_nat_t = 4500
	install_routes = no
	install_virtual_ip = no
	plugins {
		vici {
			socket = unix://$SDIR/charon.vici
		}
	}
}
CONF
	cat >"$SDIR/swanctl.conf" <<CONF
connections {
	resp {
		version = 2
		local_addrs = 10.0.2.3
		remote_addrs = 10.0.2.1
		proposals = aes128gcm16-prfsha256-x25519
		local {
			auth = psk
			id = peer.example
		}
		remote {
			auth = psk
			id = responder.example
		}
		children {
			lan {
				local_ts = 10.2.0.0/16
				remote_ts = 10.1.0.0/16
				esp_proposals = aes128gcm16-esn
			}
		}
	}
}
secrets {
	ike-1 {
		id-1 = peer.example
		id-2 = responder.example
		secret = "a bad-input test secret, long enough"
	}
}
CONF
	# charon-systemd binds UDP 500 in the peer namespace: stop ours first.
	bg_stop peer
	# strongSwan authenticates with IDs of type FQDN: ours match.
	bg_start peer charon env STRONGSWAN_CONF="$SDIR/strongswan.conf" charon-systemd
	vici_up() { [ -S "$SDIR/charon.vici" ]; }
	if wait_for 15 "charon's vici socket" vici_up &&
		ip netns exec "$(ns_name peer)" swanctl --load-all --file "$SDIR/swanctl.conf" --uri "unix://$SDIR/charon.vici" >"$SDIR/load.log" 2>&1; then
		cookies_before=$(counter cookies_sent)
		established_before=$(counter ike_established)
		bg_start attacker flood2 ip netns exec "$(ns_name attacker)" timeout 60 "$PY" "$CRAFT" flood 10.0.1.1 "$FLOOD" 10.99.0.0/16 0.01
		wait_for 20 "half-open SAs reach cookie_threshold again" threshold_reached
		ip netns exec "$(ns_name peer)" timeout 30 swanctl --initiate --ike resp --uri "unix://$SDIR/charon.vici" >"$SDIR/initiate.log" 2>&1
		swan_up() {
			ip netns exec "$(ns_name peer)" swanctl --list-sas --ike resp --uri "unix://$SDIR/charon.vici" 2>/dev/null | grep -q ESTABLISHED
		}
		# RFC 7296 §2.6: strongSwan answers our COOKIE and gets through.
		if wait_for 20 "charon's IKE SA established" swan_up &&
			[ "$(counter ike_established)" -gt "$established_before" ]; then
			tap_ok "under a second flood strongSwan (charon-systemd) gets its IKE SA established"
		else
			tap_fail "under a second flood strongSwan gets its IKE SA established" \
				"$(diag; tail -n 15 "$SDIR/initiate.log"; tail -n 15 "$(bg_log charon)")"
		fi
		if grep -qi 'COOKIE' "$(bg_log charon)" "$SDIR/initiate.log"; then
			tap_ok "strongSwan was asked for a cookie" # RFC 7296 §2.6
		else
			tap_fail "strongSwan was asked for a cookie" "$(grep -i 'IKE_SA_INIT' "$SDIR/initiate.log" | tail -5)"
		fi
		wait "${BG_PID[flood2]}" 2>/dev/null
	else
		tap_fail "under a second flood strongSwan gets its IKE SA established" "charon did not load: $(tail -n 10 "$SDIR/load.log" "$(bg_log charon)")"
		tap_skip "strongSwan was asked for a cookie" "charon did not load"
	fi
else
	tap_skip "under a second flood strongSwan (charon-systemd) gets its IKE SA established" "no charon-systemd/swanctl"
	tap_skip "strongSwan was asked for a cookie" "no charon-systemd/swanctl"
fi
tap_check "the responder is alive at the end" alive
tap_finish
