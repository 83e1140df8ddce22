#include "umigame/dhcp6/auth.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace umigame::dhcp6 {

namespace {

// Authentication information for this protocol: type (1) + value (16).
constexpr size_t kInfoSize = 17;
// From the start of the Authentication option TLV to the value: option
// header (4), protocol/algorithm/RDM (3), replay detection (8), type (1).
constexpr size_t kValueOffsetInOption = 4 + 3 + 8 + 1;

} // namespace

Authentication reconfigure_key_option(const ReconfigureKey &key, uint64_t replay_detection)
{
	Authentication a;
	a.protocol = kAuthProtocolReconfigureKey;
	a.algorithm = kAuthAlgorithmHmacMd5;
	a.rdm = kAuthRdmMonotonicCounter;
	a.replay_detection = replay_detection;
	a.information.resize(kInfoSize);
	a.information[0] = static_cast<uint8_t>(ReconfigureKeyType::Key);
	std::copy(key.begin(), key.end(), a.information.begin() + 1);
	return a;
}

std::optional<ReconfigureKeyInfo> reconfigure_key_info(const Authentication &auth)
{
	if (auth.protocol != kAuthProtocolReconfigureKey || auth.algorithm != kAuthAlgorithmHmacMd5 ||
	    auth.rdm != kAuthRdmMonotonicCounter || auth.information.size() != kInfoSize)
		return std::nullopt;
	uint8_t type = auth.information[0];
	if (type != static_cast<uint8_t>(ReconfigureKeyType::Key) &&
	    type != static_cast<uint8_t>(ReconfigureKeyType::HmacMd5))
		return std::nullopt;
	ReconfigureKeyInfo info{static_cast<ReconfigureKeyType>(type), {}};
	std::copy(auth.information.begin() + 1, auth.information.end(), info.value.begin());
	return info;
}

std::array<uint8_t, 16> hmac_md5(std::span<const uint8_t> key, std::span<const uint8_t> data)
{
	std::array<uint8_t, 16> digest{};
	size_t len = 0;
	if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "MD5", nullptr, key.data(), key.size(), data.data(),
		       data.size(), digest.data(), digest.size(), &len) ||
	    len != digest.size())
		throw std::runtime_error("HMAC-MD5 failed in OpenSSL");
	return digest;
}

void sign_reconfigure(Message &message, const ReconfigureKey &key, uint64_t replay_detection)
{
	Authentication auth = reconfigure_key_option(key, replay_detection);
	auth.information[0] = static_cast<uint8_t>(ReconfigureKeyType::HmacMd5);
	std::fill(auth.information.begin() + 1, auth.information.end(), 0);
	message.options.remove<Authentication>();
	message.options.add(std::move(auth));
	// §20.4.2: the digest covers the whole message with the digest zeroed,
	// which is exactly what serialize() gives right now.
	auto digest = hmac_md5(key, message.serialize());
	Authentication *added = message.get<Authentication>();
	std::copy(digest.begin(), digest.end(), added->information.begin() + 1);
}

AuthCheck verify_reconfigure(std::span<const uint8_t> wire, const ReconfigureKey &key)
{
	// Parse first: it validates every length, so the walk below stays in
	// bounds.
	Message message = Message::parse(wire);
	size_t pos = message.is_relay() ? 34 : 4;
	size_t auth_at = 0, count = 0;
	while (pos + 4 <= wire.size()) {
		uint16_t code = static_cast<uint16_t>(wire[pos] << 8 | wire[pos + 1]);
		size_t len = static_cast<size_t>(wire[pos + 2] << 8 | wire[pos + 3]);
		if (code == OPTION_AUTH) {
			auth_at = pos;
			count++;
		}
		pos += 4 + len;
	}
	if (count == 0)
		return AuthCheck::Missing;
	if (count > 1)
		return AuthCheck::Duplicate;
	auto info = reconfigure_key_info(*message.get<Authentication>());
	if (!info || info->type != ReconfigureKeyType::HmacMd5)
		return AuthCheck::NotReconfigureKey;

	// §20.4.3: recompute over the received bytes with the digest zeroed.
	std::vector<uint8_t> zeroed(wire.begin(), wire.end());
	std::fill_n(zeroed.begin() + static_cast<std::ptrdiff_t>(auth_at + kValueOffsetInOption),
		    info->value.size(), 0);
	auto expected = hmac_md5(key, zeroed);
	return CRYPTO_memcmp(expected.data(), info->value.data(), expected.size()) == 0
		       ? AuthCheck::Valid
		       : AuthCheck::BadDigest;
}

} // namespace umigame::dhcp6
