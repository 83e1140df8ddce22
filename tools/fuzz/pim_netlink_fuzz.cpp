// libFuzzer target: the PIM Register client's netlink reply parsing
// (pim_netlink.cpp) must turn any receive buffer into devices, a
// NetlinkError or a runtime_error, never a crash, hang or sanitizer report.
// The buffer is parsed as the reply to a GET and as part of a dump, every
// data message handed to parse_pim_message().
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "umigame/pim_netlink.h"

namespace {

constexpr uint16_t kFamily = 0x1b; // the corpus uses this family id
constexpr uint32_t kSeq = 1;

void on_data(const nlmsghdr *nlh)
{
	try {
		umigame::PimDevice d = umigame::parse_pim_message(nlh);
		if (d.ranges.size() > UMIGAME_PIM_MAX_RPS)
			__builtin_trap(); // the parser promises a bound
	} catch (const std::runtime_error &) {
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// A receive buffer is aligned; so is a vector's storage.
	std::vector<uint8_t> buf(data, data + size);
	for (bool dump : {false, true}) {
		umigame::ReplyExpect ex;
		ex.seq = kSeq;
		ex.type = kFamily;
		ex.dump = dump;
		ex.op = "fuzz";
		ex.attr_names = umigame::pim_attr_names();
		try {
			umigame::parse_reply(buf, ex, on_data);
		} catch (const std::runtime_error &) {
		}
	}
	return 0;
}
