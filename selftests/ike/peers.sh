# shellcheck shell=bash
# peers.sh — run IKEv2 daemons for the IKE selftests: our umigame-iked and
# strongSwan's charon-systemd, each in a namespace with files of its own
# under $UMI_TMPDIR. Source selftests/lib/netns.sh first.
#
#   iked_start NS NAME CONF     start umigame-iked in NS with CONF; waits for
#                               its control socket; the socket is
#                               $(iked_sock NAME) (CONF must name it);
#                               IKED_KEEP_MOUNTS=1 keeps /sys/fs/bpf visible
#   iked_sock NAME              the control socket path for NAME
#   iked NAME ARGS...           the umigame CLI against that daemon
#   iked_state NAME CONN        the state of CONN's first IKE SA ("" if none)
#   iked_children NAME CONN     how many installed CHILD_SAs CONN has
#   sw_start NS NAME            start charon-systemd in NS (its own
#                               strongswan.conf, vici socket and log)
#   sw_load NAME FILE           load a swanctl.conf into it
#   swanctl_ NAME ARGS...       swanctl against it
#   sw_ike_state NAME CONN      ESTABLISHED / CONNECTING / "" for CONN
#   sw_child_count NAME CONN    installed CHILD_SAs of CONN
#   both_up IKED SW CONN        CONN established on both sides, one
#                               installed CHILD_SA each
#   iked_child IKED CONN FIELD  FIELD of CONN's first installed CHILD_SA
#                               (spi_in, spi_out, encap, ...)
#   xfrm_state_of NS SPI        the `ip -s xfrm state` lines of the state
#                               with that SPI (hex, no 0x), "" if none
#   xfrm_sa_packets NS SPI      packets that state counted
#   xfrm_brief NS               `ip xfrm state` without keys and replay
#                               bitmaps, for diagnostics
#
# SW_CHARON_EXTRA, when set, is added to charon's section of the
# strongswan.conf sw_start writes (e.g. "keep_alive = 2s").
#
# charon-systemd is the foreground charon that reads its configuration over
# vici (docs/ike.md explains why not the plain charon). STRONGSWAN_CONF
# points it at a per-run file, so nothing in /etc is read or written.

IKE_REPO=${IKE_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
IKE_BUILD=${IKE_BUILD:-$IKE_REPO/build/release}
IKED_BIN=${IKED_BIN:-$IKE_BUILD/userspace/iked/umigame-iked}
UMIGAME_BIN=${UMIGAME_BIN:-$IKE_BUILD/tools/umigame/umigame}

iked_sock() { echo "$UMI_TMPDIR/iked-$1.sock"; }

iked_start() {
	local ns=$1 name=$2 conf=$3
	# A daemon that ran unprivileged could not remove its socket: a stale
	# one would pass the wait below before the new daemon listens.
	rm -f "$(iked_sock "$name")"
	if [ "${IKED_KEEP_MOUNTS:-0}" = 1 ]; then
		# nsenter --net keeps the host's mounts: the daemon then sees the
		# ESP program pinned under /sys/fs/bpf (ip netns exec remounts /sys).
		bg_start "" "iked-$name" nsenter --net="/run/netns/$(ns_name "$ns")" "$IKED_BIN" -v -c "$conf" >/dev/null
	else
		bg_start "$ns" "iked-$name" "$IKED_BIN" -v -c "$conf" >/dev/null
	fi
	wait_for 20 "umigame-iked $name's control socket" test -S "$(iked_sock "$name")"
}

iked() {
	local name=$1
	shift
	"$UMIGAME_BIN" ike "$@" --socket "$(iked_sock "$name")"
}

iked_state() {
	iked "$1" sas --json 2>/dev/null |
		jq -r --arg c "$2" '[.ike_sas[] | select(.connection == $c)][0].state // ""'
}

iked_children() {
	iked "$1" sas --json 2>/dev/null |
		jq -r --arg c "$2" '[.ike_sas[] | select(.connection == $c) | .children[] |
			select(.state == "installed")] | length'
}

_sw_dir() { echo "$UMI_TMPDIR/sw-$1"; }

sw_start() {
	local ns=$1 name=$2 dir
	dir=$(_sw_dir "$name")
	mkdir -p "$dir"
	cat >"$dir/strongswan.conf" <<-EOF
	charon-systemd {
	  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey kdf revocation constraints kernel-netlink socket-default vici
	  install_routes = no
	  retransmit_timeout = 1
	  retransmit_tries = 3
	  ${SW_CHARON_EXTRA:-}
	  plugins {
	    vici { socket = unix://$dir/charon.vici }
	  }
	  journal { default = -1 }
	  filelog {
	    charon {
	      path = $dir/charon.log
	      default = 1
	      ike = 2
	      time_format = %T
	      flush_line = yes
	    }
	  }
	}
	EOF
	STRONGSWAN_CONF=$dir/strongswan.conf bg_start "$ns" "charon-$name" /usr/sbin/charon-systemd >/dev/null
	wait_for 20 "charon $name's vici socket" test -S "$dir/charon.vici"
}

swanctl_() {
	local name=$1
	shift
	swanctl "$@" --uri "unix://$(_sw_dir "$name")/charon.vici"
}

sw_load() {
	# swanctl also looks for credential folders beside the file; none here.
	swanctl_ "$1" --load-all --file "$2" 2>&1 | grep -v "opening directory" >/dev/null
	[ "${PIPESTATUS[0]}" = 0 ]
}

sw_log() { echo "$(_sw_dir "$1")/charon.log"; }

sw_ike_state() {
	swanctl_ "$1" --list-sas --ike "$2" 2>/dev/null | awk -v c="$2" '$1 == c":" {print $3; exit}' | tr -d ','
}

sw_child_count() {
	swanctl_ "$1" --list-sas --ike "$2" 2>/dev/null | grep -c "INSTALLED"
}

both_up() {
	[ "$(iked_state "$1" "$3")" = established ] && [ "$(sw_ike_state "$2" "$3")" = ESTABLISHED ] &&
		[ "$(iked_children "$1" "$3")" = 1 ] && [ "$(sw_child_count "$2" "$3")" = 1 ]
}

iked_child() {
	iked "$1" sas --json 2>/dev/null | jq -r --arg c "$2" --arg f "$3" '[.ike_sas[] |
		select(.connection == $c and .state == "established") | .children[] |
		select(.state == "installed")][0][$f] // ""'
}

xfrm_state_of() {
	# With -s, ip prints "spi 0x%08x(%u)".
	ns_exec "$1" ip -s xfrm state | awk -v spi="spi 0x$2[ (]" '
		/^src / { if (hit) exit; block = "" }
		{ block = block $0 "\n" }
		$0 ~ spi { hit = 1 }
		END { if (hit) printf "%s", block }'
}

xfrm_sa_packets() {
	# "lifetime current:" is followed by "N(bytes), M(packets)"; the
	# config's "limit: soft (INF)(packets)" lines are not counters.
	xfrm_state_of "$1" "$2" | awk '/[0-9]+\(bytes\), [0-9]+\(packets\)/ {
		sub(/\(packets\).*/, ""); sub(/.* /, ""); print; exit }'
}

xfrm_brief() {
	ns_exec "$1" ip xfrm state | grep -Ev '^\s+([0-9a-f]{8} |seq-hi|replay_window|anti-replay|aead|enc |auth)'
}
