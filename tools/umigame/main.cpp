// umigame — the command line for the umigame stack.
//
//   umigame raguard attach DEV --policy FILE [--generic]
//   umigame raguard detach DEV
//   umigame raguard show [DEV] [--json]
//   umigame raguard events [DEV] [--count N] [--timeout SECS] [--json]
//   umigame raguard check --policy FILE
//   umigame esp attach DEV [--generic] [--drop-unknown-spi|--pass-unknown-spi]
//   umigame esp detach DEV
//   umigame esp forward DEV... | none
//   umigame esp stats [--json]
//   umigame classify attach|detach IFACE | rules load|check FILE | show [IFACE] [--json|--prometheus] | flows [--json]
//   umigame dhcp6 show [--json] | reload   [--socket PATH]
//   umigame ike show|sas [--json] | up|down NAME | rekey NAME [CHILD] | reload
//   umigame mld show [--json] | reload   [--socket PATH]
//   umigame isatap prl DEV [A.B.C.D [lifetime SECS] ...] | show DEV [--json]
//   umigame sa add src ADDR dst ADDR spi SPI ... | del ID | flush | show [ID] [--json]
//   umigame pim show [DEV] [--json] | set DEV ... | rp add|del DEV GROUP/LEN [RP]
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "umigame/config.h"

namespace {

void usage(FILE *out)
{
	std::fputs("usage: umigame [--pin-dir DIR] COMMAND ...\n"
		   "\n"
		   "commands:\n"
		   "  raguard attach DEV --policy FILE [--generic]\n"
		   "                         guard DEV's ingress (or replace its policy in place)\n"
		   "  raguard detach DEV     remove the guard from DEV\n"
		   "  raguard show [DEV] [--json]\n"
		   "                         ports, policies and per-reason counters\n"
		   "  raguard events [DEV] [--count N] [--timeout SECS] [--json]\n"
		   "                         follow drop events\n"
		   "  raguard check --policy FILE\n"
		   "                         validate a policy file\n"
		   "  esp attach DEV [--generic] [--drop-unknown-spi|--pass-unknown-spi]\n"
		   "                         decrypt ESP for umigame.ko's SAs in XDP on DEV\n"
		   "  esp detach DEV         remove the ESP fast path from DEV\n"
		   "  esp forward DEV... | none\n"
		   "                         forward decrypted inner packets routed out of DEV...\n"
		   "                         in XDP (skips netfilter and xfrm's forward policy)\n"
		   "  esp stats [--json]     per-reason and per-SA counters\n"
		   "  classify attach|detach IFACE [--generic]\n"
		   "                         the SCTP/DCCP classifier on IFACE\n"
		   "  classify rules load|check FILE\n"
		   "                         replace the rule tables of the ports FILE names\n"
		   "  classify show [IFACE] [--json|--prometheus], classify flows [--json]\n"
		   "                         counters per rule and reason; flows (SCTP by tag)\n"
		   "  sa add src ADDR dst ADDR spi SPI [mode tunnel|transport] [encap-port PORT]\n"
		   "         { aead 'rfc4106(gcm(aes))' 0xKEY ICV-BITS\n"
		   "         | enc 'cbc(aes)' 0xKEY auth 'hmac(sha256)' 0xKEY }\n"
		   "         [replay-window N] [replay-seq N] [replay-seq-hi N] [flag esn]\n"
		   "         [limit byte-hard N] [limit packet-hard N] [--json]\n"
		   "                         add an SA to umigame.ko; prints its id\n"
		   "  sa del ID | sa flush   remove one SA, or all\n"
		   "  sa show [ID] [--json]  SAs and their counters (never keys)\n"
		   "  dhcp6 show [--json] [--socket PATH]\n"
		   "                         umigame-dhcp6d's leases, pools and state\n"
		   "  dhcp6 reload [--socket PATH]\n"
		   "                         make umigame-dhcp6d re-read its configuration\n"
		   "  version                print the version\n"
		   "\n"
		   "Objects pin under /sys/fs/bpf/umigame/ (--pin-dir or UMIGAME_PIN_DIR override).\n"
		   "  ike show|sas [--json] [--socket PATH]\n"
		   "                         umigame-iked's connections, IKE SAs and CHILD_SAs\n"
		   "  ike up|down NAME, ike rekey NAME [CHILD], ike reload\n"
		   "                         start, delete or rekey a connection's SAs; re-read the file\n"
		   "  mld show [--json] | mld reload [--socket PATH]\n"
		   "                         umigame-mldproxy's interfaces, groups and forwarding entries\n"
		   "  isatap prl DEV [A.B.C.D [lifetime SECS] ...]\n"
		   "                         set a umigame-isatap link's Potential Router List\n"
		   "  isatap show DEV [--json]\n"
		   "                         its IPv4 locator and each router's solicitation state\n"
		   "  pim show [DEV] [--json]\n"
		   "                         umigame-pimreg devices: RPs per group range, counters\n"
		   "  pim set DEV [source ADDR] [rate N] [border on|off]\n"
		   "                         the Registers' source address, rate limit, Border bit\n"
		   "  pim rp add DEV GROUP/LEN RP, pim rp del DEV GROUP/LEN\n"
		   "                         which RP a group range registers to\n"
		   "See docs/raguard.md, docs/esp.md, docs/dhcp6.md, docs/ike.md, docs/mldproxy.md,\n"
		   "docs/isatap.md and docs/pim-register.md.\n",
		   out);
}

} // namespace

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	umigame::cli::Globals globals;
	while (!args.empty() && args.front().rfind("--", 0) == 0) {
		if (args.front() == "--help" || args.front() == "-h") {
			usage(stdout);
			return 0;
		}
		if (args.front() == "--version") {
			args = {"version"};
			break;
		}
		if (args.front() == "--pin-dir" && args.size() > 1) {
			globals.pin_dir = args[1];
			args.erase(args.begin(), args.begin() + 2);
			continue;
		}
		std::fprintf(stderr, "umigame: unknown option '%s'\n", args.front().c_str());
		usage(stderr);
		return 2;
	}
	if (args.empty()) {
		usage(stderr);
		return 2;
	}
	const std::string cmd = args.front();
	args.erase(args.begin());
	try {
		if (cmd == "version") {
			std::printf("umigame %s\n", UMIGAME_VERSION);
			return 0;
		}
		if (cmd == "raguard")
			return umigame::cli::raguard(globals, args);
		if (cmd == "esp")
			return umigame::cli::esp(globals, args);
		if (cmd == "classify")
			return umigame::cli::classify(globals, args);
		if (cmd == "sa")
			return umigame::cli::sa(globals, args);
		if (cmd == "dhcp6")
			return umigame::cli::dhcp6(globals, args);
		if (cmd == "ike")
			return umigame::cli::ike(globals, args);
		if (cmd == "mld")
			return umigame::cli::mld(globals, args);
		if (cmd == "isatap")
			return umigame::cli::isatap(globals, args);
		if (cmd == "pim")
			return umigame::cli::pim(globals, args);
		if (cmd == "help") {
			usage(stdout);
			return 0;
		}
		std::fprintf(stderr, "umigame: unknown command '%s'\n", cmd.c_str());
		usage(stderr);
		return 2;
	} catch (const umigame::cli::UsageError &e) {
		std::fprintf(stderr, "umigame: %s\n", e.what());
		return 2;
	} catch (const umigame::ConfigError &e) {
		std::fprintf(stderr, "umigame: %s\n", e.what());
		return 1;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "umigame: %s\n", e.what());
		return 1;
	}
}
