#!/usr/bin/env bash
# The demo's ESP scene, run INSIDE the Debian 6.1 guest by tools/demo.sh
# (tools/vm/vm-run): the kernel's xfrm encrypts on tx, umigame decrypts in
# XDP on rx, which has no xfrm state. The lab: selftests/esp/topology.sh.
set -u
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../../selftests/lib/netns.sh
source "$repo/selftests/lib/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../../selftests/esp/topology.sh
source "$repo/selftests/esp/topology.sh"

# shellcheck source-path=SCRIPTDIR source=scene.sh
source "$repo/tools/demo/scene.sh"
ko=${UMIGAME_KO:-$repo/build/kmod/umigame.ko}

on_cleanup 'rmmod umigame 2>/dev/null; true'
rmmod umigame 2>/dev/null
insmod "$ko" || { echo "cannot load $ko"; exit 1; }
esp_lab_up
esp_xfrm_out 0x100 2001:db8:ffff::1 2001:db8:ffff::2 2001:db8:1::1/128 2001:db8:2::1/128 \
	flag esn replay-window 4096 aead "$GCM" $KEY128 128

title "tx: the kernel's own IPsec (ip xfrm), ESN, window 4096"
run "ip xfrm state list   (on tx, keys and replay bitmap left out)"
tx ip xfrm state list | grep -vE '^\s+(aead|auth|enc) |^\s+[0-9a-f]{8} ' | indent
title "rx: no xfrm state at all"
run "ip xfrm state list   (on rx)"
echo "    ($(rx ip xfrm state list | wc -l) lines)"

title "rx: the same SA, in umigame.ko only; ESP decrypted in XDP"
run "insmod umigame.ko"
run "umigame sa add src 2001:db8:ffff::1 dst 2001:db8:ffff::2 spi 0x100 mode tunnel aead 'rfc4106(gcm(aes))' 0x0102…a4 128 replay-window 65536 flag esn"
esp_sa_add 0x100 src 2001:db8:ffff::1 dst 2001:db8:ffff::2 mode tunnel aead "$GCM" $KEY128 128 \
	replay-window 65536 flag esn
echo "    SA id ${SA_ID[0x100]:-?}"
run "umigame esp attach rx0 --drop-unknown-spi"
umigame_rx esp attach rx0 --drop-unknown-spi | indent
run "umigame sa show   (no key is ever shown)"
umigame_rx sa show | indent

title "traffic from tx to rx's inner address 2001:db8:2::1"
run "ping -c 3 2001:db8:2::1"
tx ping -6 -c 3 -i 0.3 -W 2 -I 2001:db8:1::1 2001:db8:2::1 | tail -2 | indent
head -c 1048576 /dev/urandom >"$(umi_tmp blob)"
bg_start rx sink socat -u "TCP6-LISTEN:5001,bind=[2001:db8:2::1],reuseaddr" "OPEN:$(umi_tmp got),creat,trunc"
wait_for 5 "sink" eval '[ -n "$(rx ss -Hlnt "sport = :5001")" ]'
run "socat 1 MiB over TCP, then compare sha256"
tx socat -u "OPEN:$(umi_tmp blob)" "TCP6:[2001:db8:2::1]:5001,bind=[2001:db8:1::1]"
wait_for 20 "1 MiB" eval '[ "$(stat -c %s "$(umi_tmp got)" 2>/dev/null)" = 1048576 ]'
if [ "$(sha256sum <"$(umi_tmp blob)")" = "$(sha256sum <"$(umi_tmp got)")" ]; then
	echo "    ${G}sha256 equal: 1 MiB decrypted in XDP${N}"
else
	echo "    ${R}the transfer differs${N}"
fi

title "an attacker replays captured ESP packets"
bg_start tx capture tcpdump -i tx0 --immediate-mode -U -w "$(umi_tmp esp.pcap)" 'ip6 proto 50'
wait_for 5 "tcpdump" test -s "$(bg_log capture)"
tx ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:2::1 >/dev/null
wait_for 5 "capture" eval '[ "$(tcpdump -r "$(umi_tmp esp.pcap)" 2>/dev/null | wc -l)" -ge 3 ]'
bg_stop capture
run "tcpreplay -i tx0 esp.pcap"
tx tcpreplay -q -i tx0 "$(umi_tmp esp.pcap)" >/dev/null 2>&1
wait_for 5 "replays counted" eval '[ "$(esp_sa_stat 0x100 replay_drops)" -ge 3 ]'

title "rx: umigame esp stats"
umigame_rx esp stats | indent
echo
echo "(perf: \`perf record -e 'umigame:esp_*' -a\` traces decrypts, ICV failures and replays)"
umigame_rx esp detach rx0
