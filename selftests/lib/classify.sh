# shellcheck shell=bash
# What the classifier's guest tests (classify_sctp.sh, classify_flood.sh)
# share, on top of selftests/lib/netns.sh: the classifier on rx0 of the
# namespace "rx", pinned under the test's own $pins, driven with $umigame.
#
#   cls_setup          mount bpffs if needed; detach and unpin at cleanup
#   in_rx CMD...       CMD in rx, with UMIGAME_PIN_DIR=$pins
#   show               `umigame classify show rx0 --json`
#   rule_pkts N        packets rule N counted
#   reason_pkts NAME   packets counted under reason NAME

cls_setup() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	# shellcheck disable=SC2016 # expanded when the hook runs
	on_cleanup 'in_rx "$umigame" classify detach rx0 >/dev/null 2>&1; rm -rf "$pins"'
}
in_rx() { UMIGAME_PIN_DIR=$pins ns_nsenter rx "$@"; }
show() { in_rx "$umigame" classify show rx0 --json; }
rule_pkts() { show | jq -r ".[0].rules[$1].packets"; }
reason_pkts() { show | jq -r ".[0].reasons.$1.packets"; }
