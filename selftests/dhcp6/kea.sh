# shellcheck shell=bash
# kea.sh — Kea (kea-dhcp6) as a delegating router inside a test namespace,
# for the DHCPv6 tests and benchmarks. Source after ../lib/netns.sh.
#
#   kea_start NS IFACE POOL DELEGATED_LEN [T1 T2 PREFERRED VALID]
#       write a config under the run's temp dir and start kea-dhcp6 in NS,
#       serving IFACE from POOL (e.g. 2001:db8:100::/40) in /DELEGATED_LEN
#       prefixes; returns once Kea has opened its socket on IFACE.
#       KEA_EXTRA_OPTIONS may hold extra "option-data" JSON entries
#       (comma-separated objects) for the subnet; KEA_SUBNET the link's
#       subnet (default 2001:db8:ffff::/64), KEA_ADDRESS_POOL an IA_NA
#       pool in it ("FIRST-LAST"; default none) and KEA_PD_EXCLUDE a
#       prefix inside the pool's first delegated prefix that Kea excludes
#       from every delegated one (RFC 6603; default none).
#   kea_leases NS       print Kea's memfile lease CSV (header included)
#
# What Kea needs in a namespace (measured, see ARCHITECTURE-NOTES): scratch
# pid/lock dirs, a memfile of its own with lfc-interval 0, a server-id it
# does not persist, and an interface whose link-local address is no longer
# tentative.

KEA_DIR=""

kea_start() {
	local ns=$1 ifc=$2 pool=$3 dlen=$4
	local t1=${5:-1000} t2=${6:-1600} pref=${7:-1800} valid=${8:-3600}
	KEA_DIR=$(umi_tmp "kea-$ns")
	mkdir -p "$KEA_DIR"
	local base=${pool%/*} plen=${pool#*/} pools=""
	[ -n "${KEA_ADDRESS_POOL:-}" ] && pools="{ \"pool\": \"$KEA_ADDRESS_POOL\" }"
	local exclude=""
	[ -n "${KEA_PD_EXCLUDE:-}" ] &&
		exclude=", \"excluded-prefix\": \"${KEA_PD_EXCLUDE%/*}\", \"excluded-prefix-len\": ${KEA_PD_EXCLUDE#*/}"
	cat >"$KEA_DIR/kea.json" <<JSON
{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "$ifc" ],
                           "service-sockets-max-retries": 50,
                           "service-sockets-retry-wait-time": 200 },
    "lease-database": { "type": "memfile", "persist": true,
                        "name": "$KEA_DIR/leases6.csv", "lfc-interval": 0 },
    "server-id": { "type": "LLT", "persist": false },
    "renew-timer": $t1, "rebind-timer": $t2,
    "preferred-lifetime": $pref, "valid-lifetime": $valid,
    "subnet6": [ {
        "subnet": "${KEA_SUBNET:-2001:db8:ffff::/64}", "interface": "$ifc",
        "pools": [ $pools ],
        "rapid-commit": true,
        "pd-pools": [ { "prefix": "$base", "prefix-len": $plen, "delegated-len": $dlen $exclude } ],
        "option-data": [ ${KEA_EXTRA_OPTIONS:-} ]
    } ],
    "loggers": [ { "name": "kea-dhcp6", "severity": "WARN",
                   "output_options": [ { "output": "stdout" } ] } ]
} }
JSON
	local n
	n=$(ns_name "$ns")
	wait_for 10 "$ns:$ifc link-local address past DAD" link_local_ready "$ns" "$ifc" || return 1
	KEA_PIDFILE_DIR=$KEA_DIR KEA_LOCKFILE_DIR=$KEA_DIR \
		bg_start "$ns" "kea-$ns" kea-dhcp6 -c "$KEA_DIR/kea.json"
	wait_for 15 "kea-dhcp6 listening on $ns:$ifc port 547" \
		sh -c "ip netns exec $n ss -uln | grep -q ':547 '" || return 1
}

kea_leases() { cat "$(umi_tmp "kea-$1")/leases6.csv"; }
