# shellcheck shell=bash
# netns.sh — network-namespace helpers for umigame's host selftests, in the
# spirit of the kernel's tools/testing/selftests/wireguard/netns.sh.
#
# A test sources this file (it sources tap.sh too) and gets:
#
#   ns_create NAME            create namespace for logical NAME; its real name
#                             is "umi-<run id>-NAME", printed by ns_name NAME
#                             and stored in REPLY. lo is brought up.
#   ns_name NAME              print the real name (no side effects)
#   ns_exec NAME CMD...       run CMD in the namespace (ip netns exec: fresh
#                             /sys, so the host's bpffs is NOT visible there)
#   ns_nsenter NAME CMD...    run CMD in the namespace's network stack only
#                             (nsenter --net): keeps the host's mounts, so
#                             /sys/fs/bpf is visible. Use it for the umigame
#                             CLI and bpftool.
#   ns_sysctl NAME KEY=VAL... set sysctls in the namespace
#   veth_pair NS1 IF1 NS2 IF2 [MAC1 [MAC2]]
#                             create a veth pair with one end in each
#                             namespace, optional fixed MACs, both ends up
#   link_track NS IF          remember a link created by hand for cleanup
#                             (NS "" = the host namespace)
#   link_local_ready NS IF    succeed when IF in NS has a link-local IPv6
#                             address that is no longer tentative (DAD
#                             done): the moment it can send ND and DHCPv6
#   json_holds FILTER CMD...  run CMD and succeed when it succeeded, printed
#                             JSON, and the jq FILTER is true of it (plain
#                             `CMD | jq -e` also succeeds when CMD printed
#                             nothing)
#   wait_for SECS DESC CMD... poll CMD (every 0.1 s) until it succeeds or SECS
#                             have passed; on timeout print "timed out after
#                             SECS s waiting for: DESC" (KTAP diagnostic, to
#                             stderr) and return 1
#   bg_start NS NAME CMD...   start CMD in the background inside NS (NS ""
#                             = host), stdout+stderr appended to
#                             $UMI_TMPDIR/NAME.log;
#                             sets BG_PID[NAME] and REPLY to its PID
#   bg_stop NAME              stop one background process (TERM, then KILL)
#   bg_log NAME               print the path of its log file
#   on_cleanup CMD...         run CMD (first registered runs last) at cleanup,
#                             before processes are killed and namespaces go
#   umi_tmp NAME              print a path under the run's temp directory
#
# Cleanup runs on EXIT and on INT/TERM/HUP, whether the test passed, failed
# or died halfway: registered hooks, then every background process and every
# other process still inside one of our namespaces is killed, every tracked
# link and namespace is deleted, the temp directory is removed (kept when
# UMI_KEEP_TMP=1, to read the logs). After any run, `ip netns list` shows no
# umi-<run id>-* left.
#
# Environment: UMI_RUN_ID (default: a short suffix from PID and $RANDOM),
# UMI_KEEP_TMP=1, UMI_VERBOSE=1 (trace helpers to stderr).

# shellcheck source-path=SCRIPTDIR source=tap.sh
source "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

UMI_RUN_ID=${UMI_RUN_ID:-$(printf '%x%04x' "$$" "$RANDOM")}
UMI_NS_PREFIX="umi-${UMI_RUN_ID}-"
UMI_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/umi-${UMI_RUN_ID}.XXXXXX")

declare -a _UMI_NAMESPACES=()     # real names, creation order
declare -a _UMI_LINKS=()          # "ns|ifname" created by hand
declare -a _UMI_HOOKS=()          # cleanup commands (eval'd)
declare -A BG_PID=()              # background NAME -> PID
declare -a _UMI_BG_ORDER=()
_UMI_CLEANED=0

_umi_trace() { [ "${UMI_VERBOSE:-0}" = 1 ] && echo "# + $*" >&2; return 0; }

umi_die() {
	echo "# FATAL: $*" >&2
	exit 1
}

umi_tmp() { echo "$UMI_TMPDIR/$1"; }

ns_name() { echo "${UMI_NS_PREFIX}$1"; }

ns_create() {
	local real
	real=$(ns_name "$1")
	_umi_trace "ns_create $1 -> $real"
	ip netns add "$real" || umi_die "cannot create namespace $real"
	_UMI_NAMESPACES+=("$real")
	ip -n "$real" link set lo up
	REPLY=$real
}

ns_exec() {
	local ns=$1
	shift
	ip netns exec "$(ns_name "$ns")" "$@"
}

ns_nsenter() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$(ns_name "$ns")" "$@"
}

ns_sysctl() {
	local ns=$1 kv
	shift
	for kv in "$@"; do
		ns_exec "$ns" sysctl -qw "$kv" >/dev/null ||
			umi_die "sysctl $kv in $ns failed"
	done
}

link_track() { _UMI_LINKS+=("$1|$2"); }

# veth_pair NS1 IF1 NS2 IF2 [MAC1 [MAC2]]: both ends are created directly in
# their namespaces, so no temporary name ever appears in the host namespace
# (parallel runs cannot collide on link names).
veth_pair() {
	local ns1=$1 if1=$2 ns2=$3 if2=$4 mac1=${5:-} mac2=${6:-}
	local n1 n2
	n1=$(ns_name "$ns1")
	n2=$(ns_name "$ns2")
	_umi_trace "veth_pair $ns1:$if1 ${mac1:-} <-> $ns2:$if2 ${mac2:-}"
	ip link add "$if1" ${mac1:+address "$mac1"} netns "$n1" type veth \
		peer name "$if2" ${mac2:+address "$mac2"} netns "$n2" ||
		umi_die "cannot create veth $ns1:$if1 <-> $ns2:$if2"
	link_track "$n1" "$if1"
	ip -n "$n1" link set "$if1" up
	ip -n "$n2" link set "$if2" up
}

