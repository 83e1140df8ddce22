#include "umigame/dhcp6d/ula.h"

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <openssl/sha.h>

#include "umigame/dhcp6d/client_state.h"
#include "umigame/log.h"

namespace umigame::dhcp6d {

namespace {

constexpr const char *kUlaFile = "ula";

// NTP's epoch is 1900-01-01; Unix time is 2208988800 s later.
uint64_t ntp_now()
{
	using namespace std::chrono;
	auto since_unix = system_clock::now().time_since_epoch();
	uint64_t secs = uint64_t(duration_cast<seconds>(since_unix).count()) + 2208988800ull;
	uint64_t frac = uint64_t((duration_cast<nanoseconds>(since_unix).count() % 1000000000) * (1ull << 32) /
				 1000000000ull);
	return secs << 32 | frac;
}

} // namespace

std::array<uint8_t, 8> modified_eui64(const MacAddress &mac)
{
	const auto &m = mac.bytes;
	return {uint8_t(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]};
}

Ipv6Prefix make_ula_prefix(uint64_t ntp_time, const std::array<uint8_t, 8> &eui64)
{
	uint8_t key[16];
	for (int i = 0; i < 8; i++)
		key[i] = uint8_t(ntp_time >> (56 - 8 * i));
	std::copy(eui64.begin(), eui64.end(), key + 8);
	uint8_t digest[SHA_DIGEST_LENGTH];
	SHA1(key, sizeof(key), digest);
	Ipv6Prefix p;
	p.length = 48;
	p.address.bytes[0] = 0xfd;
	// The least significant 40 bits: the last five octets of the digest.
	std::copy(digest + SHA_DIGEST_LENGTH - 5, digest + SHA_DIGEST_LENGTH, p.address.bytes.begin() + 1);
	return p;
}

Ipv6Prefix load_or_create_ula(const std::string &state_dir, std::optional<MacAddress> mac)
{
	std::string path = state_dir + "/" + kUlaFile;
	if (std::ifstream in(path); in) {
		std::string text;
		in >> text;
		auto p = Ipv6Prefix::parse(text);
		if (!p || p->length != 48 || p->address.bytes[0] != 0xfd)
			throw std::runtime_error(path + ": not a ULA /48: '" + text + "'");
		return *p;
	}
	std::array<uint8_t, 8> eui64{};
	if (mac && !mac->is_zero()) {
		eui64 = modified_eui64(*mac);
	} else {
		std::random_device rd;
		for (auto &b : eui64)
			b = uint8_t(rd());
	}
	Ipv6Prefix p = make_ula_prefix(ntp_now(), eui64);
	write_file_atomically(state_dir, kUlaFile, p.str() + "\n");
	log::notice("client: generated ULA prefix " + p.str() + " (RFC 4193), kept in " + path);
	return p;
}

} // namespace umigame::dhcp6d
