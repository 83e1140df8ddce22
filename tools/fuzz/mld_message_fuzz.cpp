// libFuzzer target: the MLD wire formats (userspace/mld) must turn any
// ICMPv6 message into a Message or a ParseError, never a crash, hang or
// sanitizer report. Whatever parses serializes, parses again to the same
// value and serializes again to the same octets; split_report() of what a
// Report carried keeps every record within the MTU.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>

#include "umigame/mld/message.h"

namespace {

using namespace umigame::mld;

void require(bool ok)
{
	if (!ok)
		std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Message m;
	try {
		m = parse(std::span<const uint8_t>(data, size));
	} catch (const ParseError &) {
		return 0;
	}
	auto first = std::visit([](const auto &v) { return v.serialize(); }, m);
	Message again = parse(first);
	require(again == m);
	require(std::visit([](const auto &v) { return v.serialize(); }, again) == first);
	if (auto *r = std::get_if<V2Report>(&m)) {
		bool small_aux = true;
		for (const auto &rec : r->records)
			small_aux = small_aux && rec.aux_data.size() <= 64;
		if (small_aux)
			for (const auto &part : split_report(r->records))
				require(part.serialize().size() + 48 <= 1280);
	}
	return 0;
}
