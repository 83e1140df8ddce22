#include <algorithm>
#include <cstring>
#include <iterator>
#include <mutex>

#include <openssl/core_names.h>

#include "openssl_util.h"

namespace umigame::ike {

namespace detail {

namespace {

// The digests IKE uses (PRFs, integrity, NAT detection, cookies), each
// fetched once with an HMAC context that has it set, ready to be copied.
// Built once and never changed after, so threads share them read-only; a
// failure is not remembered and the next call tries again. Never freed:
// they live as long as the process, and freeing them at exit could come
// after OpenSSL's own cleanup has taken down the provider they point into.
struct DigestSlot {
	const char *name;
	std::once_flag once;
	EVP_MD *md = nullptr;
	EVP_MAC_CTX *hmac = nullptr;
};

DigestSlot g_digests[] = {{"SHA1", {}}, {"SHA256", {}}, {"SHA384", {}}, {"SHA512", {}}};

EVP_MAC *hmac_algorithm()
{
	static std::once_flag once;
	static EVP_MAC *mac = nullptr;
	std::call_once(once, [] {
		mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
		if (!mac)
			throw_crypto_error("HMAC is not available");
	});
	return mac;
}

DigestSlot &slot(const char *name)
{
	for (auto &s : g_digests) {
		if (std::strcmp(s.name, name) != 0)
			continue;
		std::call_once(s.once, [&s] {
			Owned<EVP_MD> md(EVP_MD_fetch(nullptr, s.name, nullptr));
			Owned<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(hmac_algorithm()));
			OSSL_PARAM params[] = {
				OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char *>(s.name), 0),
				OSSL_PARAM_construct_end(),
			};
			if (!md || !ctx || !EVP_MAC_CTX_set_params(ctx.get(), params))
				throw_crypto_error(std::string("cannot fetch ") + s.name);
			s.md = md.release();
			s.hmac = ctx.release();
		});
		return s;
	}
	throw CryptoError(std::string("no digest ") + name);
}

} // namespace

const EVP_MD *digest(const char *name)
{
	return slot(name).md;
}

size_t hmac(const char *digest_name, std::span<const uint8_t> key, std::span<const uint8_t> data,
	    std::span<uint8_t> out)
{
	// OpenSSL treats a null key as "no key set"; an empty one is a valid
	// HMAC key all the same.
	static const uint8_t kEmpty = 0;
	// A copy per call rather than one context kept keyed: nothing of the
	// key stays behind once the copy is freed.
	Owned<EVP_MAC_CTX> ctx(EVP_MAC_CTX_dup(slot(digest_name).hmac));
	size_t written = 0;
	if (!ctx || !EVP_MAC_init(ctx.get(), key.empty() ? &kEmpty : key.data(), key.size(), nullptr) ||
	    (!data.empty() && !EVP_MAC_update(ctx.get(), data.data(), data.size())) ||
	    !EVP_MAC_final(ctx.get(), out.data(), &written, out.size()))
		throw_crypto_error(std::string("HMAC-") + digest_name + " failed");
	return written;
}

} // namespace detail

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
	Secret out(output_size_);
	if (detail::hmac(digest_, key, data, std::span(out.data(), out.size())) != output_size_)
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
