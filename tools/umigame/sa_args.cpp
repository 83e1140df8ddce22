// `umigame sa …` argument parsing; see sa_args.h.
#include "sa_args.h"

#include <charconv>
#include <set>
#include <string_view>

#include <arpa/inet.h>
#include <sys/socket.h>

namespace umigame::cli {

namespace {

constexpr const char *kGcm = "rfc4106(gcm(aes))";
// The longest key the module's policy lets through.
constexpr size_t kMaxKeyBytes = 64;

// Decimal, or hex with 0x when hex_ok. No sign, no spaces, no octal.
std::optional<uint64_t> parse_number(std::string_view s, bool hex_ok)
{
	int base = 10;
	if (hex_ok && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s.remove_prefix(2);
		base = 16;
	}
	if (s.empty())
		return std::nullopt;
	uint64_t v = 0;
	auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
	if (ec != std::errc() || end != s.data() + s.size())
		return std::nullopt;
	return v;
}

uint64_t number(const std::string &word, const std::string &v, uint64_t min, uint64_t max,
		bool hex_ok = false)
{
	auto n = parse_number(v, hex_ok);
	if (!n || *n < min || *n > max)
		throw UsageError(word + " needs a number from " + std::to_string(min) + " to " +
				 std::to_string(max) + (hex_ok ? " (decimal or 0x hex)" : "") +
				 ", not '" + v + "'");
	return *n;
}

// A key as `ip xfrm` takes it in hex. The message never repeats the key.
SecretBytes key(const std::string &what, const std::string &v)
{
	if (v.size() < 4 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X') || v.size() % 2)
		throw UsageError(what + " key must be hex: 0x and an even number of hex digits");
	const size_t n = (v.size() - 2) / 2;
	if (n > kMaxKeyBytes)
		throw UsageError(what + " key is longer than " + std::to_string(kMaxKeyBytes) +
				 " bytes");
	SecretBytes out(n);
	for (size_t i = 0; i < n; i++) {
		const char *p = v.data() + 2 + 2 * i;
		auto [end, ec] = std::from_chars(p, p + 2, out.data()[i], 16);
		if (ec != std::errc() || end != p + 2)
			throw UsageError(what + " key must be hex: 0x and an even number of hex digits");
	}
	return out;
}

struct Address {
	uint16_t family;
	std::array<uint8_t, 16> bytes{};
};

Address address(const std::string &word, const std::string &v)
{
	Address a{AF_INET6};
	if (inet_pton(AF_INET6, v.c_str(), a.bytes.data()) == 1)
		return a;
	a.family = AF_INET;
	if (inet_pton(AF_INET, v.c_str(), a.bytes.data()) == 1)
		return a;
	throw UsageError(word + " needs an IPv4 or IPv6 address, not '" + v + "'");
}

uint8_t icv_bytes(const std::string &bits)
{
	auto n = parse_number(bits, false);
	if (!n || *n == 0 || *n % 8 || *n > 255 * 8)
		throw UsageError("ICV length must be given in bits, a multiple of 8 (64, 96 or 128 "
				 "for AES-GCM), not '" + bits + "'");
	return uint8_t(*n / 8);
}

SaCommand parse_add(const std::vector<std::string> &in)
{
	SaCommand c;
	c.action = SaCommand::Action::Add;
	EspSaParams &p = c.params;
	std::optional<Address> src, dst;
	std::set<std::string> seen;
	bool have_spi = false, have_aead = false, have_enc = false, have_auth = false;
	uint64_t seq_lo = 0, seq_hi = 0;

	for (size_t i = 0; i < in.size(); i++) {
		const std::string &w = in[i];
		auto value = [&](const char *what) -> const std::string & {
			if (i + 1 >= in.size())
				throw UsageError(w + " needs " + what);
			return in[++i];
		};
		auto once = [&](const std::string &name) {
			if (!seen.insert(name).second)
				throw UsageError(name + " given twice");
		};
		if (w == "--json") {
			c.json = true;
		} else if (w == "src" || w == "dst") {
			once(w);
			(w == "src" ? src : dst) = address(w, value("an address"));
		} else if (w == "spi") {
			once(w);
			p.spi = uint32_t(number(w, value("a number"), 1, UINT32_MAX, true));
			have_spi = true;
		} else if (w == "proto") {
			// `ip xfrm state` wants it; ESP is all there is here.
			if (value("a protocol") != "esp")
				throw UsageError("only proto esp is supported");
		} else if (w == "mode") {
			once(w);
			const std::string &m = value("transport or tunnel");
			if (m == "transport")
				p.mode = UMIGAME_ESP_MODE_TRANSPORT;
			else if (m == "tunnel")
				p.mode = UMIGAME_ESP_MODE_TUNNEL;
			else
				throw UsageError("mode must be transport or tunnel, not '" + m + "'");
		} else if (w == "encap-port") {
			once(w);
			p.encap_port = uint16_t(number(w, value("a UDP port"), 1, 65535));
		} else if (w == "aead") {
			once(w);
			const std::string &name = value("an algorithm, a key and an ICV length");
			if (name != kGcm)
				throw UsageError("unsupported AEAD '" + name + "': only " + kGcm);
			p.suite = UMIGAME_ESP_SUITE_AES_GCM;
			p.enc_key = key("the aead", value("a key and an ICV length"));
			p.icv_len = icv_bytes(value("an ICV length in bits"));
			have_aead = true;
		} else if (w == "enc") {
			once(w);
			const std::string &name = value("an algorithm and a key");
			if (name != "cbc(aes)" && name != "aes")
				throw UsageError("unsupported cipher '" + name + "': only cbc(aes)");
			p.enc_key = key("the enc", value("a key"));
			have_enc = true;
		} else if (w == "auth" || w == "auth-trunc") {
			once("auth");
			const std::string &name = value("an algorithm and a key");
			if (name != "hmac(sha256)" && name != "sha256")
				throw UsageError("unsupported authentication '" + name +
						 "': only hmac(sha256)");
			p.auth_key = key("the auth", value("a key"));
			if (w == "auth-trunc") {
				auto bits = value("a truncation length in bits");
				if (bits != "128")
					throw UsageError("hmac(sha256) is truncated to 128 bits (RFC 4868), "
							 "not '" + bits + "'");
			}
			have_auth = true;
		} else if (w == "replay-window") {
			once(w);
			p.replay_window = uint32_t(number(w, value("a number"), 0, UINT32_MAX));
		} else if (w == "replay-seq") {
			once(w);
			seq_lo = number(w, value("a number"), 0, UINT32_MAX, true);
		} else if (w == "replay-seq-hi") {
			once(w);
			seq_hi = number(w, value("a number"), 0, UINT32_MAX, true);
		} else if (w == "flag") {
			const std::string &f = value("a flag");
			if (f != "esn")
				throw UsageError("unknown flag '" + f + "': only esn is supported");
			p.flags |= UMIGAME_ESP_F_ESN;
			// `ip xfrm` takes a list after one flag word.
			while (i + 1 < in.size() && in[i + 1] == "esn")
				i++;
		} else if (w == "limit") {
			const std::string &kind = value("byte-hard N or packet-hard N");
			if (kind != "byte-hard" && kind != "packet-hard")
				throw UsageError("unsupported limit '" + kind +
						 "': only byte-hard and packet-hard");
			once("limit " + kind);
			uint64_t n = number("limit " + kind, value("a number"), 0, UINT64_MAX);
			(kind == "byte-hard" ? p.life_bytes : p.life_packets) = n;
		} else {
			throw UsageError("unknown word '" + w + "' in sa add");
		}
	}

	if (!src || !dst || !have_spi)
		throw UsageError("sa add needs src ADDR, dst ADDR and spi SPI");
	if (src->family != dst->family)
		throw UsageError("src and dst must both be IPv4 or both IPv6");
	p.family = src->family;
	p.src = src->bytes;
	p.dst = dst->bytes;
	if (have_aead && (have_enc || have_auth))
		throw UsageError("aead excludes enc and auth");
	if (have_enc != have_auth)
		throw UsageError("enc and auth go together (ESP without either is not supported)");
	if (!have_aead && !have_enc)
		throw UsageError("sa add needs aead 'rfc4106(gcm(aes))' KEY ICV-BITS, or "
				 "enc 'cbc(aes)' KEY auth 'hmac(sha256)' KEY");
	if (have_enc) {
		p.suite = UMIGAME_ESP_SUITE_AES_CBC_SHA256;
		p.icv_len = 16;
	}
	p.replay_start = seq_hi << 32 | seq_lo;
	return c;
}

uint32_t sa_id(const std::string &v)
{
	return uint32_t(number("SA id", v, 1, UINT32_MAX));
}

} // namespace

SaCommand parse_sa_args(const std::vector<std::string> &args)
{
	if (args.empty())
		throw UsageError("sa needs a subcommand: add, del, flush, show");
	const std::string &sub = args.front();
	std::vector<std::string> rest(args.begin() + 1, args.end());
	SaCommand c;
	if (sub == "add")
		return parse_add(rest);
	if (sub == "del" || sub == "delete") {
		if (rest.size() != 1)
			throw UsageError("usage: umigame sa del ID");
		c.action = SaCommand::Action::Del;
		c.id = sa_id(rest[0]);
		return c;
	}
	if (sub == "flush") {
		if (!rest.empty())
			throw UsageError("usage: umigame sa flush");
		c.action = SaCommand::Action::Flush;
		return c;
	}
	if (sub == "show" || sub == "list") {
		c.action = SaCommand::Action::Show;
		for (const auto &w : rest) {
			if (w == "--json")
				c.json = true;
			else if (!c.id && w.rfind("-", 0) != 0)
				c.id = sa_id(w);
			else
				throw UsageError("usage: umigame sa show [ID] [--json]");
		}
		return c;
	}
	throw UsageError("unknown sa subcommand '" + sub + "': add, del, flush, show");
}

const char *sa_suite_name(uint8_t suite)
{
	switch (suite) {
	case UMIGAME_ESP_SUITE_AES_GCM:
		return "aes-gcm";
	case UMIGAME_ESP_SUITE_AES_CBC_SHA256:
		return "aes-cbc-hmac-sha256";
	default:
		return "unknown";
	}
}

const char *sa_mode_name(uint8_t mode)
{
	switch (mode) {
	case UMIGAME_ESP_MODE_TRANSPORT:
		return "transport";
	case UMIGAME_ESP_MODE_TUNNEL:
		return "tunnel";
	default:
		return "unknown";
	}
}

const char *sa_family_name(uint16_t family)
{
	return family == AF_INET ? "inet" : family == AF_INET6 ? "inet6" : "unknown";
}

} // namespace umigame::cli
