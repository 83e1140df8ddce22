# shellcheck shell=bash
# peers.sh — run IKEv2 daemons for the IKE selftests: our umigame-iked and
# strongSwan's charon-systemd, each in a namespace with files of its own
# under $UMI_TMPDIR. Source selftests/lib/netns.sh first.
#
#   iked_start NS NAME CONF     start umigame-iked in NS with CONF; waits for
#                               its control socket; the socket is
#                               $(iked_sock NAME) (CONF must name it)
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
	bg_start "$ns" "iked-$name" "$IKED_BIN" -v -c "$conf" >/dev/null
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
