// A DHCPv6 message: the client/server layout of RFC 8415 §8 (msg-type,
// 24-bit transaction-id, options) or the relay layout of §9 (msg-type,
// hop-count, link-address, peer-address, options). One struct for both;
// is_relay() says which fields are on the wire.
//
// Parsing: Message::parse(bytes) returns the message or throws ParseError.
// Building: the named constructors below fill what RFC 8415 §18 requires of
// each message (Client Identifier, Elapsed Time, Server Identifier, the
// transaction-id to echo) and add()/set() chain the rest:
//
//   auto solicit = Message::solicit(xid, client_duid)
//                      .add(IaPd{.iaid = 1})
//                      .add(RapidCommit{});
//   auto reply = Message::reply(request, server_duid)
//                    .add(IaPd{.iaid = 1, .t1 = 1800, .t2 = 2880,
//                              .options = {IaPrefix{...}}});
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "umigame/dhcp6/constants.h"
#include "umigame/dhcp6/options.h"
#include "umigame/net.h"

namespace umigame::dhcp6 {

struct Message {
	MessageType type = MessageType::Solicit;
	// Client/server messages (§8): 24 bits; serialize() refuses more.
	uint32_t transaction_id = 0;
	// Relay messages (§9) only.
	uint8_t hop_count = 0;
	Ipv6Address link_address{};
	Ipv6Address peer_address{};
	OptionList options{};

	bool is_relay() const { return is_relay_type(type); }
	static bool is_relay_type(MessageType t)
	{
		return t == MessageType::RelayForw || t == MessageType::RelayRepl;
	}

	// A whole UDP payload. Relay messages must carry exactly one Relay
	// Message option (§9.1, §9.2); nested ones are parsed too.
	static Message parse(std::span<const uint8_t> wire);
	// Throws std::invalid_argument for a value the wire cannot carry
	// (transaction-id over 24 bits, an empty DUID, a bad domain name, ...)
	// and std::length_error for an option over 65535 octets.
	std::vector<uint8_t> serialize() const;
	void serialize(Writer &w) const;

	// Typed access to the top-level options; see OptionList.
	template <class T> const T *get() const { return options.get<T>(); }
	template <class T> T *get() { return options.get<T>(); }
	template <class T> std::vector<const T *> all() const { return options.all<T>(); }
	template <class T> std::vector<T *> all() { return options.all<T>(); }
	template <class T> bool has() const { return options.has<T>(); }

	template <class T> Message &add(T option) &
	{
		options.add(std::move(option));
		return *this;
	}
	template <class T> Message &&add(T option) &&
	{
		options.add(std::move(option));
		return std::move(*this);
	}
	template <class T> Message &set(T option) &
	{
		options.set(std::move(option));
		return *this;
	}
	template <class T> Message &&set(T option) &&
	{
		options.set(std::move(option));
		return std::move(*this);
	}

	// The DUIDs of the Client/Server Identifier options, or nullptr.
	const Duid *client_id() const;
	const Duid *server_id() const;
	// §21.13: the top-level Status Code, Success when there is none.
	Status status() const;

	// The message inside a relay message's Relay Message option, or nullptr.
	const Message *relayed() const;
	Message *relayed();
	// The client/server message under every relay wrapper (itself if none).
	const Message &innermost() const;

	// ---- client messages (RFC 8415 §18.2) ----
	// Each carries the Client Identifier and an Elapsed Time of 0 (§21.9:
	// the client MUST send one; set() a new value on retransmission).
	static Message solicit(uint32_t xid, const Duid &client);
	static Message request(uint32_t xid, const Duid &client, const Duid &server);
	static Message confirm(uint32_t xid, const Duid &client);
	static Message renew(uint32_t xid, const Duid &client, const Duid &server);
	static Message rebind(uint32_t xid, const Duid &client);
	static Message release(uint32_t xid, const Duid &client, const Duid &server);
	static Message decline(uint32_t xid, const Duid &client, const Duid &server);
	static Message information_request(uint32_t xid, const Duid &client);

	// ---- server messages (RFC 8415 §18.3) ----
	// Same transaction-id as `to`, the server's identifier, and the
	// client's identifier copied from `to` when it has one (§18.3.x).
	static Message advertise(const Message &solicit, const Duid &server);
	static Message reply(const Message &to, const Duid &server);
	// §18.3.11: transaction-id 0, Server and Client Identifier, and the
	// message the client is to answer with (Renew, Rebind or
	// Information-request). Sign it with sign_reconfigure() (auth.h).
	static Message reconfigure(const Duid &server, const Duid &client, MessageType answer_with);

	// ---- relay messages (RFC 8415 §19) ----
	// §19.1.2: wrap what a relay received; hop-count is one more than the
	// received Relay-Forw's, 0 for a client message.
	static Message relay_forward(Message received, const Ipv6Address &link_address,
				     const Ipv6Address &peer_address);
	// §19.3: the server's answer to a (possibly nested) Relay-Forw: one
	// Relay-Repl per Relay-Forw level, with the same hop-count, link- and
	// peer-address and Interface-Id (§21.18), `reply` innermost.
	static Message relay_reply(const Message &relay_forward, Message reply);

	bool operator==(const Message &) const = default;
};

} // namespace umigame::dhcp6
