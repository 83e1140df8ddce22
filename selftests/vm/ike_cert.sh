#!/usr/bin/env bash
# KTAP test, run INSIDE the VM guest (selftests/vm/run.sh ike_cert.sh, or
# tools/vm/vm-run --timeout 400 -- selftests/vm/ike_cert.sh): umigame-iked
# against strongSwan 5.9 (charon-systemd) with X.509 certificates, RFC 7296
# §2.15 / §3.6 / §3.7 and RFC 7427 signatures, both roles.
#
#   ns umi (umigame-iked)                        ns sw (charon-systemd)
#   lo 10.1.0.1                                  lo 10.2.0.1
#   u0 192.0.2.1/24 ------------- veth ------------- s0 192.0.2.2/24
#
# One CA (ECDSA P-256) made here with strongSwan's pki: our certificate
# has an RSA 2048 key (umi.example), strongSwan's an ECDSA P-256 key
# (sw.example). A second CA nobody trusts issues strongSwan another
# certificate for sw.example: our daemon must refuse it.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../ike/peers.sh
source "$repo/selftests/ike/peers.sh"

plan=10
tap_plan $plan
if [ ! -e /proc/modules ] || [ "$EUID" -ne 0 ] || ! command -v charon-systemd >/dev/null ||
	! command -v pki >/dev/null; then
	for _ in $(seq $plan); do tap_skip "ike_cert" "needs the 6.1 guest, strongSwan and strongswan-pki (selftests/vm/run.sh)"; done
	tap_finish
fi
for m in esp4 xfrm4_tunnel; do modprobe -q "$m" 2>/dev/null; done

ns_create umi >/dev/null
ns_create sw >/dev/null
veth_pair umi u0 sw s0
ns_exec umi ip addr add 192.0.2.1/24 dev u0
ns_exec sw ip addr add 192.0.2.2/24 dev s0
ns_exec umi ip addr add 10.1.0.1/32 dev lo
ns_exec sw ip addr add 10.2.0.1/32 dev lo
ns_exec umi ip route add 10.2.0.0/24 via 192.0.2.2 src 10.1.0.1
ns_exec sw ip route add 10.1.0.0/24 via 192.0.2.1 src 10.2.0.1
# Only protected traffic counts: each side drops what should have come
# through ESP but did not (no secpath), so a ping cannot pass in the clear.
for side in umi:10.2.0.0/24 sw:10.1.0.0/24; do
	ns_exec "${side%%:*}" nft -f - <<NFT
