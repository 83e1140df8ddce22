// Client of umigame.ko's ESP SA table: the generic-netlink family
// "umigame_esp" (include/umigame/esp.h), on libmnl. Keys go to the module
// and never come back; what SA_GET reports is EspSa, which has no place for
// them.
//
// The reply parsing is separate from the socket (parse_reply() and the
// parse_*_message() functions), so that tests and the fuzzer feed it bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "umigame/esp.h"

struct mnl_socket;

namespace umigame {

// Key material: wiped when destroyed. Filled in place (resize, then write
// into data()), so that no stray copy is left behind by reallocation.
class SecretBytes {
public:
	SecretBytes() = default;
	explicit SecretBytes(size_t n) : bytes_(n) {}
	SecretBytes(const SecretBytes &other) : bytes_(other.bytes_) {}
	SecretBytes &operator=(const SecretBytes &other);
	SecretBytes(SecretBytes &&other) noexcept : bytes_(std::move(other.bytes_)) {}
	SecretBytes &operator=(SecretBytes &&other) noexcept;
	~SecretBytes() { wipe(); }

	uint8_t *data() { return bytes_.data(); }
	const uint8_t *data() const { return bytes_.data(); }
	size_t size() const { return bytes_.size(); }
	bool empty() const { return bytes_.empty(); }
	void wipe();

private:
	std::vector<uint8_t> bytes_;
};

// SA_ADD: everything but the id, which the module picks.
struct EspSaParams {
	uint32_t spi = 0; // host order
	uint16_t family = 0;
	std::array<uint8_t, 16> src{}, dst{};
	uint8_t mode = UMIGAME_ESP_MODE_TRANSPORT;
	uint16_t encap_port = 0;
	uint8_t suite = UMIGAME_ESP_SUITE_NONE;
	SecretBytes enc_key, auth_key;
	uint8_t icv_len = 16;
	uint32_t replay_window = 0;
	uint32_t flags = 0;
	uint64_t replay_start = 0;
	uint64_t life_bytes = 0, life_packets = 0;
};

// SA_GET: what the module reports of an SA.
struct EspSa {
	uint32_t id = 0;
	uint32_t spi = 0;
	uint16_t family = 0;
	std::array<uint8_t, 16> src{}, dst{};
	uint8_t mode = UMIGAME_ESP_MODE_TRANSPORT;
	uint16_t encap_port = 0;
	uint8_t suite = UMIGAME_ESP_SUITE_NONE;
	uint16_t key_bits = 0;
	uint8_t icv_len = 0;
	uint8_t iv_len = 0;
	uint32_t replay_window = 0;
	uint32_t flags = 0;
	uint64_t replay_start = 0;
	uint64_t life_bytes = 0, life_packets = 0;
	uint64_t used_bytes = 0, used_packets = 0;
	uint64_t auth_failures = 0, replay_drops = 0;
	bool expired = false;
	// The kernel's crypto drivers: the SIMD one decrypts while the FPU is
	// usable, the other otherwise; empty when not reported / none.
	std::string crypto_driver, crypto_simd_driver;
};

// "192.0.2.1" / "2001:db8::1" for the first 4 or 16 bytes.
std::string address_str(uint16_t family, const std::array<uint8_t, 16> &addr);

// The kernel refused a request: its errno and, when it said one, its
// extended-ACK message. what() is ready to print.
class NetlinkError : public std::runtime_error {
public:
	NetlinkError(int error, const std::string &what) : std::runtime_error(what), error_(error) {}
	int error() const { return error_; } // positive errno
private:
	int error_;
};

// What the replies to one request must look like.
struct ReplyExpect {
	uint32_t seq = 0;
	uint32_t portid = 0;               // 0: not checked
	uint16_t type = 0;                 // nlmsg_type of data messages (the family id)
	bool dump = false;                 // ends with NLMSG_DONE, not with an ACK
	std::string op;                    // "sa add": prefixes error messages
	std::span<const uint8_t> request;  // names the attribute an error points at
	// The family's fixed header between nlmsghdr and the request's
	// attributes: an error offset inside it names no attribute.
	size_t fixed_len = GENL_HDRLEN;
	// Names of the request's attribute types, for errors (index = type).
	std::span<const char *const> attr_names;
};

// Walk one receive buffer: data messages go to on_data (after seq, portid
// and type checks); returns true when the exchange is complete (the ACK, or
// NLMSG_DONE of a dump). Throws NetlinkError for an error the kernel sent
// and std::runtime_error for anything malformed or unexpected.
bool parse_reply(std::span<const uint8_t> buf, const ReplyExpect &expect,
		 const std::function<void(const nlmsghdr *)> &on_data);

// Send one request on a netlink socket and read until parse_reply() says the
// exchange is complete. The request is wiped however this ends (it may hold
// keys). Socket errors are std::system_error.
void netlink_transact(mnl_socket *nl, std::vector<uint8_t> &request, const ReplyExpect &expect,
		      const std::function<void(const nlmsghdr *)> &on_data);

// One SA_GET reply message (header already checked by parse_reply). Throws
// std::runtime_error when an attribute has the wrong size or a required one
// is missing; attributes this version does not know are skipped.
EspSa parse_sa_message(const nlmsghdr *nlh);

// The SA_ADD reply: the new SA's id.
uint32_t parse_add_message(const nlmsghdr *nlh);

// The CTRL_CMD_GETFAMILY reply: family id and version.
struct GenlFamily {
	uint16_t id = 0;
	uint32_t version = 0;
};
GenlFamily parse_family_message(const nlmsghdr *nlh);

// Names of UMIGAME_ESP_A_* (index = attribute type), for messages.
std::span<const char *const> esp_attr_names();

// A socket talking to one of umigame.ko's generic-netlink families.
class GenlSocket {
public:
	// Opens a socket and resolves the family `name`. Throws
	// std::runtime_error ("the umigame module is not loaded ...") when it
	// is absent, and when the module speaks another version.
	GenlSocket(const char *name, uint32_t version, std::span<const char *const> attr_names);
	~GenlSocket();
	GenlSocket(const GenlSocket &) = delete;
	GenlSocket &operator=(const GenlSocket &) = delete;

	// A request with its netlink and genetlink headers filled in; add
	// attributes with mnl_attr_put_*_check(nlh, size(), ...).
	std::vector<uint8_t> request(uint8_t cmd, uint16_t flags);
	// Send it and read the replies (dump: until NLMSG_DONE); op prefixes
	// error messages ("sa add").
	void transact(std::vector<uint8_t> &request, const std::string &op, bool dump,
		      const std::function<void(const nlmsghdr *)> &on_data);

private:
	mnl_socket *nl_ = nullptr;
	uint32_t portid_ = 0;
	uint32_t seq_ = 0;
	uint16_t family_ = 0;
	uint32_t version_ = 0;
	std::span<const char *const> attr_names_;
};

class SaNetlink {
public:
	// Opens a socket and resolves the family (GenlSocket's errors).
	SaNetlink();

	uint32_t add(const EspSaParams &p); // the new SA's id
	void del(uint32_t id);
	void flush();
	EspSa get(uint32_t id);
	std::vector<EspSa> dump();

private:
	GenlSocket genl_;
};

} // namespace umigame
