// Generic-netlink clients of umigame.ko (the socket, and the ESP SAs); see
// sa_netlink.h.
#include "umigame/sa_netlink.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <string_view>
#include <system_error>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <strings.h>
#include <sys/socket.h>

namespace umigame {

namespace {

// A dump part is at most 32 KiB (the kernel caps its skbs there).
constexpr size_t kRecvSize = 32768;
// Requests are small; the largest (SA_ADD) is well under this.
constexpr size_t kRequestSize = 1024;
// An extack message longer than this is cut: it ends up on a terminal.
constexpr size_t kMaxMessage = 512;

constexpr std::array<const char *, UMIGAME_ESP_A_MAX + 1> kEspAttrNames = {
	"UNSPEC",     "SA_ID",	       "SPI",	       "FAMILY",     "SRC",
	"DST",	      "MODE",	       "ENCAP_PORT",   "SUITE",	     "ENC_KEY",
	"AUTH_KEY",   "ICV_LEN",       "REPLAY_WINDOW", "FLAGS",     "LIFE_BYTES",
	"LIFE_PACKETS", "USED_BYTES",  "USED_PACKETS", "AUTH_FAILURES", "EXPIRED",
	"PAD",	      "REPLAY_DROPS",  "KEY_BITS",     "IV_LEN",     "REPLAY_START",
	"CRYPTO_DRIVER", "CRYPTO_SIMD_DRIVER",
};
static_assert(kEspAttrNames.back() != nullptr, "a name for every UMIGAME_ESP_A_*");

// Kernel text for a terminal: printable ASCII only, bounded.
std::string printable(std::string_view s)
{
	std::string out;
	for (char c : s.substr(0, kMaxMessage))
		out += (c >= 0x20 && c < 0x7f) ? c : '?';
	return out;
}

struct ExtAck {
	std::string msg;
	bool has_offset = false;
	uint32_t offset = 0;
	bool has_miss = false;
	uint32_t miss_type = 0;
};

int extack_attr(const nlattr *attr, void *data)
{
	auto *ack = static_cast<ExtAck *>(data);
	switch (mnl_attr_get_type(attr)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			ack->msg = printable(mnl_attr_get_str(attr));
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
			ack->has_offset = true;
			ack->offset = mnl_attr_get_u32(attr);
		}
		break;
	case NLMSGERR_ATTR_MISS_TYPE:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
			ack->has_miss = true;
			ack->miss_type = mnl_attr_get_u32(attr);
		}
		break;
	default:
		break; // cookies, policies: nothing to show
	}
	return MNL_CB_OK;
}

std::string attr_name(std::span<const char *const> names, uint32_t type)
{
	if (type < names.size() && names[type])
		return names[type];
	return "#" + std::to_string(type);
}

// The attribute of our request an error offset points at, if it does.
std::string attr_at(const ReplyExpect &ex, uint32_t offset)
{
	const size_t first = NLMSG_HDRLEN + NLMSG_ALIGN(ex.fixed_len);
	if (offset < first || offset > ex.request.size() ||
	    ex.request.size() - offset < sizeof(nlattr))
		return "";
	nlattr a;
	std::memcpy(&a, ex.request.data() + offset, sizeof(a));
	return attr_name(ex.attr_names, a.nla_type & NLA_TYPE_MASK);
}

// An error the kernel sent (error > 0): NLMSG_ERROR, or NLMSG_DONE of a dump.
[[noreturn]] void throw_error(const ReplyExpect &ex, int error, const ExtAck &ack)
{
	std::string what = ex.op + ": ";
	if (error == EPERM && ack.msg.empty())
		what += "permission denied: managing ESP SAs needs CAP_NET_ADMIN";
	else if (!ack.msg.empty())
		what += ack.msg;
	else if (ack.has_miss)
		what += "missing attribute " + attr_name(ex.attr_names, ack.miss_type);
	else
		what += std::strerror(error);
	if (ack.has_offset) {
		std::string name = attr_at(ex, ack.offset);
		if (!name.empty())
			what += " [attribute " + name + "]";
	}
	throw NetlinkError(error, what);
}

void parse_tlvs(const uint8_t *p, size_t len, ExtAck &ack)
{
	mnl_attr_parse_payload(p, len, extack_attr, &ack);
}

