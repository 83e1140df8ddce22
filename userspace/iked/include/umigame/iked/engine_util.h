// Small helpers the engine's two files share.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <variant>
#include <vector>

#include "umigame/ike/message.h"
#include "umigame/iked/config.h"

namespace umigame::iked {

inline std::string hex32(uint32_t v)
{
	char buf[16];
	std::snprintf(buf, sizeof(buf), "%08x", v);
	return buf;
}

inline std::string hex64(uint64_t v)
{
	char buf[24];
	std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
	return buf;
}

// Everything about a connection that, changed by a reload, makes its SAs
// stale.
std::string fingerprint(const ConnectionConfig &c);

template <typename T> const T *find_payload(const std::vector<ike::Payload> &payloads)
{
	for (const auto &p : payloads)
		if (const T *t = std::get_if<T>(&p.body))
			return t;
	return nullptr;
}

template <typename T> std::vector<const T *> find_payloads(const std::vector<ike::Payload> &payloads)
{
	std::vector<const T *> out;
	for (const auto &p : payloads)
		if (const T *t = std::get_if<T>(&p.body))
			out.push_back(t);
	return out;
}

// A payload by its type where two types share one body (IDi/IDr, TSi/TSr).
template <typename T>
const T *find_typed(const std::vector<ike::Payload> &payloads, ike::PayloadType type)
{
	for (const auto &p : payloads)
		if (p.type == type)
			if (const T *t = std::get_if<T>(&p.body))
				return t;
	return nullptr;
}

inline const ike::NotifyPayload *find_notify(const std::vector<ike::Payload> &payloads, uint16_t type)
{
	for (const auto &p : payloads)
		if (const auto *n = std::get_if<ike::NotifyPayload>(&p.body))
			if (n->type == type)
				return n;
	return nullptr;
}

// The first error notification (type < 16384, §3.10.1), if any.
inline const ike::NotifyPayload *find_error(const std::vector<ike::Payload> &payloads)
{
	for (const auto &p : payloads)
		if (const auto *n = std::get_if<ike::NotifyPayload>(&p.body))
			if (ike::notify::is_error(n->type))
				return n;
	return nullptr;
}

inline const ike::Payload *find_unknown_critical(const std::vector<ike::Payload> &payloads)
{
	for (const auto &p : payloads)
		if (p.critical && std::holds_alternative<ike::UnknownPayload>(p.body))
			return &p;
	return nullptr;
}

} // namespace umigame::iked
