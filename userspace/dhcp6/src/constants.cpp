#include "umigame/dhcp6/constants.h"

namespace umigame::dhcp6 {

std::string message_type_name(MessageType type)
{
	switch (type) {
	case MessageType::Solicit: return "Solicit";
	case MessageType::Advertise: return "Advertise";
	case MessageType::Request: return "Request";
	case MessageType::Confirm: return "Confirm";
	case MessageType::Renew: return "Renew";
	case MessageType::Rebind: return "Rebind";
	case MessageType::Reply: return "Reply";
	case MessageType::Release: return "Release";
	case MessageType::Decline: return "Decline";
	case MessageType::Reconfigure: return "Reconfigure";
	case MessageType::InformationRequest: return "Information-request";
	case MessageType::RelayForw: return "Relay-forward";
	case MessageType::RelayRepl: return "Relay-reply";
	}
	return "type " + std::to_string(static_cast<unsigned>(type));
}

std::string option_name(uint16_t code)
{
	switch (code) {
	case OPTION_CLIENTID: return "CLIENTID";
	case OPTION_SERVERID: return "SERVERID";
	case OPTION_IA_NA: return "IA_NA";
	case OPTION_IA_TA: return "IA_TA";
	case OPTION_IAADDR: return "IAADDR";
	case OPTION_ORO: return "ORO";
	case OPTION_PREFERENCE: return "PREFERENCE";
	case OPTION_ELAPSED_TIME: return "ELAPSED_TIME";
	case OPTION_RELAY_MSG: return "RELAY_MSG";
	case OPTION_AUTH: return "AUTH";
	case OPTION_UNICAST: return "UNICAST";
	case OPTION_STATUS_CODE: return "STATUS_CODE";
	case OPTION_RAPID_COMMIT: return "RAPID_COMMIT";
	case OPTION_USER_CLASS: return "USER_CLASS";
	case OPTION_VENDOR_CLASS: return "VENDOR_CLASS";
	case OPTION_VENDOR_OPTS: return "VENDOR_OPTS";
	case OPTION_INTERFACE_ID: return "INTERFACE_ID";
	case OPTION_RECONF_MSG: return "RECONF_MSG";
	case OPTION_RECONF_ACCEPT: return "RECONF_ACCEPT";
	case OPTION_DNS_SERVERS: return "DNS_SERVERS";
	case OPTION_DOMAIN_LIST: return "DOMAIN_LIST";
	case OPTION_IA_PD: return "IA_PD";
	case OPTION_IAPREFIX: return "IAPREFIX";
	case OPTION_INFORMATION_REFRESH_TIME: return "INFORMATION_REFRESH_TIME";
	case OPTION_SOL_MAX_RT: return "SOL_MAX_RT";
	case OPTION_INF_MAX_RT: return "INF_MAX_RT";
	case OPTION_ADDRSEL: return "ADDRSEL";
	case OPTION_ADDRSEL_TABLE: return "ADDRSEL_TABLE";
	case OPTION_CAPTIVE_PORTAL: return "CAPTIVE_PORTAL";
	case OPTION_PD_EXCLUDE: return "PD_EXCLUDE";
	}
	return "option " + std::to_string(code);
}

std::string status_name(Status status)
{
	switch (status) {
	case Status::Success: return "Success";
	case Status::UnspecFail: return "UnspecFail";
	case Status::NoAddrsAvail: return "NoAddrsAvail";
	case Status::NoBinding: return "NoBinding";
	case Status::NotOnLink: return "NotOnLink";
	case Status::UseMulticast: return "UseMulticast";
	case Status::NoPrefixAvail: return "NoPrefixAvail";
	}
	return "status " + std::to_string(static_cast<unsigned>(status));
}

} // namespace umigame::dhcp6