link_local_ready() {
	local n
	n=$(ns_name "$1")
	ip -n "$n" -6 addr show dev "$2" scope link | grep -q inet6 &&
		! ip -n "$n" -6 addr show dev "$2" scope link tentative | grep -q inet6
}

# link_local_of NS IF: the link-local address of IF in NS (empty if none).
link_local_of() {
	ip -n "$(ns_name "$1")" -6 addr show dev "$2" scope link |
		awk '/inet6/ { sub("/.*", "", $2); print $2; exit }'
}

json_holds() {
	local filter=$1 out
	shift
	out=$("$@") && [ -n "$out" ] && jq -e "$filter" <<<"$out" >/dev/null
}

# _umi_now_ms: wall clock in milliseconds (bash 5's EPOCHREALTIME).
_umi_now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

wait_for() {
	local secs=$1 desc=$2
	shift 2
	local start now
	start=$(_umi_now_ms)
	while :; do
		if "$@" >/dev/null 2>&1; then
			now=$(_umi_now_ms)
			_umi_trace "wait_for: '$desc' after $((now - start)) ms"
			return 0
		fi
		now=$(_umi_now_ms)
		if [ $((now - start)) -ge $((secs * 1000)) ]; then
			echo "# timed out after $secs s waiting for: $desc" >&2
			return 1
		fi
		sleep 0.1
	done
}

bg_start() {
	local ns=$1 name=$2
	shift 2
	local log="$UMI_TMPDIR/$name.log"
	_umi_trace "bg_start ${ns:-host} $name: $*"
	if [ -n "$ns" ]; then
		ip netns exec "$(ns_name "$ns")" "$@" >>"$log" 2>&1 </dev/null &
	else
		"$@" >>"$log" 2>&1 </dev/null &
	fi
	BG_PID[$name]=$!
	_UMI_BG_ORDER+=("$name")
	REPLY=$!
}

bg_log() { echo "$UMI_TMPDIR/$1.log"; }

bg_running() {
	local pid=${BG_PID[$1]:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# _umi_kill PID: TERM, wait up to 2 s, then KILL; reaps our own children.
# _umi_kill PID [GRACE_SECS]: SIGTERM, then SIGKILL after the grace (2 s).
_umi_kill() {
	local pid=$1 grace=${2:-2} i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		# a zombie child of ours counts as gone
		[ "$(ps -o stat= -p "$pid" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# bg_stop NAME [GRACE_SECS]: a daemon whose SIGTERM does work (an IKE
# daemon's Deletes) is given the time its own shutdown bound allows.
bg_stop() {
	local pid=${BG_PID[$1]:-}
	[ -n "$pid" ] || return 0
	_umi_kill "$pid" "${2:-2}"
	unset "BG_PID[$1]"
}

on_cleanup() { _UMI_HOOKS+=("$*"); }

umi_cleanup() {
	local rc=$? i name ns pid entry
	[ "$_UMI_CLEANED" = 1 ] && return "$rc"
	_UMI_CLEANED=1
	set +e
	trap - ERR
	for ((i = ${#_UMI_HOOKS[@]} - 1; i >= 0; i--)); do
		_umi_trace "cleanup hook: ${_UMI_HOOKS[i]}"
		eval "${_UMI_HOOKS[i]}" >/dev/null 2>&1
	done
	for ((i = ${#_UMI_BG_ORDER[@]} - 1; i >= 0; i--)); do
		name=${_UMI_BG_ORDER[i]}
		[ -n "${BG_PID[$name]:-}" ] && bg_stop "$name"
	done
	# Anything else still running inside one of our namespaces (a daemon
	# that forked, a tool started with ns_exec and left behind) was started
	# by this run: kill it by PID so the namespace can really go away.
	for ns in "${_UMI_NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			[ "$pid" = "$$" ] || _umi_kill "$pid"
		done
	done
	for ((i = ${#_UMI_LINKS[@]} - 1; i >= 0; i--)); do
		entry=${_UMI_LINKS[i]}
		ns=${entry%%|*}
		name=${entry#*|}
		if [ -n "$ns" ]; then
			ip -n "$ns" link del "$name" 2>/dev/null
		else
			ip link del "$name" 2>/dev/null
		fi
	done
	for ((i = ${#_UMI_NAMESPACES[@]} - 1; i >= 0; i--)); do
		ip netns del "${_UMI_NAMESPACES[i]}" 2>/dev/null
	done
	if [ "${UMI_KEEP_TMP:-0}" = 1 ]; then
		echo "# kept logs in $UMI_TMPDIR" >&2
	else
		rm -rf "$UMI_TMPDIR"
	fi
	return "$rc"
}

trap umi_cleanup EXIT
trap 'echo "# interrupted (SIGINT)"; exit 130' INT
trap 'echo "# terminated (SIGTERM)"; exit 143' TERM
trap 'exit 129' HUP

# umi_require CMD...: KTAP-skip the whole script (exit 4) unless every
# command exists and we are root.
umi_require() {
	local c
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP needs root (network namespaces)"
		exit 4
	fi
	for c in "$@"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "1..0 # SKIP missing $c"
			exit 4
		fi
	done
}
