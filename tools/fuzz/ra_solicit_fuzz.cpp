// libFuzzer target: the RA sender's Router Solicitation parser and the
// Router Advertisement parser the WAN side reads the ISP's RAs with must turn any
// ICMPv6 payload into a value or an RaParseError, never a crash, hang or
// sanitizer report. What parses must also serialize and parse back to the
// same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "umigame/dhcp6d/ra_message.h"

using namespace umigame::dhcp6d;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::span<const uint8_t> bytes(data, size);
	try {
		RouterSolicitation rs = RouterSolicitation::parse(bytes);
		if (!(RouterSolicitation::parse(rs.serialize()) == rs))
			std::abort();
	} catch (const RaParseError &) {
	}
	// The same bytes as an RA: the first octet decides which one parses.
	try {
		RouterAdvertisement ra = RouterAdvertisement::parse(bytes);
		if (!(RouterAdvertisement::parse(ra.serialize()) == ra))
			std::abort();
	} catch (const RaParseError &) {
	}
	return 0;
}
