// Whole messages: the hand-assembled vectors of vectors.h against the
// builders, and what a requesting and a delegating router read back.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hex.h"
#include "umigame/dhcp6/auth.h"
#include "umigame/dhcp6/message.h"
#include "vectors.h"

namespace umigame::dhcp6 {
namespace {

using namespace test;

struct MessageCase {
	const char *name;
	std::function<std::vector<uint8_t>()> wire;
	std::function<Message()> build;
};

Message signed_reconfigure()
{
	Message m = Message::reconfigure(server_duid(), client_duid(), MessageType::Renew);
	sign_reconfigure(m, reconfigure_key(), 1);
	return m;
}

const MessageCase kMessages[] = {
	{"RFC 8415 §18.2.1 Solicit with IA_PD and Rapid Commit", solicit_wire, solicit_message},
	{"RFC 8415 §18.3.9 Advertise", advertise_wire, advertise_message},
	{"RFC 8415 §18.3.10 Reply with IA_PD, RFC 3646 DNS", reply_wire, reply_message},
	{"RFC 8415 §19.1.1 Relay-Forw around a Solicit", relay_forward_wire, relay_forward_message},
	{"RFC 8415 §20.4.2 Reconfigure with Reconfigure Key auth", reconfigure_wire, signed_reconfigure},
};

TEST(MessageVectors, BuildersSerializeToTheHandAssembledBytes)
{
	for (const MessageCase &c : kMessages) {
		SCOPED_TRACE(c.name);
		EXPECT_EQ(to_hex(c.build().serialize()), to_hex(c.wire()));
	}
}

TEST(MessageVectors, ParseGivesWhatTheBuildersMade)
{
	for (const MessageCase &c : kMessages) {
		SCOPED_TRACE(c.name);
		Message parsed = Message::parse(c.wire());
		EXPECT_TRUE(parsed == c.build());
		EXPECT_EQ(parsed.serialize(), c.wire());
	}
}

TEST(Solicit, RequestingRouterAsksForAPrefixLengthRfc8415s18_2_1)
{
	Message m = Message::parse(solicit_wire());
	EXPECT_EQ(m.type, MessageType::Solicit);
	EXPECT_EQ(m.transaction_id, 0x123456u);
	EXPECT_FALSE(m.is_relay());
	ASSERT_NE(m.client_id(), nullptr);
	EXPECT_EQ(*m.client_id(), client_duid());
	EXPECT_EQ(m.server_id(), nullptr);
	EXPECT_TRUE(m.has<RapidCommit>());
	EXPECT_TRUE(m.get<OptionRequest>()->requests(OPTION_DNS_SERVERS));
	EXPECT_FALSE(m.get<OptionRequest>()->requests(OPTION_SOL_MAX_RT));
	EXPECT_EQ(m.get<ElapsedTime>()->centiseconds, 0);
	const IaPd *ia = m.get<IaPd>();
	ASSERT_NE(ia, nullptr);
	ASSERT_EQ(ia->prefixes().size(), 1u);
	EXPECT_EQ(ia->prefixes()[0]->prefix.length, 56);
}

TEST(Advertise, CopiesTransactionAndClientRfc8415s18_3_9)
{
	Message m = Message::parse(advertise_wire());
	EXPECT_EQ(m.transaction_id, 0x123456u);
	EXPECT_EQ(*m.client_id(), client_duid());
	EXPECT_EQ(*m.server_id(), server_duid());
	EXPECT_EQ(m.get<Preference>()->value, 255);
	EXPECT_EQ(m.get<IaPd>()->prefixes()[0]->prefix, delegated_prefix());
	EXPECT_EQ(m.status(), Status::Success);
}

TEST(Reply, DelegatedPrefixDnsAndSearchList)
{
	Message m = Message::parse(reply_wire());
	const IaPd *ia = m.get<IaPd>();
	ASSERT_NE(ia, nullptr);
	EXPECT_EQ(ia->status(), Status::Success);
	EXPECT_EQ(ia->status_code()->message, "ok");
	EXPECT_EQ(ia->t1, 1800u);
	EXPECT_EQ(ia->prefixes()[0]->valid_lifetime, 7200u);
	ASSERT_EQ(m.get<DnsServers>()->servers.size(), 2u);
	EXPECT_EQ(m.get<DnsServers>()->servers[1].str(), "2001:db8::5353");
	ASSERT_EQ(m.get<DomainList>()->names.size(), 2u);
	EXPECT_EQ(m.get<DomainList>()->names[0].str(), "example.com");
	EXPECT_EQ(m.get<DomainList>()->names[1].str(), "lab");
}

TEST(Reply, NoPrefixAvailInsideTheIaRfc8415s18_3_9)
{
	// A delegating router with an empty pool answers per IA (§18.3.9).
	Message reply = Message::reply(request_message(), server_duid())
				.add(IaPd{.iaid = 1, .options = {StatusCode{Status::NoPrefixAvail, ""}}});
	Message parsed = Message::parse(reply.serialize());
	EXPECT_EQ(parsed.status(), Status::Success);
	EXPECT_EQ(parsed.get<IaPd>()->status(), Status::NoPrefixAvail);
	EXPECT_TRUE(parsed.get<IaPd>()->prefixes().empty());
}

struct ClientBuilderCase {
	const char *name;
	Message message;
	MessageType type;
	bool has_server_id;
};

TEST(ClientMessages, BuildersFillRfc8415s18_2)
{
	const Duid c = client_duid(), s = server_duid();
	const ClientBuilderCase cases[] = {
		{"§18.2.1 Solicit", Message::solicit(1, c), MessageType::Solicit, false},
		{"§18.2.2 Request", Message::request(2, c, s), MessageType::Request, true},
		{"§18.2.3 Confirm", Message::confirm(3, c), MessageType::Confirm, false},
		{"§18.2.4 Renew", Message::renew(4, c, s), MessageType::Renew, true},
		{"§18.2.5 Rebind", Message::rebind(5, c), MessageType::Rebind, false},
		{"§18.2.6 Information-request", Message::information_request(6, c),
		 MessageType::InformationRequest, false},
		{"§18.2.7 Release", Message::release(7, c, s), MessageType::Release, true},
		{"§18.2.8 Decline", Message::decline(8, c, s), MessageType::Decline, true},
	};
	uint32_t xid = 1;
	for (const ClientBuilderCase &k : cases) {
		SCOPED_TRACE(k.name);
		EXPECT_EQ(k.message.type, k.type);
		EXPECT_EQ(k.message.transaction_id, xid++);
		EXPECT_EQ(*k.message.client_id(), c);
		EXPECT_EQ(k.message.server_id() != nullptr, k.has_server_id);
		EXPECT_TRUE(k.message.has<ElapsedTime>()); // §21.9: MUST
		Message parsed = Message::parse(k.message.serialize());
		EXPECT_TRUE(parsed == k.message);
	}
}

TEST(ClientMessages, ElapsedTimeIsUpdatedInPlace)
{
	Message m = Message::solicit(1, client_duid());
	m.set(ElapsedTime{250});
	EXPECT_EQ(m.all<ElapsedTime>().size(), 1u);
	EXPECT_EQ(m.get<ElapsedTime>()->centiseconds, 250);
}

TEST(ServerMessages, ReplyToInformationRequestWithoutClientId)
{
	Message info;
	info.type = MessageType::InformationRequest;
	info.transaction_id = 42;
	Message reply = Message::reply(info, server_duid()).add(InformationRefreshTime{86400});
	EXPECT_EQ(reply.transaction_id, 42u);
	EXPECT_EQ(reply.client_id(), nullptr);
	EXPECT_EQ(*reply.server_id(), server_duid());
}

TEST(ServerMessages, ReconfigureAsksOnlyForRenewRebindOrInformationRequestRfc8415s21_19)
{
	EXPECT_NO_THROW(Message::reconfigure(server_duid(), client_duid(), MessageType::Rebind));
	EXPECT_NO_THROW(
		Message::reconfigure(server_duid(), client_duid(), MessageType::InformationRequest));
	EXPECT_THROW(Message::reconfigure(server_duid(), client_duid(), MessageType::Solicit),
		     std::invalid_argument);
	Message m = Message::reconfigure(server_duid(), client_duid(), MessageType::Renew);
	EXPECT_EQ(m.transaction_id, 0u);
	EXPECT_EQ(m.get<ReconfigureMessage>()->type, MessageType::Renew);
}

TEST(Relay, ForwardWrapsAndCountsHopsRfc8415s19_1_2)
{
	Message first = Message::relay_forward(solicit_message(), relay_link_address(), client_link_local());
	EXPECT_EQ(first.hop_count, 0);
	Message second = Message::relay_forward(first, *Ipv6Address::parse("2001:db8:ffff::1"),
						relay_link_address());
	EXPECT_EQ(second.hop_count, 1);
	EXPECT_EQ(second.relayed()->type, MessageType::RelayForw);
	EXPECT_TRUE(second.innermost() == solicit_message());

	Message parsed = Message::parse(relay_forward_wire());
	EXPECT_TRUE(parsed.is_relay());
	EXPECT_EQ(parsed.link_address, relay_link_address());
	EXPECT_EQ(parsed.peer_address, client_link_local());
	EXPECT_EQ(parsed.get<InterfaceId>()->id, (std::vector<uint8_t>{'e', 't', 'h', '0'}));
	ASSERT_NE(parsed.relayed(), nullptr);
	EXPECT_EQ(parsed.relayed()->type, MessageType::Solicit);
	EXPECT_EQ(parsed.transaction_id, 0u); // not on the wire for relays
}

TEST(Relay, ReplyMirrorsEveryLevelRfc8415s19_3)
{
	// Two relays: the one at the client's link adds an Interface-Id.
	Message inner_forw = Message::relay_forward(solicit_message(), relay_link_address(),
						    client_link_local())
				     .add(InterfaceId{{'e', 't', 'h', '0'}});
	Message outer_forw = Message::relay_forward(inner_forw, *Ipv6Address::parse("2001:db8:ffff::1"),
						    relay_link_address());
	Message received = Message::parse(outer_forw.serialize());

	const Message &client_msg = received.innermost();
	Message advertise = Message::advertise(client_msg, server_duid()).add(Preference{1});
	Message answer = Message::relay_reply(received, advertise);

	EXPECT_EQ(answer.type, MessageType::RelayRepl);
	EXPECT_EQ(answer.hop_count, 1);
	EXPECT_EQ(answer.link_address, outer_forw.link_address);
	EXPECT_EQ(answer.peer_address, outer_forw.peer_address);
	EXPECT_FALSE(answer.has<InterfaceId>());
	const Message *level0 = answer.relayed();
	ASSERT_NE(level0, nullptr);
	EXPECT_EQ(level0->type, MessageType::RelayRepl);
	EXPECT_EQ(level0->hop_count, 0);
	EXPECT_EQ(level0->peer_address, client_link_local());
	EXPECT_EQ(level0->get<InterfaceId>()->id, (std::vector<uint8_t>{'e', 't', 'h', '0'}));
	EXPECT_TRUE(answer.innermost() == advertise);
	EXPECT_TRUE(Message::parse(answer.serialize()) == answer);

	EXPECT_THROW(Message::relay_reply(solicit_message(), advertise), std::invalid_argument);
}

TEST(Messages, UnknownTypeUsesTheClientServerLayoutRfc8415s8)
{
	const auto wire = hex("42 000001  fff1 0002 abcd");
	Message m = Message::parse(wire);
	EXPECT_EQ(static_cast<int>(m.type), 0x42);
	EXPECT_EQ(message_type_name(m.type), "type 66");
	EXPECT_EQ(m.options.find(0xfff1)->as<RawOption>()->data, hex("abcd"));
	EXPECT_EQ(m.serialize(), wire);
}

TEST(Messages, UnknownOptionsInsideAnIaPrefixAreKept)
{
	// An option we do not model stays raw inside the IA Prefix and goes
	// back out unchanged.
	const auto wire = hex("07 000001"
			      "0019 0030  00000001 00000000 00000000"
			      "  001a 0020  00000e10 00001c20 38 20010db8001234000000000000000000"
			      "    fff0 0003 40 1234");
	Message m = Message::parse(wire);
	const IaPrefix *p = m.get<IaPd>()->prefixes()[0];
	ASSERT_NE(p->options.find(0xfff0), nullptr);
	EXPECT_EQ(p->options.find(0xfff0)->as<RawOption>()->data, hex("40 1234"));
	EXPECT_EQ(m.serialize(), wire);
}

// RFC 6603 §4.2: a Prefix Exclude inside an IA Prefix, read relative to it.
TEST(Messages, PrefixExcludeInsideAnIaPrefix)
{
	const auto wire = hex("07 000001"
			      "0019 002f  00000001 00000000 00000000"
			      "  001a 001f  00000e10 00001c20 38 20010db8001234000000000000000000"
			      "    0043 0002 40 05");
	Message m = Message::parse(wire);
	const IaPrefix *p = m.get<IaPd>()->prefixes()[0];
	ASSERT_NE(p->options.get<PdExclude>(), nullptr);
	EXPECT_EQ(p->options.get<PdExclude>()->excluded_from(p->prefix), Ipv6Prefix::parse("2001:db8:12:3405::/64"));
	EXPECT_EQ(m.serialize(), wire);
}

TEST(Messages, SerializeRefusesTransactionIdOver24BitsRfc8415s8)
{
	Message m = Message::solicit(0x1000000, client_duid());
	EXPECT_THROW(m.serialize(), std::invalid_argument);
	m.transaction_id = 0xffffff;
	EXPECT_EQ(m.serialize()[1], 0xff);
}

TEST(Messages, NamesForLogs)
{
	EXPECT_EQ(message_type_name(MessageType::RelayForw), "Relay-forward");
	EXPECT_EQ(option_name(OPTION_IA_PD), "IA_PD");
	EXPECT_EQ(option_name(4242), "option 4242");
	EXPECT_EQ(status_name(Status::NoPrefixAvail), "NoPrefixAvail");
}

} // namespace
} // namespace umigame::dhcp6