// NLMSG_ERROR: 0 for an ACK, else throws.
void handle_error(const nlmsghdr *nlh, const ReplyExpect &ex)
{
	const size_t plen = mnl_nlmsg_get_payload_len(nlh);
	if (plen < sizeof(nlmsgerr))
		throw std::runtime_error(ex.op + ": truncated netlink error message");
	const auto *p = static_cast<const uint8_t *>(mnl_nlmsg_get_payload(nlh));
	nlmsgerr err;
	std::memcpy(&err, p, sizeof(err));
	if (err.error == 0)
		return; // an ACK; its TLVs would only be warnings
	if (err.error > 0 || err.error == INT_MIN)
		throw std::runtime_error(ex.op + ": malformed netlink error " +
					 std::to_string(err.error));
	ExtAck ack;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		// Behind the error: our request, whole unless capped, then TLVs.
		size_t off = sizeof(nlmsgerr);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
			if (err.msg.nlmsg_len < sizeof(nlmsghdr))
				throw std::runtime_error(ex.op + ": malformed netlink error message");
			off = sizeof(int) + size_t(err.msg.nlmsg_len);
		}
		off = NLMSG_ALIGN(off);
		if (off < plen)
			parse_tlvs(p + off, plen - off, ack);
	}
	throw_error(ex, -err.error, ack);
}

// NLMSG_DONE of a dump: an int, an error when negative, and TLVs.
void handle_done(const nlmsghdr *nlh, const ReplyExpect &ex)
{
	const size_t plen = mnl_nlmsg_get_payload_len(nlh);
	if (plen < sizeof(int))
		return; // old kernels send an empty DONE
	const auto *p = static_cast<const uint8_t *>(mnl_nlmsg_get_payload(nlh));
	int error;
	std::memcpy(&error, p, sizeof(error));
	if (error >= 0)
		return;
	if (error == INT_MIN)
		throw std::runtime_error(ex.op + ": malformed end of dump");
	ExtAck ack;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && plen > NLMSG_ALIGN(sizeof(int)))
		parse_tlvs(p + NLMSG_ALIGN(sizeof(int)), plen - NLMSG_ALIGN(sizeof(int)), ack);
	throw_error(ex, -error, ack);
}

// What each SA_GET attribute must be. SRC/DST are checked by hand (4 or 16
// bytes, by family); keys must never come back and are refused.
enum class Kind { Skip, U8, U16, U32, U64, Flag, Addr, String, Refuse };

constexpr std::array<Kind, UMIGAME_ESP_A_MAX + 1> sa_attr_kinds()
{
	std::array<Kind, UMIGAME_ESP_A_MAX + 1> k{};
	k[UMIGAME_ESP_A_SA_ID] = Kind::U32;
	k[UMIGAME_ESP_A_SPI] = Kind::U32;
	k[UMIGAME_ESP_A_FAMILY] = Kind::U16;
	k[UMIGAME_ESP_A_SRC] = Kind::Addr;
	k[UMIGAME_ESP_A_DST] = Kind::Addr;
	k[UMIGAME_ESP_A_MODE] = Kind::U8;
	k[UMIGAME_ESP_A_ENCAP_PORT] = Kind::U16;
	k[UMIGAME_ESP_A_SUITE] = Kind::U8;
	k[UMIGAME_ESP_A_ENC_KEY] = Kind::Refuse;
	k[UMIGAME_ESP_A_AUTH_KEY] = Kind::Refuse;
	k[UMIGAME_ESP_A_ICV_LEN] = Kind::U8;
	k[UMIGAME_ESP_A_REPLAY_WINDOW] = Kind::U32;
	k[UMIGAME_ESP_A_FLAGS] = Kind::U32;
	k[UMIGAME_ESP_A_LIFE_BYTES] = Kind::U64;
	k[UMIGAME_ESP_A_LIFE_PACKETS] = Kind::U64;
	k[UMIGAME_ESP_A_USED_BYTES] = Kind::U64;
	k[UMIGAME_ESP_A_USED_PACKETS] = Kind::U64;
	k[UMIGAME_ESP_A_AUTH_FAILURES] = Kind::U64;
	k[UMIGAME_ESP_A_EXPIRED] = Kind::Flag;
	k[UMIGAME_ESP_A_REPLAY_DROPS] = Kind::U64;
	k[UMIGAME_ESP_A_KEY_BITS] = Kind::U16;
	k[UMIGAME_ESP_A_IV_LEN] = Kind::U8;
	k[UMIGAME_ESP_A_REPLAY_START] = Kind::U64;
	k[UMIGAME_ESP_A_CRYPTO_DRIVER] = Kind::String;
	k[UMIGAME_ESP_A_CRYPTO_SIMD_DRIVER] = Kind::String;
	return k;
}
constexpr auto kSaAttrKinds = sa_attr_kinds();

