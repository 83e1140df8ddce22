// What every source of this library needs around OpenSSL: owning pointers
// and an error that carries OpenSSL's own reason.
#pragma once

#include <memory>
#include <span>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "umigame/ike/crypto.h"

namespace umigame::ike::detail {

struct OsslDeleter {
	void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
	void operator()(EVP_PKEY_CTX *p) const { EVP_PKEY_CTX_free(p); }
	void operator()(EVP_CIPHER_CTX *p) const { EVP_CIPHER_CTX_free(p); }
	void operator()(EVP_MD_CTX *p) const { EVP_MD_CTX_free(p); }
	void operator()(EVP_MD *p) const { EVP_MD_free(p); }
	void operator()(EVP_MAC *p) const { EVP_MAC_free(p); }
	void operator()(EVP_MAC_CTX *p) const { EVP_MAC_CTX_free(p); }
	void operator()(EVP_CIPHER *p) const { EVP_CIPHER_free(p); }
	void operator()(BIGNUM *p) const { BN_clear_free(p); }
	void operator()(BIO *p) const { BIO_free(p); }
	void operator()(X509 *p) const { X509_free(p); }
	void operator()(X509_NAME *p) const { X509_NAME_free(p); }
	void operator()(X509_STORE *p) const { X509_STORE_free(p); }
	void operator()(X509_STORE_CTX *p) const { X509_STORE_CTX_free(p); }
	void operator()(X509_ALGOR *p) const { X509_ALGOR_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, OsslDeleter>;

// The message plus OpenSSL's most recent reason, if any; clears the queue so
// that a later failure does not report this one's cause.
[[noreturn]] void throw_crypto_error(const std::string &what);
// OpenSSL's most recent reason (or "unknown"); clears the queue.
std::string last_openssl_error();

// OpenSSL 3 looks an algorithm up by name, under a lock, on every EVP_Q_mac,
// every EVP_Digest with a legacy EVP_sha*() and every init with a legacy
// EVP_aes_*(); these fetch once per process and hand out the same object.
// `name` is one of SHA1, SHA256, SHA384, SHA512; throws CryptoError.
const EVP_MD *digest(const char *name);
// HMAC with that digest; `out` has room for its output. Returns the length
// written; throws CryptoError.
size_t hmac(const char *digest_name, std::span<const uint8_t> key, std::span<const uint8_t> data,
	    std::span<uint8_t> out);

} // namespace umigame::ike::detail
