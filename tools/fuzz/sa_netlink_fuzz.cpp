// libFuzzer target: the SA client's netlink reply parsing (sa_netlink.cpp)
// must turn any receive buffer into SAs, a NetlinkError or a runtime_error,
// never a crash, hang or sanitizer report. The buffer is parsed as the reply
// to a request, as part of a dump and as the reply to CTRL_CMD_GETFAMILY, with
// every data message handed to each message parser; error offsets may point
// into a real SA_ADD request.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <sys/socket.h>

#include "umigame/sa_netlink.h"

namespace {

constexpr uint16_t kFamily = 0x1a; // the corpus uses this family id
constexpr uint32_t kSeq = 1;

const std::vector<uint8_t> &request()
{
	static const std::vector<uint8_t> req = [] {
		std::vector<uint8_t> r(512);
		auto *nlh = mnl_nlmsg_put_header(r.data());
		nlh->nlmsg_type = kFamily;
		nlh->nlmsg_seq = kSeq;
		auto *g = static_cast<genlmsghdr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
		g->cmd = UMIGAME_ESP_CMD_SA_ADD;
		mnl_attr_put_u32(nlh, UMIGAME_ESP_A_SPI, 0x1000);
		mnl_attr_put_u16(nlh, UMIGAME_ESP_A_FAMILY, AF_INET);
		mnl_attr_put_u32(nlh, UMIGAME_ESP_A_SRC, 0x0100000a);
		mnl_attr_put_u32(nlh, UMIGAME_ESP_A_DST, 0x0200000a);
		mnl_attr_put_u8(nlh, UMIGAME_ESP_A_SUITE, UMIGAME_ESP_SUITE_AES_GCM);
		mnl_attr_put(nlh, UMIGAME_ESP_A_ENC_KEY, 20, "0123456789abcdefghij");
		r.resize(nlh->nlmsg_len);
		return r;
	}();
	return req;
}

void on_data(const nlmsghdr *nlh)
{
	try {
		umigame::EspSa sa = umigame::parse_sa_message(nlh);
		(void)umigame::address_str(sa.family, sa.src);
		(void)umigame::address_str(sa.family, sa.dst);
	} catch (const std::runtime_error &) {
	}
	try {
		(void)umigame::parse_add_message(nlh);
	} catch (const std::runtime_error &) {
	}
	try {
		(void)umigame::parse_family_message(nlh);
	} catch (const std::runtime_error &) {
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// A receive buffer is aligned; so is a vector's storage.
	std::vector<uint8_t> buf(data, data + size);
	const struct {
		bool dump;
		uint16_t type;
	} modes[] = {{false, kFamily}, {true, kFamily}, {false, GENL_ID_CTRL}};
	for (const auto &m : modes) {
		umigame::ReplyExpect ex;
		ex.seq = kSeq;
		ex.portid = 0;
		ex.type = m.type;
		ex.dump = m.dump;
		ex.op = "fuzz";
		ex.request = request();
		ex.attr_names = umigame::esp_attr_names();
		try {
			umigame::parse_reply(buf, ex, on_data);
		} catch (const std::runtime_error &) {
		}
	}
	return 0;
}
