# shellcheck shell=bash
# What the MLD proxy's guest tests (mld_proxy.sh, mld_proxy_stress.sh) and
# tools/bench/mld_bench.sh share, on top of selftests/lib/netns.sh: the
# binaries, the lab helper (mld_lab.py), a topology of namespaces with a
# source "src" and the proxy "px", and readers of the helpers' logs.
#
#   mld_topology DOWN...      namespaces src, px and each DOWN (accept_dad 0),
#                             src s0 -- px u0, px dI -- DOWN e0 (I from 1);
#                             S1 and S2 on s0; waits for every link-local
#   mld_start_proxy CONF [ARG…]
#                             umigame-mldproxy -c CONF ARG… in px; waits for its socket
#                             ($MLD_SOCK); PID in $proxy_pid
#   mld_show                  `umigame mld show --json`
#   mld_helper NS NAME ARGS…  start mld_lab.py ARGS in NS (bg NAME); for
#                             `listen`, wait until it is ready
#   seq_now                   the source's last round
#   last_seq LOG S G, last_time LOG S G
#                             the last round / tap time of (S,G) in LOG
#   flowing LOG S G           (S,G) seen within the last 30 rounds
mld_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mld_repo=$(cd "$mld_here/../.." && pwd)
proxy_bin=${MLDPROXY_BIN:-$mld_repo/build/release/userspace/mldproxy/umigame-mldproxy}
cli=${UMIGAME_CLI:-$mld_repo/build/release/tools/umigame/umigame}
lab=(/usr/bin/python3 "$mld_repo/selftests/vm/mld_lab.py")
# shellcheck disable=SC2034 # for the scripts that source this
S1=2001:db8:1::10 S2=2001:db8:1::11 PORT=5000
MLD_SOCK=

mld_topology() {
	local n i=1 links=(px:u0 src:s0)
	for n in src px "$@"; do
		ns_create "$n" >/dev/null
		ns_sysctl "$n" net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	veth_pair src s0 px u0
	for n in "$@"; do
		veth_pair px "d$i" "$n" e0
		links+=("px:d$i" "$n:e0")
		i=$((i + 1))
	done
	ns_exec src ip -6 addr add $S1/64 dev s0
	ns_exec src ip -6 addr add $S2/64 dev s0
	for n in "${links[@]}"; do
		wait_for 10 "link-local on $n" link_local_ready "${n%:*}" "${n#*:}" || umi_die "no link-local on $n"
	done
	for n in src "$@"; do mkdir -p "$(umi_tmp "$n")"; done
}

mld_show() { ns_nsenter px "$cli" mld show --json --socket "$MLD_SOCK"; }

mld_start_proxy() {
	MLD_SOCK=$(grep -o '^control_socket = "[^"]*"' "$1" | cut -d'"' -f2)
	bg_start px proxy "$proxy_bin" -c "$@"
	# shellcheck disable=SC2034 # for the scripts that source this
	proxy_pid=${BG_PID[proxy]}
	wait_for 20 "the proxy answers" json_holds '.downstream | length > 0' mld_show
}

mld_helper() {
	local ns=$1 name=$2
	shift 2
	bg_start "$ns" "$name" "${lab[@]}" "$@"
	if [ "${1%-incoming}" = listen ]; then
		wait_for 30 "helper $name ready" test -e "$2/ready" ||
			umi_die "helper $name did not start: $(tail -5 "$(bg_log "$name")")"
	fi
}

seq_now() { cat "$(umi_tmp src)/seq"; }
last_seq() { awk -v s="$2" -v g="$3" '$1 ~ /^[0-9]+$/ && $2 == s && $3 == g { n = $1 } END { print n + 0 }' "$1"; }
last_time() { awk -v s="$2" -v g="$3" '$1 ~ /^[0-9]+$/ && $2 == s && $3 == g { t = $4 } END { printf "%.6f\n", t }' "$1"; }
flowing() { [ "$(last_seq "$1" "$2" "$3")" -gt 0 ] && [ $(($(seq_now) - $(last_seq "$1" "$2" "$3"))) -lt 30 ]; }