struct SaAttrs {
	std::array<const nlattr *, UMIGAME_ESP_A_MAX + 1> tb{};
	std::string error;
};

int sa_attr(const nlattr *attr, void *data)
{
	auto *s = static_cast<SaAttrs *>(data);
	const uint16_t type = mnl_attr_get_type(attr);
	if (type > UMIGAME_ESP_A_MAX)
		return MNL_CB_OK; // from a newer module: not ours to read
	int bad = 0;
	switch (kSaAttrKinds[type]) {
	case Kind::Skip:
		return MNL_CB_OK;
	case Kind::U8:
		bad = mnl_attr_validate(attr, MNL_TYPE_U8);
		break;
	case Kind::U16:
		bad = mnl_attr_validate(attr, MNL_TYPE_U16);
		break;
	case Kind::U32:
		bad = mnl_attr_validate(attr, MNL_TYPE_U32);
		break;
	case Kind::U64:
		bad = mnl_attr_validate(attr, MNL_TYPE_U64);
		break;
	case Kind::Flag:
		bad = mnl_attr_validate(attr, MNL_TYPE_FLAG);
		break;
	case Kind::Addr:
		bad = mnl_attr_get_payload_len(attr) != 4 && mnl_attr_get_payload_len(attr) != 16;
		break;
	case Kind::String:
		bad = mnl_attr_validate(attr, MNL_TYPE_NUL_STRING);
		break;
	case Kind::Refuse:
		s->error = std::string("the reply carries key material (") + kEspAttrNames[type] +
			   "): refusing it";
		return MNL_CB_ERROR;
	}
	if (bad) {
		s->error = std::string("attribute ") + kEspAttrNames[type] + " has " +
			   std::to_string(mnl_attr_get_payload_len(attr)) + " bytes";
		return MNL_CB_ERROR;
	}
	s->tb[type] = attr;
	return MNL_CB_OK;
}

// The genl header of a reply, checked.
void check_genl(const nlmsghdr *nlh, uint8_t cmd, const char *what)
{
	if (mnl_nlmsg_get_payload_len(nlh) < GENL_HDRLEN)
		throw std::runtime_error(std::string("malformed ") + what + " reply: no genl header");
	genlmsghdr g;
	std::memcpy(&g, mnl_nlmsg_get_payload(nlh), sizeof(g));
	if (g.cmd != cmd)
		throw std::runtime_error(std::string("malformed ") + what + " reply: command " +
					 std::to_string(g.cmd));
}

uint8_t get_u8(const nlattr *a, uint8_t def = 0) { return a ? mnl_attr_get_u8(a) : def; }
uint16_t get_u16(const nlattr *a) { return a ? mnl_attr_get_u16(a) : 0; }
uint32_t get_u32(const nlattr *a) { return a ? mnl_attr_get_u32(a) : 0; }
uint64_t get_u64(const nlattr *a) { return a ? mnl_attr_get_u64(a) : 0; }

struct FamilyAttrs {
	const nlattr *id = nullptr, *version = nullptr;
};

int family_attr(const nlattr *attr, void *data)
{
	auto *f = static_cast<FamilyAttrs *>(data);
	switch (mnl_attr_get_type(attr)) {
	case CTRL_ATTR_FAMILY_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U16) < 0)
			return MNL_CB_ERROR;
		f->id = attr;
		break;
	case CTRL_ATTR_VERSION:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		f->version = attr;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

} // namespace

SecretBytes &SecretBytes::operator=(const SecretBytes &other)
{
	if (this != &other) {
		wipe();
		bytes_ = other.bytes_;
	}
	return *this;
}

SecretBytes &SecretBytes::operator=(SecretBytes &&other) noexcept
{
	if (this != &other) {
		wipe();
		bytes_ = std::move(other.bytes_);
	}
	return *this;
}

