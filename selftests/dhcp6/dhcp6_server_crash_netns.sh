#!/usr/bin/env bash
# dhcp6_server_crash_netns.sh — the delegating router's promise under load:
# a Reply leaves only once its lease is on disk, so `kill -9` in the middle
# of 200 requesting routers loses no lease that was granted, and after the
# restart no prefix is ever delegated to two clients. Then a reload applies
# a changed pool without dropping a lease, and a broken file is refused
# with file:line while the running configuration stays.
#
#   srv ns                              lab ns
#   eth0 (veth) <-------------------->  eth0 (veth)
#   umigame-dhcp6d [server]             umigame-dhcp6-load: 200 requesting
#   pool 2001:db8:100::/48 in /56s      routers (DUID-LL, one IA_PD each),
#   (256 prefixes)                      spread over ~1 s, resending every
#                                       100 ms while the server is down
#
# Output is KTAP. Needs root and the release build.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$HERE/../lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=ours.sh
source "$HERE/ours.sh"
LOAD=${UMIGAME_DHCP6_LOAD:-$TOP/build/release/tools/loadgen/umigame-dhcp6-load}

umi_require ip ss jq
tap_plan 10
for b in "$LOAD" "$DHCP6D" "$UMIGAME"; do
	[ -x "$b" ] || umi_die "missing $b (make userspace)"
done

ns_create srv
ns_create lab
for ns in srv lab; do ns_sysctl "$ns" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0; done
veth_pair srv eth0 lab eth0
wait_for 10 "lab:eth0 link-local address" link_local_ready lab eth0 || umi_die "no link-local on lab:eth0"
ours_start srv eth0 2001:db8:100::/48 56 || umi_die "umigame-dhcp6d did not start: $(tail -5 "$(bg_log dhcp6d-srv)")"

GRANTED=$(umi_tmp granted.txt)
: >"$GRANTED"
load() { ip netns exec "$(ns_name lab)" "$LOAD" -i eth0 --timeout-ms 100 --attempts 300 --json "$@"; }

# --- kill -9 under load ------------------------------------------------------
bg_start lab load1 "$LOAD" -i eth0 -n 200 -w 8 --rate 200 --timeout-ms 100 --attempts 300 \
	--leases "$GRANTED" --json
granted_at_least() { [ "$(wc -l <"$GRANTED")" -ge "$1" ]; }
wait_for 20 "60 leases granted" granted_at_least 60 || umi_die "the load never got going"
ours_kill srv
tap_diag "killed the server (SIGKILL) after $(wc -l <"$GRANTED") grants"
# Whatever the server sent before it died may still be in flight: the
# generator is stopped once nothing new has arrived for a while, and what it
# recorded is exactly what was granted before the kill.
settled() {
	local n
	n=$(wc -l <"$GRANTED")
	sleep 0.3
	[ "$n" = "$(wc -l <"$GRANTED")" ]
}
wait_for 10 "the grants stop arriving" settled
bg_stop load1
BEFORE=$(umi_tmp before_kill.txt)
sort "$GRANTED" >"$BEFORE"
tap_diag "$(wc -l <"$BEFORE") leases granted before the kill"

ours_start srv eth0 2001:db8:100::/48 56 || umi_die "restart failed: $(tail -5 "$(bg_log dhcp6d-srv)")"
AFTER=$(umi_tmp after_restart.txt)
ours_leases srv >"$AFTER"
missing() { comm -23 "$BEFORE" "$AFTER" | head -5; [ -z "$(comm -23 "$BEFORE" "$AFTER")" ]; }
# RFC 8415 §18.3.2 (and the issue's durability rule): a lease is on disk
# before its Reply is sent.
tap_check "every lease granted before kill -9 is there after the restart, same prefix" missing
unique_prefixes() {
	[ "$(awk '{print $3}' "$1" | sort | uniq -d | wc -l)" = 0 ]
}
tap_check "no prefix is held by two clients after the restart" unique_prefixes "$AFTER"

# The same 200 routers come back (same DUIDs): the ones with leases get the
# same prefix again (§18.3.1 stability), the rest get new ones, nobody twice.
OUT=$(load -n 200 -w 8 --leases "$GRANTED")
tap_diag "second run: $OUT"
all_200() { [ "$(jq -r .granted <<<"$OUT")" = 200 ] && [ "$(jq -r .duplicates <<<"$OUT")" = 0 ]; }
tap_check "after the restart all 200 requesting routers hold a prefix" all_200
FINAL=$(umi_tmp final.txt)
ours_leases srv >"$FINAL"
tap_check "the server holds 200 leases with 200 distinct prefixes" \
	eval '[ "$(wc -l <"$FINAL")" = 200 ] && unique_prefixes "$FINAL"'
same_again() {
	# every (duid, iaid) the generator ever recorded maps to one prefix
	[ "$(sort -u "$GRANTED" | awk '{print $1, $2}' | uniq -d | wc -l)" = 0 ]
}
tap_check "a router granted before the kill got the same prefix after it" same_again
consistent() { [ -z "$(comm -3 <(sort -u "$GRANTED") "$FINAL")" ]; }
tap_check "what the routers were told is exactly what the server holds" consistent

# --- reload --------------------------------------------------------------------
CONF=$(ours_config srv)
cp "$CONF" "$CONF.orig"
cat >>"$CONF" <<'TOML'

[[server.pool]]
interface = "eth0"
prefix = "2001:db8:200::/48"
delegated_length = 60
TOML
ours_cli srv dhcp6 reload >/dev/null
tap_check "umigame dhcp6 reload accepts the changed pool set" ours_cli srv dhcp6 show --json
has_new_pool() { json_holds '[.server.pools[] | select(.prefix == "2001:db8:200::/48")] | length == 1' ours_cli srv dhcp6 show --json; }
kept_leases() { [ "$(ours_leases srv)" = "$(cat "$FINAL")" ]; }
tap_check "after the reload the new pool is served and all 200 leases are kept" \
	eval 'has_new_pool && kept_leases'

printf '[server]\ninterfaces = ["eth0"]\n[[server.pool]]\ninterface = "eth0"\nprefix = "2001:db8:300::/48"\ndelegated_length = 300\n' >"$CONF"
ERR=$(ours_cli srv dhcp6 reload 2>&1)
tap_diag "bad reload: $ERR"
refused() { grep -q "$CONF:[0-9]*" <<<"$ERR" && has_new_pool && kept_leases; }
tap_check "a broken file is refused with file:line, and the running pools and leases stay" refused
kill -HUP "${BG_PID[dhcp6d-srv]}"
still_up() { bg_running dhcp6d-srv && kept_leases; }
tap_check "SIGHUP with the broken file keeps the daemon running with its leases" still_up
tap_finish
