# shellcheck shell=bash
# libreswan.sh — run libreswan 4.10's pluto as an IKEv2 peer for the IKE
# selftests, from the tree selftests/vm/ike_libreswan.prepare unpacks
# (libreswan cannot be installed beside strongSwan). Source
# selftests/lib/netns.sh first.
#
#   ls_start NS NAME CONF SECRETS  start pluto in NS with ipsec.conf CONF and
#                                  ipsec.secrets SECRETS, a fresh NSS database
#                                  and its own run dir; waits until every
#                                  auto=add connection is loaded
#   ls_nss_import NAME P12 PASS CA import a PKCS#12 (certificate and key,
#                                  nickname as in the file) and a CA
#                                  certificate (PEM, nickname "ca", trusted
#                                  to issue: CT,,) into NAME's NSS database;
#                                  call before ls_start, which then keeps it
#   ls_whack NAME ARGS...          whack against it
#   ls_ike_count NAME CONN         established IKE SAs of CONN
#   ls_child_count NAME CONN       established CHILD_SAs of CONN
#   ls_log NAME                    pluto's log
#
# Everything is per run under $UMI_TMPDIR: pluto is given --rundir, --nssdir,
# --secretsfile and --ipsecdir, and its config sets dumpdir, so nothing in
# /etc, /run/pluto or /var/lib/ipsec is read or written.

LS_ROOT=${LS_ROOT:-${UMIGAME_FIXTURES:-}/root}
LS_EXEC=$LS_ROOT/usr/libexec/ipsec

_ls_dir() { echo "$UMI_TMPDIR/ls-$1"; }

ls_available() { [ -x "$LS_EXEC/pluto" ] && [ -x "$LS_EXEC/whack" ] && command -v certutil >/dev/null; }

# A fresh, password-less database each run: PSK needs no certificate, but
# pluto will not start without an NSS database.
_ls_nss_init() {
	local dir
	dir=$(_ls_dir "$1")
	mkdir -p "$dir/nss"
	[ -e "$dir/nss/cert9.db" ] || certutil -N -d "sql:$dir/nss" --empty-password
}

# pluto finds its own certificate by nickname (leftcert=) and the private
# key beside it in the database; peers' chains must end at a CA trusted
# with C (valid CA) and T (trusted for client authentication).
ls_nss_import() {
	local name=$1 p12=$2 pass=$3 ca=$4 db
	db=sql:$(_ls_dir "$name")/nss
	_ls_nss_init "$name" || return 1
	pk12util -i "$p12" -d "$db" -W "$pass" -K "" >/dev/null || return 1
	certutil -A -d "$db" -n ca -t CT,, -a -i "$ca"
}

ls_start() {
	local ns=$1 name=$2 conf=$3 secrets=$4 dir
	dir=$(_ls_dir "$name")
	mkdir -p "$dir/run"
	_ls_nss_init "$name" || return 1
	# pluto runs addconn (auto=add connections) and whack's helpers from
	# its compiled-in /usr/libexec/ipsec, which the read-only root lacks:
	# a private mount namespace puts the unpacked tree there for pluto
	# alone. unshare and sh exec, so the PID bg_start records is pluto's.
	# shellcheck disable=SC2016 # expanded by the inner sh, from its arguments
	bg_start "$ns" "pluto-$name" unshare -m --propagation private sh -c '
		mount --bind "$1" /usr/libexec || exit 1
		shift
		exec /usr/libexec/ipsec/pluto "$@"' sh "$LS_ROOT/usr/libexec" \
		--nofork --stderrlog --config "$conf" --secretsfile "$secrets" \
		--rundir "$dir/run" --nssdir "$dir/nss" --ipsecdir "$dir" --no-dnssec >/dev/null
	wait_for 30 "pluto $name's control socket" test -S "$dir/run/pluto.ctl" || return 1
	wait_for 30 "pluto $name loads its secrets (start-up done)" \
		grep -q 'loading secrets from' "$(bg_log "pluto-$name")"
}

# whack itself needs nothing from /usr/libexec: run it from the tree.
ls_whack() {
	local name=$1
	shift
	"$LS_EXEC/whack" --ctlsocket "$(_ls_dir "$name")/run/pluto.ctl" "$@"
}

# `whack --showstates` prints one line per state, e.g.
#   000 #1: "v4":500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); ...
ls_ike_count() {
	ls_whack "$1" --showstates 2>/dev/null | grep -cE "\"$2\"[:[].*ESTABLISHED_IKE_SA"
}

ls_child_count() {
	ls_whack "$1" --showstates 2>/dev/null | grep -cE "\"$2\"[:[].*ESTABLISHED_CHILD_SA"
}

ls_log() { bg_log "pluto-$1"; }
