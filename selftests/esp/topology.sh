# shellcheck shell=bash
# The ESP lab, shared by selftests/vm/esp_xfrm.sh and the demo's ESP scene
# (tools/demo/esp_scene.sh); sourced after selftests/lib/netns.sh, inside
# the 6.1 guest. The kernel's xfrm sends from tx; umigame receives on rx,
# which has no xfrm state.
#
#   tx                                          rx (umigame esp on rx0)
#   lo  2001:db8:1::1  10.1.0.1  10.1.0.3       lo  2001:db8:2::1  10.2.0.1  10.2.0.3
#       2001:db8:1::2                               2001:db8:2::2
#   tx0 2001:db8:ffff::1 192.0.2.1  <--veth-->  rx0 2001:db8:ffff::2 192.0.2.2
#
# Replies travel back in the clear (rx has no outbound SA).

ESP_UMIGAME=${ESP_UMIGAME:-$repo/build/release/tools/umigame/umigame}
ESP_KO=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}
KEY128=0x0102030405060708090a0b0c0d0e0f10a1a2a3a4
KEY256=0x2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40b1b2b3b4
GCM="rfc4106(gcm(aes))"
declare -A SA_ID=() # SPI -> umigame.ko's SA id

rx() { ns_nsenter rx "$@"; }
tx() { ns_nsenter tx "$@"; }
umigame_rx() { rx "$ESP_UMIGAME" "$@"; }

esp_stat() { # REASON: packets counted under an esp_stats reason
	umigame_rx esp stats --json | jq -r ".reasons.$1.packets"
}
esp_sa_stat() { # SPI FIELD: a per-SA counter, by the SA's SPI
	umigame_rx esp stats --json | jq -r ".sas[] | select(.id == ${SA_ID[$1]}) | .$2"
}

esp_sa_add() { # SPI ARGS...: add an SA to umigame.ko on rx, remember its id
	local spi=$1 out
	shift
	if out=$(umigame_rx sa add spi "$spi" "$@" 2>&1); then
		SA_ID[$spi]=$(grep -oE '[0-9]+' <<<"$out" | tail -1)
		return 0
	fi
	echo "$out" >&2
	return 1
}

esp_xfrm_out() { # SPI SRC DST INNER_SRC INNER_DST EXTRA...: tx's outbound SA + policy
	local spi=$1 src=$2 dst=$3 isrc=$4 idst=$5
	shift 5
	tx ip xfrm state add src "$src" dst "$dst" proto esp spi "$spi" reqid "$spi" mode tunnel "$@" &&
		tx ip xfrm policy add src "$isrc" dst "$idst" dir out \
			tmpl src "$src" dst "$dst" proto esp reqid "$spi" mode tunnel
}

esp_lab_start() { # PLAN NAME: a guest test's start: its TAP plan (all skipped
	# outside the guest), a fresh umigame.ko (unloaded at exit), the lab
	local plan=$1 name=$2
	tap_plan "$plan"
	if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ]; then
		for _ in $(seq "$plan"); do tap_skip "$name" "needs root and module support (selftests/vm/run.sh)"; done
		tap_finish
	fi
	on_cleanup 'rmmod umigame 2>/dev/null; true'
	rmmod umigame 2>/dev/null
	tap_check "insmod umigame.ko" insmod "$ESP_KO"
	esp_lab_up
}

esp_lab_up() { # namespaces, veth, addresses and routes of the diagram
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	ns_create tx
	ns_create rx
	local n a
	for n in tx rx; do
		ns_sysctl "$n" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	done
	veth_pair tx tx0 rx rx0
	tx ip addr add 2001:db8:ffff::1/64 dev tx0
	rx ip addr add 2001:db8:ffff::2/64 dev rx0
	tx ip addr add 192.0.2.1/24 dev tx0
	rx ip addr add 192.0.2.2/24 dev rx0
	for a in 2001:db8:1::1/128 2001:db8:1::2/128 10.1.0.1/32 10.1.0.3/32; do
		tx ip addr add "$a" dev lo
	done
	for a in 2001:db8:2::1/128 2001:db8:2::2/128 10.2.0.1/32 10.2.0.3/32; do
		rx ip addr add "$a" dev lo
	done
	tx ip route add 2001:db8:2::/64 via 2001:db8:ffff::2
	tx ip route add 10.2.0.0/24 via 192.0.2.2
	rx ip route add 2001:db8:1::/64 via 2001:db8:ffff::1
	rx ip route add 10.1.0.0/24 via 192.0.2.1
}
