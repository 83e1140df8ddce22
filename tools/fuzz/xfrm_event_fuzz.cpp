// libFuzzer target: the XFRM event parsing (userspace/ipsec/src/xfrm.cpp)
// must turn any receive buffer into events or a runtime_error, never a
// crash, hang or sanitizer report. The same bytes go to the GETSA reply
// parser, which shares the attribute walk.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "umigame/xfrm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// Exactly the input's bytes, so that ASan sees any read past them.
	std::vector<uint8_t> buf(data, data + size);
	try {
		for (const auto &ev : umigame::parse_xfrm_events(buf)) {
			if (const auto *a = std::get_if<umigame::XfrmAcquire>(&ev)) {
				(void)a->selector.src.str();
				(void)a->tmpl.dst.str();
			}
		}
	} catch (const std::runtime_error &) {
	}
	try {
		(void)umigame::parse_sa_stats_message(buf);
	} catch (const std::runtime_error &) {
	}
	return 0;
}
