#include "umigame/dhcp6/message.h"

#include <stdexcept>

namespace umigame::dhcp6 {

namespace {

// One message filling the reader: the outermost UDP payload, or the payload
// of a Relay Message option (then errors name that option).
Message read_message(Reader &r)
{
	if (r.empty())
		r.fail("empty message (RFC 8415 §8)");
	Message m;
	m.type = static_cast<MessageType>(r.u8());
	if (m.is_relay()) {
		// §9: msg-type, hop-count, link-address, peer-address, options.
		if (r.remaining() < 33)
			r.fail(message_type_name(m.type) + " of " + std::to_string(r.remaining() + 1) +
			       " octets, shorter than the 34-octet relay header (RFC 8415 §9)");
		m.hop_count = r.u8();
		m.link_address = r.address();
		m.peer_address = r.address();
		m.options = r.options(Scope::Relay);
		// §9.1/§9.2: a relay message MUST carry the relayed message; two
		// would leave open which one the server or client acts on.
		size_t inner = m.options.all<RelayMessage>().size();
		if (inner != 1)
			r.fail(message_type_name(m.type) + " with " + std::to_string(inner) +
			       " Relay Message options, must have exactly one (RFC 8415 §9)");
	} else {
		// §8: msg-type, 24-bit transaction-id, options.
		if (r.remaining() < 3)
			r.fail(message_type_name(m.type) + " of " + std::to_string(r.remaining() + 1) +
			       " octets, shorter than the 4-octet header (RFC 8415 §8)");
		uint32_t high = r.u8();
		m.transaction_id = high << 16 | r.u16();
		m.options = r.options(Scope::Message);
	}
	return m;
}

Message client_message(MessageType type, uint32_t xid, const Duid &client, const Duid *server)
{
	Message m;
	m.type = type;
	m.transaction_id = xid;
	m.options.add(ClientId{client});
	if (server)
		m.options.add(ServerId{*server});
	m.options.add(ElapsedTime{0});
	return m;
}

Message server_message(MessageType type, const Message &to, const Duid &server)
{
	Message m;
	m.type = type;
	m.transaction_id = to.transaction_id;
	m.options.add(ServerId{server});
	if (const ClientId *client = to.get<ClientId>())
		m.options.add(*client);
	return m;
}

} // namespace

Message Reader::message()
{
	if (++budget_->depth > kMaxNestingDepth)
		fail("messages nested more than " + std::to_string(kMaxNestingDepth) + " levels deep");
	Message m = read_message(*this);
	budget_->depth--;
	return m;
}

Message Message::parse(std::span<const uint8_t> wire)
{
	ParseBudget budget;
	Reader r(wire, 0, 0, 0, budget);
	return read_message(r);
}

std::vector<uint8_t> Message::serialize() const
{
	std::vector<uint8_t> out;
	out.reserve(512);
	Writer w(out);
	serialize(w);
	return out;
}

void Message::serialize(Writer &w) const
{
	w.u8(static_cast<uint8_t>(type));
	if (is_relay()) {
		w.u8(hop_count);
		w.address(link_address);
		w.address(peer_address);
	} else {
		if (transaction_id > 0xffffff)
			throw std::invalid_argument("DHCPv6 transaction-id " +
						    std::to_string(transaction_id) +
						    " does not fit 24 bits (RFC 8415 §8)");
		w.u8(static_cast<uint8_t>(transaction_id >> 16));
		w.u16(static_cast<uint16_t>(transaction_id));
	}
	options.serialize(w);
}

const Duid *Message::client_id() const
{
	const ClientId *c = get<ClientId>();
	return c ? &c->duid : nullptr;
}

const Duid *Message::server_id() const
{
	const ServerId *s = get<ServerId>();
	return s ? &s->duid : nullptr;
}

Status Message::status() const
{
	const StatusCode *s = get<StatusCode>();
	return s ? s->code : Status::Success;
}

const Message *Message::relayed() const
{
	if (!is_relay())
		return nullptr;
	const RelayMessage *r = get<RelayMessage>();
	return r ? &r->message() : nullptr;
}

Message *Message::relayed()
{
	if (!is_relay())
		return nullptr;
	RelayMessage *r = get<RelayMessage>();
	return r ? &r->message() : nullptr;
}

const Message &Message::innermost() const
{
	const Message *m = this;
	while (const Message *inner = m->relayed())
		m = inner;
	return *m;
}

Message Message::solicit(uint32_t xid, const Duid &client)
{
	return client_message(MessageType::Solicit, xid, client, nullptr);
}

Message Message::request(uint32_t xid, const Duid &client, const Duid &server)
{
	return client_message(MessageType::Request, xid, client, &server);
}

Message Message::confirm(uint32_t xid, const Duid &client)
{
	return client_message(MessageType::Confirm, xid, client, nullptr);
}

Message Message::renew(uint32_t xid, const Duid &client, const Duid &server)
{
	return client_message(MessageType::Renew, xid, client, &server);
}

Message Message::rebind(uint32_t xid, const Duid &client)
{
	return client_message(MessageType::Rebind, xid, client, nullptr);
}

Message Message::release(uint32_t xid, const Duid &client, const Duid &server)
{
	return client_message(MessageType::Release, xid, client, &server);
}

Message Message::decline(uint32_t xid, const Duid &client, const Duid &server)
{
	return client_message(MessageType::Decline, xid, client, &server);
}

Message Message::information_request(uint32_t xid, const Duid &client)
{
	return client_message(MessageType::InformationRequest, xid, client, nullptr);
}

Message Message::advertise(const Message &solicit, const Duid &server)
{
	return server_message(MessageType::Advertise, solicit, server);
}

Message Message::reply(const Message &to, const Duid &server)
{
	return server_message(MessageType::Reply, to, server);
}

Message Message::reconfigure(const Duid &server, const Duid &client, MessageType answer_with)
{
	// §21.19: only these three may be asked for.
	if (answer_with != MessageType::Renew && answer_with != MessageType::Rebind &&
	    answer_with != MessageType::InformationRequest)
		throw std::invalid_argument("Reconfigure can ask for Renew, Rebind or "
					    "Information-request, not " +
					    message_type_name(answer_with) + " (RFC 8415 §21.19)");
	Message m;
	m.type = MessageType::Reconfigure;
	m.transaction_id = 0;
	m.options.add(ServerId{server}).add(ClientId{client}).add(ReconfigureMessage{answer_with});
	return m;
}

Message Message::relay_forward(Message received, const Ipv6Address &link_address,
			       const Ipv6Address &peer_address)
{
	Message m;
	m.type = MessageType::RelayForw;
	if (received.type == MessageType::RelayForw) {
		if (received.hop_count == 0xff)
			throw std::invalid_argument("Relay-forward hop-count would wrap");
		m.hop_count = static_cast<uint8_t>(received.hop_count + 1);
	}
	m.link_address = link_address;
	m.peer_address = peer_address;
	m.options.add(RelayMessage(std::move(received)));
	return m;
}

Message Message::relay_reply(const Message &relay_forward, Message reply)
{
	if (relay_forward.type != MessageType::RelayForw)
		throw std::invalid_argument("relay_reply() answers a Relay-forward, not " +
					    message_type_name(relay_forward.type));
	// Wrap from the inside out: the innermost Relay-Forw's Relay-Repl goes
	// first around the reply.
	const Message *inner = relay_forward.relayed();
	if (inner && inner->type == MessageType::RelayForw)
		reply = relay_reply(*inner, std::move(reply));
	Message m;
	m.type = MessageType::RelayRepl;
	m.hop_count = relay_forward.hop_count;
	m.link_address = relay_forward.link_address;
	m.peer_address = relay_forward.peer_address;
	if (const InterfaceId *id = relay_forward.get<InterfaceId>())
		m.options.add(*id);
	m.options.add(RelayMessage(std::move(reply)));
	return m;
}

} // namespace umigame::dhcp6
