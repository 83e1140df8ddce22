#include <algorithm>

#include "openssl_util.h"

namespace umigame::ike {

namespace {

// IANA "Transform Type 2 - Pseudorandom Function Transform IDs".
constexpr uint16_t kPrfHmacSha1 = 2, kPrfHmacSha256 = 5, kPrfHmacSha384 = 6, kPrfHmacSha512 = 7;

struct PrfAlgorithm {
	uint16_t id;
	const char *digest;
	size_t output_size;
};

// RFC 7296 §3.3.2 (HMAC-SHA1), RFC 4868 §2.1 (HMAC-SHA2).
constexpr PrfAlgorithm kPrfs[] = {
	{kPrfHmacSha1, "SHA1", 20},
	{kPrfHmacSha256, "SHA256", 32},
	{kPrfHmacSha384, "SHA384", 48},
	{kPrfHmacSha512, "SHA512", 64},
};

const PrfAlgorithm *find_prf(uint16_t id)
{
	for (const auto &p : kPrfs)
		if (p.id == id)
			return &p;
	return nullptr;
}

// RFC 7296 §2.13: prf+ numbers its blocks with one octet.
constexpr size_t kMaxPrfPlusBlocks = 255;

} // namespace

bool Prf::supported(uint16_t id)
{
	return find_prf(id) != nullptr;
}

Prf::Prf(uint16_t id) : id_(id)
{
	const PrfAlgorithm *alg = find_prf(id);
	if (!alg)
		throw CryptoError("unsupported PRF transform " + std::to_string(id));
	output_size_ = alg->output_size;
	digest_ = alg->digest;
}

Secret Prf::compute(std::span<const uint8_t> key, std::span<const uint8_t> data) const
{
	// OpenSSL treats a null key as "no key set"; an empty one is a valid
	// HMAC key all the same.
	static const uint8_t kEmpty = 0;
	Secret out(output_size_);
	size_t written = 0;
	if (!EVP_Q_mac(nullptr, "HMAC", nullptr, digest_, nullptr, key.empty() ? &kEmpty : key.data(), key.size(),
		       data.empty() ? &kEmpty : data.data(), data.size(), out.data(), out.size(), &written) ||
	    written != output_size_)
		detail::throw_crypto_error(std::string("HMAC-") + digest_ + " failed");
	return out;
}

Secret Prf::plus(std::span<const uint8_t> key, std::span<const uint8_t> seed, size_t length) const
{
	// RFC 7296 §2.13: T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n),
	// and no more than 255 blocks.
	size_t blocks = (length + output_size_ - 1) / output_size_;
	if (blocks > kMaxPrfPlusBlocks)
		throw CryptoError("prf+ asked for " + std::to_string(length) + " bytes, more than 255 blocks (RFC 7296 §2.13)");
	Secret out(length);
	Secret previous;
	Secret input(output_size_ + seed.size() + 1);
	for (size_t n = 1; n <= blocks; n++) {
		size_t at = 0;
		std::copy(previous.span().begin(), previous.span().end(), input.data());
		at += previous.size();
		std::copy(seed.begin(), seed.end(), input.data() + at);
		at += seed.size();
		input.data()[at++] = static_cast<uint8_t>(n);
		previous = compute(key, input.span().first(at));
		size_t offset = (n - 1) * output_size_;
		size_t take = std::min(output_size_, length - offset);
		std::copy_n(previous.data(), take, out.data() + offset);
	}
	return out;
}

} // namespace umigame::ike
