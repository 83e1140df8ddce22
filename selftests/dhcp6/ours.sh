# shellcheck shell=bash
# ours.sh — umigame-dhcp6d as a delegating router inside a test namespace,
# the counterpart of kea.sh. Source after ../lib/netns.sh.
#
#   ours_start NS IFACE POOL DELEGATED_LEN
#       write a [server] config for IFACE and POOL (state in the run's temp
#       dir, kept across restarts of the same NS) and start the daemon;
#       returns once it answers on its control socket and listens on 547.
#       OURS_EXTRA_SERVER may hold extra TOML lines for [server].
#   ours_stop NS          SIGTERM, and wait for it to go
#   ours_kill NS          SIGKILL: the crash under test
#   ours_cli NS ARGS...   the umigame CLI against that daemon's socket
#   ours_leases NS        "<duid hex> <iaid> <prefix>" per live lease, sorted
#   ours_config NS        the path of its config file (tests rewrite it)
#
# And what the server tests share about their requesting routers:
#   in_prefix ADDRESS PREFIX   whether ADDRESS lies inside PREFIX
#   lan_address NS             the first global address on lan0 of NS
#   dhcpcd_start NS CONF [ARG...]
#       dhcpcd -B -6 -f CONF ARG... eth0 lan0 in NS as background job
#       "dhcpcd", with a private /run and /var/lib/dhcpcd (the host's are
#       never written)

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DHCP6D=${UMIGAME_DHCP6D:-$TOP/build/release/userspace/dhcp6d/umigame-dhcp6d}
UMIGAME=${UMIGAME:-$TOP/build/release/tools/umigame/umigame}

ours_dir() { umi_tmp "dhcp6d-$1"; }
ours_config() { echo "$(ours_dir "$1")/dhcp6d.toml"; }

ours_start() {
	local ns=$1 ifc=$2 pool=$3 dlen=$4 dir
	dir=$(ours_dir "$ns")
	mkdir -p "$dir/state"
	[ -f "$(ours_config "$ns")" ] || cat >"$(ours_config "$ns")" <<TOML
[daemon]
control_socket = "$dir/control.sock"
state_dir = "$dir/state"

[server]
interfaces = ["$ifc"]
preferred_lifetime = 1800
valid_lifetime = 3600
${OURS_EXTRA_SERVER:-}

[[server.pool]]
interface = "$ifc"
prefix = "$pool"
delegated_length = $dlen
TOML
	wait_for 10 "$ns:$ifc link-local address past DAD" link_local_ready "$ns" "$ifc" || return 1
	bg_start "$ns" "dhcp6d-$ns" "$DHCP6D" -c "$(ours_config "$ns")"
	wait_for 15 "umigame-dhcp6d in $ns answers on its control socket" \
		ours_cli "$ns" dhcp6 show --json || return 1
	wait_for 5 "umigame-dhcp6d listening on $ns port 547" \
		sh -c "ip netns exec $(ns_name "$ns") ss -uln | grep -q ':547 '"
}

ours_stop() { bg_stop "dhcp6d-$1"; }

ours_kill() {
	local pid=${BG_PID[dhcp6d-$1]:-}
	[ -n "$pid" ] || return 1
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	unset "BG_PID[dhcp6d-$1]"
}

ours_cli() {
	local ns=$1
	shift
	UMIGAME_DHCP6D_SOCKET="$(ours_dir "$ns")/control.sock" "$UMIGAME" "$@"
}

ours_leases() {
	ours_cli "$1" dhcp6 show --json |
		jq -r '.server.leases[] | select(.valid_left > 0) | "\(.duid | gsub(":"; "")) \(.iaid) \(.prefix)"' |
		sort
}

in_prefix() {
	/usr/bin/python3 -c 'import ipaddress,sys; sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2]) else 1)' "$1" "$2"
}

lan_address() { ip -n "$(ns_name "$1")" -6 addr show dev lan0 scope global | awk '/inet6/ {split($2, a, "/"); print a[1]; exit}'; }

dhcpcd_start() {
	local ns=$1 conf=$2 lib
	shift 2
	lib=$(umi_tmp dhcpcd-lib-"$ns")
	mkdir -p "$lib"
	bg_start "$ns" dhcpcd unshare --mount sh -c \
		"mount -t tmpfs none /run && mkdir -p /run/dhcpcd && mount --bind '$lib' /var/lib/dhcpcd && exec dhcpcd -B -6 $* -f '$conf' eth0 lan0"
}
