// libFuzzer target: the DHCPv6 wire format (userspace/dhcp6) must turn any
// datagram into a Message or a ParseError, never a crash, hang or sanitizer
// report. Beyond that, whatever parses must serialize back to exactly the
// bytes it came from (the library keeps unknown options and reserved bits
// for that), survive a copy, and go through the Reconfigure Key check; the
// same bytes are also tried as a lone option.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "umigame/dhcp6/auth.h"
#include "umigame/dhcp6/message.h"

namespace {

using namespace umigame::dhcp6;

const ReconfigureKey kKey = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
			     0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};

void require(bool ok)
{
	if (!ok)
		std::abort();
}

// Touch what a daemon would read, so the accessors run on odd input too.
void read_like_a_daemon(const Message &message)
{
	const Message &m = message.innermost();
	(void)m.client_id();
	(void)m.server_id();
	(void)m.status();
	for (const IaPd *ia : m.all<IaPd>()) {
		(void)ia->status();
		for (const IaPrefix *p : ia->prefixes())
			(void)p->prefix.str();
	}
	for (const IaNa *ia : m.all<IaNa>())
		for (const IaAddress *a : ia->addresses())
			(void)a->status();
	if (const DomainList *d = m.get<DomainList>())
		for (const DomainName &n : d->names)
			(void)n.str();
	if (const Authentication *a = m.get<Authentication>())
		(void)reconfigure_key_info(*a);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::span<const uint8_t> wire(data, size);
	try {
		Message message = Message::parse(wire);
		std::vector<uint8_t> again = message.serialize();
		require(std::equal(again.begin(), again.end(), wire.begin(), wire.end()));
		Message copy = message;
		require(copy == message);
		read_like_a_daemon(message);
		(void)verify_reconfigure(wire, kKey);
	} catch (const ParseError &) {
	}
	try {
		Option option = decode_option(wire);
		std::vector<uint8_t> again = encode_option(option);
		require(std::equal(again.begin(), again.end(), wire.begin(), wire.end()));
	} catch (const ParseError &) {
	}
	return 0;
}