void SecretBytes::wipe()
{
	if (!bytes_.empty())
		explicit_bzero(bytes_.data(), bytes_.size());
	bytes_.clear();
}

std::string address_str(uint16_t family, const std::array<uint8_t, 16> &addr)
{
	char buf[INET6_ADDRSTRLEN] = "?";
	if (family == AF_INET || family == AF_INET6)
		inet_ntop(family, addr.data(), buf, sizeof(buf));
	return buf;
}

std::span<const char *const> esp_attr_names() { return kEspAttrNames; }

bool parse_reply(std::span<const uint8_t> buf, const ReplyExpect &ex,
		 const std::function<void(const nlmsghdr *)> &on_data)
{
	// Not mnl_nlmsg_ok()/next(): they compare lengths as int, and an
	// nlmsg_len near 2^32 walks them out of the buffer.
	bool done = false;
	size_t off = 0;
	while (buf.size() - off >= sizeof(nlmsghdr)) {
		const auto *nlh = reinterpret_cast<const nlmsghdr *>(buf.data() + off);
		if (nlh->nlmsg_len < sizeof(nlmsghdr) || nlh->nlmsg_len > buf.size() - off)
			throw std::runtime_error(ex.op + ": truncated netlink message");
		off += std::min<size_t>(NLMSG_ALIGN(size_t(nlh->nlmsg_len)), buf.size() - off);
		if (done)
			throw std::runtime_error(ex.op + ": more netlink messages after the end");
		if (nlh->nlmsg_seq != ex.seq)
			throw std::runtime_error(ex.op + ": netlink reply out of sequence (" +
						 std::to_string(nlh->nlmsg_seq) + ", expected " +
						 std::to_string(ex.seq) + ")");
		if (ex.portid && nlh->nlmsg_pid != ex.portid)
			throw std::runtime_error(ex.op + ": netlink reply for another socket");
		switch (nlh->nlmsg_type) {
		case NLMSG_NOOP:
			break;
		case NLMSG_ERROR:
			handle_error(nlh, ex); // returns for an ACK
			done = true;
			break;
		case NLMSG_DONE:
			if (!ex.dump)
				throw std::runtime_error(ex.op + ": unexpected end of dump");
			handle_done(nlh, ex);
			done = true;
			break;
		case NLMSG_OVERRUN:
			throw std::runtime_error(ex.op + ": netlink overrun");
		default:
			if (nlh->nlmsg_type != ex.type)
				throw std::runtime_error(ex.op + ": unexpected netlink message type " +
							 std::to_string(nlh->nlmsg_type));
			on_data(nlh);
			break;
		}
	}
	if (off != buf.size())
		throw std::runtime_error(ex.op + ": truncated netlink message");
	return done;
}

