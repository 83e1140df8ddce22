// `umigame sa …` arguments, parsed apart from the netlink work so that the
// table-driven tests (tests/sa_args_test.cpp) reach every rule.
//
//   umigame sa add src ADDR dst ADDR spi SPI [mode tunnel|transport]
//                  [encap-port PORT]
//                  { aead 'rfc4106(gcm(aes))' 0xKEY ICV-BITS
//                  | enc 'cbc(aes)' 0xKEY auth 'hmac(sha256)' 0xKEY }
//                  [replay-window N] [replay-seq N] [replay-seq-hi N]
//                  [flag esn] [limit byte-hard N] [limit packet-hard N] [--json]
//   umigame sa del ID
//   umigame sa flush
//   umigame sa show [ID] [--json]
//
// Words as `ip xfrm state` takes them. Key and ICV lengths are the module's
// to check (it says what is wrong); here only their form is. Error messages
// never repeat a key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "umigame/sa_netlink.h"

namespace umigame::cli {

struct SaCommand {
	enum class Action { Add, Del, Flush, Show };
	Action action = Action::Show;
	EspSaParams params;         // add
	std::optional<uint32_t> id; // del: always; show: one SA
	bool json = false;
};

// Throws UsageError naming the word that is wrong.
SaCommand parse_sa_args(const std::vector<std::string> &args);

// Names for output: "aes-gcm", "transport", "inet6", ...
const char *sa_suite_name(uint8_t suite);
const char *sa_mode_name(uint8_t mode);
const char *sa_family_name(uint16_t family);

} // namespace umigame::cli
