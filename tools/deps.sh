#!/usr/bin/env bash
# Install, idempotently, every Debian 12 package the build, the tests, the
# demo and the benchmarks need. `make deps` runs it; `make check` and
# `make demo` run it when a package is missing. Only Debian packages: nothing
# else is downloaded.
set -euo pipefail

packages=(
	# build: C/C++ toolchain, BPF, kernel module with BTF
	build-essential cmake pkg-config clang llvm gcc-multilib
	libbpf-dev bpftool libelf-dev zlib1g-dev dwarves
	linux-headers-amd64 linux-image-amd64 linux-source-6.1 bc bison flex
	libssl-dev libmnl-dev libtomlplusplus-dev libsystemd-dev
	nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
	libnftables-dev nftables
	# VM runner
	qemu-system-x86 busybox-static kmod cpio xz-utils
	# network tests, interop peers, packet tools
	iproute2 radvd thc-ipv6 ndisc6 python3 python3-scapy tcpdump jq procps isc-dhcp-client
	socat iputils-ping tcpreplay
	# SCTP over veth: the senders switch CRC32c offload off (classify_rewrite.sh)
	ethtool
	# DHCPv6 interop peers: ISP-side server, requesting routers, a relay
	kea-dhcp6-server wide-dhcpv6-client dhcpcd-base isc-dhcp-relay
	util-linux
	# MLD proxy bench floor: a static (S,G) route (tools/bench/mld_bench.sh)
	smcroute
	# IKEv2 interop peer (libreswan conflicts with it: selftests unpack
	# libreswan privately, see selftests/ike/)
	charon-systemd strongswan-swanctl strongswan-pki libstrongswan-standard-plugins
	libstrongswan-extra-plugins libnss3-tools
	# libreswan's shared libraries, for the pluto that selftests/vm/
	# ike_libreswan.prepare unpacks (libnss3/libnspr4 come with libnss3-tools,
	# libaudit/libcap-ng/libpam are in every Debian); none conflicts with strongSwan
	libunbound8 libldns3 libevent-core-2.1-7 libevent-pthreads-2.1-7 libcurl3-nss libldap-2.5-0
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done

if [ "${1:-}" = "--check" ]; then
	[ ${#missing[@]} -eq 0 ] && exit 0
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} packages"