EspSa parse_sa_message(const nlmsghdr *nlh)
{
	check_genl(nlh, UMIGAME_ESP_CMD_SA_GET, "SA_GET");
	SaAttrs a;
	if (mnl_attr_parse(nlh, GENL_HDRLEN, sa_attr, &a) < 0)
		throw std::runtime_error("malformed SA_GET reply: " + a.error);
	const auto &tb = a.tb;
	for (int need : {UMIGAME_ESP_A_SA_ID, UMIGAME_ESP_A_SPI, UMIGAME_ESP_A_FAMILY,
			 UMIGAME_ESP_A_SRC, UMIGAME_ESP_A_DST, UMIGAME_ESP_A_SUITE})
		if (!tb[need])
			throw std::runtime_error(std::string("malformed SA_GET reply: no ") +
						 kEspAttrNames[need]);
	EspSa sa;
	sa.id = get_u32(tb[UMIGAME_ESP_A_SA_ID]);
	sa.spi = get_u32(tb[UMIGAME_ESP_A_SPI]);
	sa.family = get_u16(tb[UMIGAME_ESP_A_FAMILY]);
	size_t alen;
	if (sa.family == AF_INET)
		alen = 4;
	else if (sa.family == AF_INET6)
		alen = 16;
	else
		throw std::runtime_error("malformed SA_GET reply: address family " +
					 std::to_string(sa.family));
	for (auto [type, to] : {std::pair{UMIGAME_ESP_A_SRC, &sa.src}, {UMIGAME_ESP_A_DST, &sa.dst}}) {
		if (mnl_attr_get_payload_len(tb[type]) != alen)
			throw std::runtime_error(std::string("malformed SA_GET reply: ") +
						 kEspAttrNames[type] + " does not match the family");
		std::memcpy(to->data(), mnl_attr_get_payload(tb[type]), alen);
	}
	sa.mode = get_u8(tb[UMIGAME_ESP_A_MODE]);
	sa.encap_port = get_u16(tb[UMIGAME_ESP_A_ENCAP_PORT]);
	sa.suite = get_u8(tb[UMIGAME_ESP_A_SUITE]);
	sa.key_bits = get_u16(tb[UMIGAME_ESP_A_KEY_BITS]);
	sa.icv_len = get_u8(tb[UMIGAME_ESP_A_ICV_LEN]);
	sa.iv_len = get_u8(tb[UMIGAME_ESP_A_IV_LEN]);
	sa.replay_window = get_u32(tb[UMIGAME_ESP_A_REPLAY_WINDOW]);
	sa.flags = get_u32(tb[UMIGAME_ESP_A_FLAGS]);
	sa.replay_start = get_u64(tb[UMIGAME_ESP_A_REPLAY_START]);
	sa.life_bytes = get_u64(tb[UMIGAME_ESP_A_LIFE_BYTES]);
	sa.life_packets = get_u64(tb[UMIGAME_ESP_A_LIFE_PACKETS]);
	sa.used_bytes = get_u64(tb[UMIGAME_ESP_A_USED_BYTES]);
	sa.used_packets = get_u64(tb[UMIGAME_ESP_A_USED_PACKETS]);
	sa.auth_failures = get_u64(tb[UMIGAME_ESP_A_AUTH_FAILURES]);
	sa.replay_drops = get_u64(tb[UMIGAME_ESP_A_REPLAY_DROPS]);
	// Absent from a module older than the attributes.
	for (auto [type, to] : {std::pair{UMIGAME_ESP_A_CRYPTO_DRIVER, &sa.crypto_driver},
				{UMIGAME_ESP_A_CRYPTO_SIMD_DRIVER, &sa.crypto_simd_driver}})
		if (tb[type])
			*to = printable(mnl_attr_get_str(tb[type]));
	sa.expired = tb[UMIGAME_ESP_A_EXPIRED] != nullptr;
	return sa;
}

uint32_t parse_add_message(const nlmsghdr *nlh)
{
	check_genl(nlh, UMIGAME_ESP_CMD_SA_ADD, "SA_ADD");
	SaAttrs a;
	if (mnl_attr_parse(nlh, GENL_HDRLEN, sa_attr, &a) < 0)
		throw std::runtime_error("malformed SA_ADD reply: " + a.error);
	if (!a.tb[UMIGAME_ESP_A_SA_ID] || mnl_attr_get_u32(a.tb[UMIGAME_ESP_A_SA_ID]) == 0)
		throw std::runtime_error("malformed SA_ADD reply: no SA id");
	return mnl_attr_get_u32(a.tb[UMIGAME_ESP_A_SA_ID]);
}

GenlFamily parse_family_message(const nlmsghdr *nlh)
{
	check_genl(nlh, CTRL_CMD_NEWFAMILY, "CTRL_CMD_GETFAMILY");
	FamilyAttrs f;
	if (mnl_attr_parse(nlh, GENL_HDRLEN, family_attr, &f) < 0 || !f.id)
		throw std::runtime_error("malformed CTRL_CMD_GETFAMILY reply");
	return {mnl_attr_get_u16(f.id), f.version ? mnl_attr_get_u32(f.version) : 0};
}

// ---- the socket ----------------------------------------------------------

