# shellcheck shell=bash
# client.sh — umigame-dhcp6d as a requesting router in the client tests.
# Source after ../lib/netns.sh.
#
#   DHCP6D            the daemon under test: DHCP6D=path, else the release
#                     build, else the ASan one (empty when there is none)
#   client_show SOCK  the daemon's `show` answer on control socket SOCK, as
#                     one line of JSON (what `umigame dhcp6 show --json`
#                     prints, without needing the CLI)

if [ -z "${DHCP6D:-}" ]; then
	for _d in release asan; do
		_b=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/$_d/userspace/dhcp6d/umigame-dhcp6d
		[ -x "$_b" ] && DHCP6D=$_b && break
	done
	unset _d _b
fi

client_show() {
	/usr/bin/python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b'{"cmd": "show"}\n')
print(s.makefile().readline())
PY
}