table inet only_esp {
	chain input {
		type filter hook input priority filter;
		ip saddr ${side#*:} meta ipsec missing counter drop
	}
}
NFT
done

# --- the PKI --------------------------------------------------------------------
# swanctl reads credentials from folders beside the swanctl.conf it loads:
# x509ca/ (anchors), x509/ (own certificates), private/ (keys of any type).
pki_dir=$(umi_tmp pki)
swdir=$(umi_tmp swanctl)
mkdir -p "$pki_dir" "$swdir/x509ca" "$swdir/x509" "$swdir/private"
pki_() { pki "$@" 2>/dev/null; } # its TPM plugin complains on stderr
make_pki() {
	cd "$pki_dir" || return 1
	pki_ --gen --type ecdsa --size 256 --outform pem >ca.key &&
		pki_ --self --ca --lifetime 30 --in ca.key --type ecdsa \
			--dn "C=CH, O=umigame, CN=umigame test CA" --outform pem >ca.crt &&
		pki_ --gen --type rsa --size 2048 --outform pem >umi.key &&
		pki_ --pub --in umi.key --type rsa >umi.pub &&
		pki_ --issue --cacert ca.crt --cakey ca.key --in umi.pub --type pub \
			--dn "C=CH, O=umigame, CN=umi.example" --san umi.example --outform pem >umi.crt &&
		pki_ --gen --type ecdsa --size 256 --outform pem >sw.key &&
		pki_ --pub --in sw.key --type ecdsa >sw.pub &&
		pki_ --issue --cacert ca.crt --cakey ca.key --in sw.pub --type pub \
			--dn "C=CH, O=strongSwan, CN=sw.example" --san sw.example --outform pem >sw.crt &&
		pki_ --gen --type ecdsa --size 256 --outform pem >rogue-ca.key &&
		pki_ --self --ca --lifetime 30 --in rogue-ca.key --type ecdsa \
			--dn "C=CH, O=umigame, CN=umigame test CA" --outform pem >rogue-ca.crt &&
		pki_ --issue --cacert rogue-ca.crt --cakey rogue-ca.key --in sw.pub --type pub \
			--dn "C=CH, O=strongSwan, CN=sw.example" --san sw.example --outform pem >rogue.crt
}
if (make_pki); then
	tap_ok "pki: a CA, an RSA 2048 certificate for us, ECDSA P-256 for strongSwan, and a rogue CA"
else
	tap_fail "pki: certificates made" "$(ls -l "$pki_dir")"
fi
cp "$pki_dir/ca.crt" "$swdir/x509ca/"
cp "$pki_dir/sw.crt" "$pki_dir/rogue.crt" "$swdir/x509/"
cp "$pki_dir/sw.key" "$swdir/private/"

# Relative paths are taken beside the daemon's configuration file.
cp "$pki_dir/umi.crt" "$pki_dir/umi.key" "$pki_dir/ca.crt" "$UMI_TMPDIR/"
conf=$(umi_tmp iked.toml)
cat >"$conf" <<EOF
[daemon]
control_socket = "$(iked_sock umi)"

[[connection]]
name = "cert"
local_addr = "192.0.2.1"
remote_addr = "192.0.2.2"
local_id = "fqdn:umi.example"
remote_id = "fqdn:sw.example"
auth = "pubkey"
certificate = "umi.crt"
private_key = "umi.key"
ca = ["ca.crt"]
ike_proposals = ["aes256gcm16-prfsha384-ecp384"]
# Certificates make IKE_AUTH larger than this: it goes in RFC 7383 fragments.
fragment_size = 576
# strongSwan answers our first IKE_AUTH only once its first ESP SA is in,
# which takes several seconds after boot under TCG (crypto modules load).
retransmit_timeout_ms = 1000
retransmit_tries = 5
[[connection.child]]
name = "net"
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes128gcm16-esn"]
EOF

swconf=$swdir/swanctl.conf
cat >"$swconf" <<EOF
connections {
  cert {
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes256gcm16-prfsha384-ecp384
    send_cert = always
    local { auth = pubkey
      certs = sw.crt
      id = sw.example }
    remote { auth = pubkey
      id = umi.example }
    children {
      net { local_ts = 10.2.0.0/24
        remote_ts = 10.1.0.0/24
        esp_proposals = aes128gcm16-esn }
    }
  }
}
EOF

# "rogue" is the same peer with the rogue CA's certificate and the same
# identities, so our daemon picks its "cert" connection and must refuse it
# on the chain alone. Loaded in place of "cert" only for the last points:
# side by side, strongSwan could answer our initiation with either.
swconf_rogue=$swdir/swanctl-rogue.conf
cat >"$swconf_rogue" <<EOF
connections {
  rogue {
    local_addrs = 192.0.2.2
    remote_addrs = 192.0.2.1
    proposals = aes256gcm16-prfsha384-ecp384
    send_cert = always
    local { auth = pubkey
      certs = rogue.crt
      id = sw.example }
    remote { auth = pubkey
      id = umi.example }
    children {
      rnet { local_ts = 10.2.0.0/24
        remote_ts = 10.1.0.0/24
        esp_proposals = aes128gcm16-esn }
    }
  }
}
EOF

SW_CHARON_EXTRA="fragment_size = 576" sw_start sw sw
sw_load sw "$swconf" || echo "# swanctl: $(swanctl_ sw --load-all --file "$swconf" 2>&1 | tail -5)"
iked_start umi umi "$conf"

established_both() { # CONN
	[ "$(iked_state umi "$1")" = established ] && [ "$(sw_ike_state sw "$1")" = ESTABLISHED ] &&
		[ "$(iked_children umi "$1")" = 1 ] && [ "$(sw_child_count sw "$1")" = 1 ]
}
ping_ok() { ns_exec umi ping -c 3 -i 0.2 -W 2 -I 10.1.0.1 10.2.0.1 >/dev/null; }
diag() { echo "ours: $(tail -8 "$(bg_log iked-umi)")"; echo "strongSwan: $(grep -E 'authentication|CERT|AUTH' "$(sw_log sw)" | tail -8)"; }
auth_failed() { iked umi show --json | jq -r '.counters.auth_failed'; }

# --- our daemon as initiator ---------------------------------------------------
# RFC 7296 §1.2/§2.15: IDi, CERT, CERTREQ, IDr, AUTH (RFC 7427 §3 method
# 14, RSA); strongSwan answers with its ECDSA certificate.
iked umi up cert
if wait_for 60 "cert established on both sides" established_both cert; then
	tap_ok "initiator (RSA certificate) -> strongSwan responder (ECDSA certificate): IKE SA and CHILD_SA up (RFC 7296 §2.15, RFC 7427)"
else
	tap_fail "initiator (RSA) -> strongSwan responder (ECDSA)" "$(diag)"
fi
tap_check "initiator: ping 10.1.0.1 -> 10.2.0.1 through the tunnel" ping_ok
# RFC 7427 §3: strongSwan names the signature scheme it checked.
if grep -q "authentication of 'umi.example' with RSA_EMSA_PKCS1_SHA2_256 successful" "$(sw_log sw)" &&
	grep -q "received end entity cert \"C=CH, O=umigame, CN=umi.example\"" "$(sw_log sw)"; then
	tap_ok "strongSwan verified our CERT and our method 14 RSA signature (SHA2-256, RFC 7427 §3)"
else
	tap_fail "strongSwan verified our CERT and RSA signature" "$(diag)"
fi

# RFC 7383 §2.5: both IKE_AUTH messages went in fragments, ours and
# strongSwan's, and each side reassembled the other's.
frags() { iked umi show --json | jq -r ".counters.fragments_$1"; }
if [ "$(frags sent)" -ge 2 ] && [ "$(frags received)" -ge 2 ] &&
	grep -q "received fragment #" "$(sw_log sw)"; then
	tap_ok "IKE fragmentation both ways: $(frags sent) fragments sent, $(frags received) received (RFC 7383 §2.5)"
else
	tap_fail "IKE fragmentation both ways (RFC 7383)" "sent $(frags sent), received $(frags received); $(grep -i fragment "$(sw_log sw)" | tail -3)"
fi

# Both sides drop whatever is left, so the next point starts from nothing
# even after a failure above.
reset_sas() {
	iked umi down cert >/dev/null 2>&1
	swanctl_ sw --terminate --ike "$1" >/dev/null 2>&1
	wait_for 20 "no SA left on either side" gone >/dev/null 2>&1
}
gone() { [ -z "$(iked_state umi cert)" ] && [ -z "$(sw_ike_state sw cert)" ] && [ -z "$(ns_exec umi ip xfrm state)" ]; }
reset_sas cert
sw_lines=$(wc -l <"$(sw_log sw)")

# --- our daemon as responder ---------------------------------------------------
# §3.7: our IKE_SA_INIT answer asks for certificates from our CA.
swanctl_ sw --initiate --child net >/dev/null 2>&1
if wait_for 60 "cert established by strongSwan" established_both cert; then
	tap_ok "strongSwan initiator (ECDSA certificate) -> our responder (RSA certificate): IKE SA and CHILD_SA up (RFC 7296 §2.15)"
else
	tap_fail "strongSwan initiator -> our responder" "$(diag)"
fi
tap_check "responder: ping through the tunnel" ping_ok
# Only what strongSwan logged as initiator: our IKE_AUTH request above
# carried a CERTREQ too.
if tail -n +"$((sw_lines + 1))" "$(sw_log sw)" | grep -q "received cert request for \"C=CH, O=umigame, CN=umigame test CA\""; then
	tap_ok "strongSwan read our CERTREQ as a request for our CA (RFC 7296 §3.7, SHA-1 of its SubjectPublicKeyInfo)"
else
	tap_fail "our CERTREQ names our CA" "$(grep -i 'cert request' "$(sw_log sw)" | tail -3)"
fi
reset_sas cert

# --- a certificate from a CA we do not trust -------------------------------------
# RFC 7296 §2.21.2 / RFC 5280 §6: same identity, right key, unknown issuer:
# AUTHENTICATION_FAILED, nothing installed.
sw_load sw "$swconf_rogue" || echo "# swanctl: $(swanctl_ sw --load-all --file "$swconf_rogue" 2>&1 | tail -5)"
before=$(auth_failed)
swanctl_ sw --initiate --child rnet --timeout 30 >/dev/null 2>&1
refused() { [ "$(auth_failed)" -gt "${before:-0}" ] && grep -q "received AUTHENTICATION_FAILED" "$(sw_log sw)"; }
if wait_for 60 "the rogue certificate refused" refused && [ -z "$(iked_state umi cert)" ] &&
	[ -z "$(ns_exec umi ip xfrm state)" ]; then
	tap_ok "a peer certificate from an unknown CA is refused with AUTHENTICATION_FAILED, no SA kept (RFC 7296 §2.21.2)"
else
	tap_fail "rogue CA refused" "auth_failed ${before:-?} -> $(auth_failed); state '$(iked_state umi cert)'; $(diag)"
fi
if grep -q "does not chain to our ca" "$(bg_log iked-umi)"; then
	tap_ok "our log says why: the chain does not reach our ca (RFC 5280 §6)"
else
	tap_fail "our log says why" "$(tail -5 "$(bg_log iked-umi)")"
fi

tap_finish