GenlSocket::GenlSocket(const char *name, uint32_t version, std::span<const char *const> attr_names)
    : version_(version), attr_names_(attr_names)
{
	nl_ = mnl_socket_open(NETLINK_GENERIC);
	if (!nl_)
		throw std::system_error(errno, std::generic_category(), "netlink socket");
	try {
		if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
			throw std::system_error(errno, std::generic_category(), "netlink bind");
		portid_ = mnl_socket_get_portid(nl_);
		// Extended ACKs carry the module's messages; capped ACKs do not
		// echo the request (and its keys) back. Older kernels: no harm.
		int one = 1;
		mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &one, sizeof(one));
		mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &one, sizeof(one));
		seq_ = uint32_t(std::time(nullptr));

		std::vector<uint8_t> req(kRequestSize);
		auto *nlh = mnl_nlmsg_put_header(req.data());
		nlh->nlmsg_type = GENL_ID_CTRL;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		nlh->nlmsg_seq = ++seq_;
		auto *g = static_cast<genlmsghdr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
		g->cmd = CTRL_CMD_GETFAMILY;
		g->version = 1;
		mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
		ReplyExpect ex;
		ex.seq = nlh->nlmsg_seq;
		ex.portid = portid_;
		ex.type = GENL_ID_CTRL;
		ex.op = std::string("resolving ") + name;
		GenlFamily fam;
		try {
			netlink_transact(nl_, req, ex,
					 [&](const nlmsghdr *m) { fam = parse_family_message(m); });
		} catch (const NetlinkError &e) {
			if (e.error() == ENOENT)
				throw std::runtime_error(std::string("the umigame module is not loaded (no "
								     "generic-netlink family '") +
							 name + "'): insmod umigame.ko first");
			throw;
		}
		if (!fam.id)
			throw std::runtime_error(std::string("no family id for ") + name);
		if (fam.version != version)
			throw std::runtime_error("umigame.ko speaks version " + std::to_string(fam.version) +
						 " of " + name + ", this umigame version " +
						 std::to_string(version) +
						 ": use a module and CLI from the same build");
		family_ = fam.id;
	} catch (...) {
		mnl_socket_close(nl_);
		throw;
	}
}

GenlSocket::~GenlSocket() { mnl_socket_close(nl_); }

std::vector<uint8_t> GenlSocket::request(uint8_t cmd, uint16_t flags)
{
	std::vector<uint8_t> req(kRequestSize);
	auto *nlh = mnl_nlmsg_put_header(req.data());
	nlh->nlmsg_type = family_;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = ++seq_;
	auto *g = static_cast<genlmsghdr *>(mnl_nlmsg_put_extra_header(nlh, sizeof(genlmsghdr)));
	g->cmd = cmd;
	g->version = uint8_t(version_);
	return req;
}

void GenlSocket::transact(std::vector<uint8_t> &req, const std::string &op, bool dump,
			  const std::function<void(const nlmsghdr *)> &on_data)
{
	ReplyExpect ex;
	ex.seq = reinterpret_cast<const nlmsghdr *>(req.data())->nlmsg_seq;
	ex.portid = portid_;
	ex.type = family_;
	ex.dump = dump;
	ex.op = op;
	ex.attr_names = attr_names_;
	netlink_transact(nl_, req, ex, on_data);
}

SaNetlink::SaNetlink() : genl_(UMIGAME_ESP_GENL_NAME, UMIGAME_ESP_GENL_VERSION, esp_attr_names()) {}

void netlink_transact(mnl_socket *nl, std::vector<uint8_t> &req, const ReplyExpect &expect,
		      const std::function<void(const nlmsghdr *)> &on_data)
{
	// The request may hold keys: wiped however this ends.
	struct Wipe {
		std::vector<uint8_t> &v;
		~Wipe() { explicit_bzero(v.data(), v.size()); }
	} wipe{req};
	const auto *nlh = reinterpret_cast<const nlmsghdr *>(req.data());
	ReplyExpect ex = expect;
	ex.request = std::span<const uint8_t>(req.data(), nlh->nlmsg_len);
	if (mnl_socket_sendto(nl, req.data(), nlh->nlmsg_len) < 0)
		throw std::system_error(errno, std::generic_category(), ex.op + ": netlink send");
	std::vector<uint8_t> buf(kRecvSize);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
		if (n < 0) {
			if (errno == EINTR)
				continue;
			throw std::system_error(errno, std::generic_category(),
						ex.op + ": netlink receive");
		}
		if (parse_reply({buf.data(), size_t(n)}, ex, on_data))
			return;
	}
}

namespace {

void put_or_throw(bool ok)
{
	if (!ok)
		throw std::runtime_error("sa add: request too large");
}

} // namespace

