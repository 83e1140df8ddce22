#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "openssl_util.h"

namespace umigame::ike {

namespace detail {

std::string last_openssl_error()
{
	unsigned long code = ERR_get_error();
	std::string reason = "unknown";
	if (code != 0) {
		char buf[256];
		ERR_error_string_n(code, buf, sizeof buf);
		reason = buf;
	}
	ERR_clear_error();
	return reason;
}

void throw_crypto_error(const std::string &what)
{
	throw CryptoError(what + " (OpenSSL: " + last_openssl_error() + ")");
}

} // namespace detail

Secret::Secret(std::span<const uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}

Secret::Secret(size_t size) : bytes_(size, 0) {}

Secret::Secret(Secret &&other) noexcept : bytes_(std::move(other.bytes_))
{
	other.bytes_.clear();
}

Secret &Secret::operator=(Secret &&other) noexcept
{
	if (this != &other) {
		wipe();
		bytes_ = std::move(other.bytes_);
		other.bytes_.clear();
	}
	return *this;
}

Secret::~Secret()
{
	wipe();
}

void Secret::wipe() noexcept
{
	// The vector never grows after construction, so its one buffer is the
	// only place the key ever was.
	if (!bytes_.empty())
		OPENSSL_cleanse(bytes_.data(), bytes_.size());
	bytes_.clear();
}

bool Secret::operator==(const Secret &other) const
{
	return size() == other.size() && (empty() || CRYPTO_memcmp(data(), other.data(), size()) == 0);
}

Bytes random_bytes(size_t n)
{
	Bytes out(n);
	if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
		detail::throw_crypto_error("RAND_bytes failed");
	return out;
}

uint64_t random_u64()
{
	Bytes b = random_bytes(8);
	uint64_t v = 0;
	for (uint8_t byte : b)
		v = v << 8 | byte;
	return v;
}

} // namespace umigame::ike
