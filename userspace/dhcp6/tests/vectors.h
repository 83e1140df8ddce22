// Messages assembled by hand from the formats of RFC 8415 §8, §9 and §21,
// RFC 3646 and the option sections cited per field. Shared by the message
// tests, the malformed-input tests and (as files) the fuzz corpus.
#pragma once

#include <cstdint>
#include <vector>

#include "hex.h"
#include "umigame/dhcp6/auth.h"
#include "umigame/dhcp6/message.h"

namespace umigame::dhcp6::test {

// The requesting router: DUID-LL of its Ethernet MAC (§11.4).
inline Duid client_duid()
{
	return Duid::ll(*MacAddress::parse("02:00:5e:10:00:01"));
}

// The delegating router: DUID-LLT (§11.2), time 0x2a3b4c5d.
inline Duid server_duid()
{
	return Duid::llt(*MacAddress::parse("02:00:5e:10:00:fe"), 0x2a3b4c5d);
}

inline ReconfigureKey reconfigure_key()
{
	return {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
}

// Solicit asking for a /56 by prefix-length hint, with Rapid Commit
// (§18.2.1, §21.14) and an ORO for DNS servers and the domain search list.
inline std::vector<uint8_t> solicit_wire()
{
	return hex("01"                              // msg-type SOLICIT (§7.3)
		   "123456"                          // transaction-id (§8)
		   "0001 000a"                       // OPTION_CLIENTID, option-len 10 (§21.2)
		   "  0003 0001 02005e100001"        //   DUID-LL, hw type 1, MAC (§11.4)
		   "0008 0002"                       // OPTION_ELAPSED_TIME, option-len 2 (§21.9)
		   "  0000"                          //   0 centiseconds
		   "0006 0004"                       // OPTION_ORO, option-len 4 (§21.7)
		   "  0017 0018"                     //   DNS_SERVERS, DOMAIN_LIST
		   "000e 0000"                       // OPTION_RAPID_COMMIT, empty (§21.14)
		   "0019 0029"                       // OPTION_IA_PD, option-len 41 (§21.21)
		   "  00000001"                      //   IAID 1
		   "  00000000 00000000"             //   T1, T2: no preference
		   "  001a 0019"                     //   OPTION_IAPREFIX, option-len 25 (§21.22)
		   "    00000000 00000000"           //     preferred, valid lifetime: none
		   "    38"                          //     prefix-length 56
		   "    00000000000000000000000000000000"); //  prefix :: (length hint only)
}

inline Message solicit_message()
{
	return Message::solicit(0x123456, client_duid())
		.add(OptionRequest{{OPTION_DNS_SERVERS, OPTION_DOMAIN_LIST}})
		.add(RapidCommit{})
		.add(IaPd{.iaid = 1, .options = {IaPrefix{.prefix = {{}, 56}}}});
}

inline Ipv6Prefix delegated_prefix()
{
	return *Ipv6Prefix::parse("2001:db8:12:3400::/56");
}

// Advertise offering 2001:db8:12:3400::/56 with the highest preference.
inline std::vector<uint8_t> advertise_wire()
{
	return hex("02"                              // msg-type ADVERTISE
		   "123456"                          // transaction-id of the Solicit
		   "0002 000e"                       // OPTION_SERVERID, option-len 14 (§21.3)
		   "  0001 0001 2a3b4c5d 02005e1000fe" //  DUID-LLT, hw type 1, time, MAC (§11.2)
		   "0001 000a"                       // OPTION_CLIENTID copied from the Solicit
		   "  0003 0001 02005e100001"
		   "0007 0001"                       // OPTION_PREFERENCE, option-len 1 (§21.8)
		   "  ff"                            //   255
		   "0019 0029"                       // OPTION_IA_PD, option-len 41
		   "  00000001"                      //   IAID 1
		   "  00000708 00000b40"             //   T1 1800 s, T2 2880 s
		   "  001a 0019"                     //   OPTION_IAPREFIX, option-len 25
		   "    00000e10 00001c20"           //     preferred 3600 s, valid 7200 s
		   "    38"                          //     prefix-length 56
		   "    20010db8001234000000000000000000"); // 2001:db8:12:3400::
}

inline Message advertise_message()
{
	return Message::advertise(solicit_message(), server_duid())
		.add(Preference{255})
		.add(IaPd{.iaid = 1,
			  .t1 = 1800,
			  .t2 = 2880,
			  .options = {IaPrefix{.preferred_lifetime = 3600,
					       .valid_lifetime = 7200,
					       .prefix = delegated_prefix()}}});
}

// Reply to a Request: the delegated prefix with a Success status inside the
// IA_PD, DNS recursive name servers and a domain search list.
inline std::vector<uint8_t> reply_wire()
{
	return hex("07"                              // msg-type REPLY
		   "abcdef"                          // transaction-id of the Request
		   "0002 000e"                       // OPTION_SERVERID
		   "  0001 0001 2a3b4c5d 02005e1000fe"
		   "0001 000a"                       // OPTION_CLIENTID
		   "  0003 0001 02005e100001"
		   "0019 0031"                       // OPTION_IA_PD, option-len 49 = 12 + 29 + 8
		   "  00000001 00000708 00000b40"    //   IAID 1, T1 1800, T2 2880
		   "  001a 0019"                     //   OPTION_IAPREFIX, option-len 25
		   "    00000e10 00001c20 38"        //     3600 s, 7200 s, /56
		   "    20010db8001234000000000000000000"
		   "  000d 0004"                     //   OPTION_STATUS_CODE, option-len 4 (§21.13)
		   "    0000 6f6b"                   //     Success, "ok"
		   "0017 0020"                       // OPTION_DNS_SERVERS, 2 x 16 (RFC 3646 §3)
		   "  20010db8000000000000000000000053" // 2001:db8::53
		   "  20010db8000000000000000000005353" // 2001:db8::5353
		   "0018 0012"                       // OPTION_DOMAIN_LIST, option-len 18 (RFC 3646 §4)
		   "  07 6578616d706c65 03 636f6d 00" //  example.com.
		   "  03 6c6162 00");                 //   lab.
}

inline Message request_message()
{
	Message m = Message::request(0xabcdef, client_duid(), server_duid());
	m.add(IaPd{.iaid = 1, .options = {IaPrefix{.prefix = delegated_prefix()}}});
	return m;
}

inline Message reply_message()
{
	return Message::reply(request_message(), server_duid())
		.add(IaPd{.iaid = 1,
			  .t1 = 1800,
			  .t2 = 2880,
			  .options = {IaPrefix{.preferred_lifetime = 3600,
					       .valid_lifetime = 7200,
					       .prefix = delegated_prefix()},
				      StatusCode{Status::Success, "ok"}}})
		.add(DnsServers{{*Ipv6Address::parse("2001:db8::53"),
				 *Ipv6Address::parse("2001:db8::5353")}})
		.add(DomainList{{*DomainName::from_text("example.com"),
				 *DomainName::from_text("lab")}});
}

// A relay agent's Relay-Forw around the Solicit (§9, §19.1.1), naming the
// client's interface with an Interface-Id (§21.18).
inline std::vector<uint8_t> relay_forward_wire()
{
	return hex("0c"                               // msg-type RELAY-FORW
		   "00"                               // hop-count 0: first relay
		   "20010db8000000010000000000000001" // link-address 2001:db8:0:1::1
		   "fe800000000000000200 5efffe100001" // peer-address fe80::200:5eff:fe10:1
		   "0009 0051"                        // OPTION_RELAY_MSG, option-len 81 (§21.10)
		   "  01 123456"                      //   the Solicit above, verbatim
		   "  0001 000a 0003 0001 02005e100001"
		   "  0008 0002 0000"
		   "  0006 0004 0017 0018"
		   "  000e 0000"
		   "  0019 0029 00000001 00000000 00000000"
		   "    001a 0019 00000000 00000000 38 00000000000000000000000000000000"
		   "0012 0004"                        // OPTION_INTERFACE_ID, option-len 4
		   "  65746830");                     //   "eth0"
}

inline Ipv6Address relay_link_address()
{
	return *Ipv6Address::parse("2001:db8:0:1::1");
}

inline Ipv6Address client_link_local()
{
	return *Ipv6Address::parse("fe80::200:5eff:fe10:1");
}

inline Message relay_forward_message()
{
	return Message::relay_forward(solicit_message(), relay_link_address(), client_link_local())
		.add(InterfaceId{{'e', 't', 'h', '0'}});
}

// A Reconfigure asking for a Renew, authenticated with the Reconfigure Key
// protocol (§20.4.2); key 00 01 .. 0f, replay detection 1. The digest was
// computed independently (Python's hmac module over these bytes with the
// 16 digest octets zeroed).
inline std::vector<uint8_t> reconfigure_wire()
{
	return hex("0a"                               // msg-type RECONFIGURE
		   "000000"                           // transaction-id 0 (§18.3.11)
		   "0002 000e"                        // OPTION_SERVERID
		   "  0001 0001 2a3b4c5d 02005e1000fe"
		   "0001 000a"                        // OPTION_CLIENTID
		   "  0003 0001 02005e100001"
		   "0013 0001"                        // OPTION_RECONF_MSG, option-len 1 (§21.19)
		   "  05"                             //   answer with Renew
		   "000b 001c"                        // OPTION_AUTH, option-len 28 = 11 + 17 (§21.11)
		   "  03 01 00"                       //   protocol 3, HMAC-MD5, RDM 0 (§20.4)
		   "  0000000000000001"               //   replay detection 1
		   "  02"                             //   type 2: HMAC-MD5 digest
		   "  168e0dfe36fd5801cdac2e6b1eeb5c00");
}

} // namespace umigame::dhcp6::test