uint32_t SaNetlink::add(const EspSaParams &p)
{
	auto req = genl_.request(UMIGAME_ESP_CMD_SA_ADD, NLM_F_REQUEST | NLM_F_ACK);
	auto *nlh = reinterpret_cast<nlmsghdr *>(req.data());
	const size_t cap = req.size();
	const size_t alen = p.family == AF_INET ? 4 : 16;
	put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_ESP_A_SPI, p.spi));
	put_or_throw(mnl_attr_put_u16_check(nlh, cap, UMIGAME_ESP_A_FAMILY, p.family));
	put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_ESP_A_SRC, alen, p.src.data()));
	put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_ESP_A_DST, alen, p.dst.data()));
	put_or_throw(mnl_attr_put_u8_check(nlh, cap, UMIGAME_ESP_A_MODE, p.mode));
	if (p.encap_port)
		put_or_throw(mnl_attr_put_u16_check(nlh, cap, UMIGAME_ESP_A_ENCAP_PORT, p.encap_port));
	put_or_throw(mnl_attr_put_u8_check(nlh, cap, UMIGAME_ESP_A_SUITE, p.suite));
	put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_ESP_A_ENC_KEY, p.enc_key.size(),
					p.enc_key.data()));
	if (!p.auth_key.empty())
		put_or_throw(mnl_attr_put_check(nlh, cap, UMIGAME_ESP_A_AUTH_KEY, p.auth_key.size(),
						p.auth_key.data()));
	put_or_throw(mnl_attr_put_u8_check(nlh, cap, UMIGAME_ESP_A_ICV_LEN, p.icv_len));
	put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_ESP_A_REPLAY_WINDOW, p.replay_window));
	put_or_throw(mnl_attr_put_u32_check(nlh, cap, UMIGAME_ESP_A_FLAGS, p.flags));
	if (p.replay_start)
		put_or_throw(mnl_attr_put_u64_check(nlh, cap, UMIGAME_ESP_A_REPLAY_START,
						    p.replay_start));
	if (p.life_bytes)
		put_or_throw(mnl_attr_put_u64_check(nlh, cap, UMIGAME_ESP_A_LIFE_BYTES, p.life_bytes));
	if (p.life_packets)
		put_or_throw(mnl_attr_put_u64_check(nlh, cap, UMIGAME_ESP_A_LIFE_PACKETS,
						    p.life_packets));
	uint32_t id = 0;
	genl_.transact(req, "sa add", false, [&](const nlmsghdr *m) { id = parse_add_message(m); });
	if (!id)
		throw std::runtime_error("sa add: the module did not say the new SA's id");
	return id;
}

void SaNetlink::del(uint32_t id)
{
	auto req = genl_.request(UMIGAME_ESP_CMD_SA_DEL, NLM_F_REQUEST | NLM_F_ACK);
	mnl_attr_put_u32(reinterpret_cast<nlmsghdr *>(req.data()), UMIGAME_ESP_A_SA_ID, id);
	genl_.transact(req, "sa del", false, [](const nlmsghdr *) {});
}

void SaNetlink::flush()
{
	auto req = genl_.request(UMIGAME_ESP_CMD_SA_FLUSH, NLM_F_REQUEST | NLM_F_ACK);
	genl_.transact(req, "sa flush", false, [](const nlmsghdr *) {});
}

EspSa SaNetlink::get(uint32_t id)
{
	auto req = genl_.request(UMIGAME_ESP_CMD_SA_GET, NLM_F_REQUEST | NLM_F_ACK);
	mnl_attr_put_u32(reinterpret_cast<nlmsghdr *>(req.data()), UMIGAME_ESP_A_SA_ID, id);
	std::vector<EspSa> out;
	genl_.transact(req, "sa show", false, [&](const nlmsghdr *m) { out.push_back(parse_sa_message(m)); });
	if (out.size() != 1)
		throw std::runtime_error("sa show: " + std::to_string(out.size()) +
					 " replies for one SA");
	return out.front();
}

std::vector<EspSa> SaNetlink::dump()
{
	auto req = genl_.request(UMIGAME_ESP_CMD_SA_GET, NLM_F_REQUEST | NLM_F_DUMP);
	std::vector<EspSa> out;
	genl_.transact(req, "sa show", true, [&](const nlmsghdr *m) { out.push_back(parse_sa_message(m)); });
	return out;
}

} // namespace umigame
