#include "umigame/dhcp6/options.h"

#include <algorithm>
#include <stdexcept>

#include "umigame/dhcp6/message.h"

namespace umigame::dhcp6 {

namespace {

// Where an option may appear (RFC 8415 Appendix C, RFC 7078 §3). Returns
// why not, or nullptr when it may. IAADDR/IAPREFIX outside their IA would
// otherwise be taken as the client's or server's real bindings.
const char *misplaced(uint16_t code, Scope scope)
{
	if (scope == Scope::Any)
		return nullptr;
	switch (code) {
	case OPTION_IAADDR:
		return scope == Scope::IaNa ? nullptr : "only allowed inside IA_NA (RFC 8415 §21.6)";
	case OPTION_IAPREFIX:
		return scope == Scope::IaPd ? nullptr : "only allowed inside IA_PD (RFC 8415 §21.22)";
	case OPTION_IA_NA:
		return scope == Scope::Message
			       ? nullptr
			       : "only allowed at the top of a client/server message (RFC 8415 §21.4)";
	case OPTION_IA_PD:
		return scope == Scope::Message
			       ? nullptr
			       : "only allowed at the top of a client/server message (RFC 8415 §21.21)";
	case OPTION_RELAY_MSG:
		return scope == Scope::Relay
			       ? nullptr
			       : "only allowed in Relay-forward/Relay-reply messages (RFC 8415 §21.10)";
	case OPTION_ADDRSEL_TABLE:
		return scope == Scope::AddressSelection ? nullptr
							: "only allowed inside OPTION_ADDRSEL (RFC 7078 §3)";
	case OPTION_PD_EXCLUDE:
		return scope == Scope::IaPrefix ? nullptr : "only allowed inside an IA Prefix (RFC 6603 §4.2)";
	}
	return nullptr;
}

// The option type whose kCode matches, tried in variant order; RawOption
// (alternative 0) for the rest.
template <size_t I = 1> Option parse_payload(uint16_t code, OptionReader &r)
{
	if constexpr (I == std::variant_size_v<Option::Value>) {
		auto data = r.rest();
		return RawOption{code, {data.begin(), data.end()}};
	} else {
		using T = std::variant_alternative_t<I, Option::Value>;
		if (code == T::kCode)
			return T::parse(r);
		return parse_payload<I + 1>(code, r);
	}
}

// §11.1 bounds, checked before the bytes become a Duid.
Duid parse_duid(OptionReader &r)
{
	if (r.remaining() < Duid::kMinSize || r.remaining() > Duid::kMaxSize)
		r.fail("DUID of " + std::to_string(r.remaining()) +
		       " octets: RFC 8415 §11.1 allows 3 to 130");
	return Duid::from_bytes(r.rest());
}

void serialize_duid(Writer &w, const Duid &duid)
{
	if (duid.empty())
		throw std::invalid_argument("DHCPv6: empty DUID in a Client/Server Identifier");
	w.bytes(duid.bytes());
}

std::string parse_string(OptionReader &r)
{
	auto b = r.rest();
	return {b.begin(), b.end()};
}

void serialize_string(Writer &w, const std::string &s)
{
	w.bytes({reinterpret_cast<const uint8_t *>(s.data()), s.size()});
}

uint8_t checked_prefix_length(const Ipv6Prefix &p)
{
	if (p.length > 128)
		throw std::invalid_argument("DHCPv6: prefix length " + std::to_string(p.length) +
					    " > 128");
	return p.length;
}

Status status_in(const OptionList &options)
{
	const StatusCode *s = options.get<StatusCode>();
	return s ? s->code : Status::Success;
}

// Counts one level of nesting for the life of a nested parse.
class DepthGuard {
public:
	explicit DepthGuard(const Reader &r) : budget_(r.budget())
	{
		if (++budget_.depth > kMaxNestingDepth)
			r.fail("options nested more than " + std::to_string(kMaxNestingDepth) +
			       " levels deep");
	}
	~DepthGuard() { budget_.depth--; }
	DepthGuard(const DepthGuard &) = delete;
	DepthGuard &operator=(const DepthGuard &) = delete;

private:
	ParseBudget &budget_;
};

} // namespace

// ---- OptionList and Option ----

OptionList::OptionList(std::initializer_list<Option> options) : items_(options) {}

const Option *OptionList::find(uint16_t code) const
{
	for (const Option &o : items_)
		if (o.code() == code)
			return &o;
	return nullptr;
}

std::vector<const Option *> OptionList::find_all(uint16_t code) const
{
	std::vector<const Option *> out;
	for (const Option &o : items_)
		if (o.code() == code)
			out.push_back(&o);
	return out;
}

size_t OptionList::remove(uint16_t code)
{
	return std::erase_if(items_, [code](const Option &o) { return o.code() == code; });
}

OptionList OptionList::parse(Reader &r, Scope scope)
{
	OptionList list;
	while (!r.empty())
		list.items_.push_back(Option::parse(r, scope));
	return list;
}

void OptionList::serialize(Writer &w) const
{
	for (const Option &o : items_)
		o.serialize(w);
}

OptionList Reader::options(Scope scope)
{
	DepthGuard guard(*this);
	return OptionList::parse(*this, scope);
}

uint16_t Option::code() const
{
	return std::visit(
		[](const auto &o) -> uint16_t {
			using T = std::decay_t<decltype(o)>;
			if constexpr (std::is_same_v<T, RawOption>)
				return o.code;
			else
				return T::kCode;
		},
		value);
}

Option Option::parse(Reader &r, Scope scope)
{
	// RFC 8415 §21.1: option-code (2), option-len (2), option-len octets.
	size_t at = r.offset();
	if (size_t left = r.remaining(); left < 4) {
		uint16_t code = left >= 2 ? r.u16() : 0;
		throw ParseError(at, code,
				 "option header truncated: " + std::to_string(left) +
					 " octets left, a header is 4 (RFC 8415 §21.1)");
	}
	uint16_t code = r.u16();
	uint16_t len = r.u16();
	if (len > r.remaining())
		throw ParseError(at, code,
				 "option-len " + std::to_string(len) + " exceeds the " +
					 std::to_string(r.remaining()) + " octets left in the enclosing " +
					 (r.option_code() ? option_name(r.option_code()) : "message"));
	if (++r.budget().options > kMaxOptionsPerMessage)
		throw ParseError(at, code,
				 "more than " + std::to_string(kMaxOptionsPerMessage) +
					 " options in one message");
	if (const char *why = misplaced(code, scope))
		throw ParseError(at, code, why);
	auto data = r.bytes(len);
	// RFC 7078 §3: a policy row with prefix-len over 128 makes the whole
	// Address Selection option ignored, not the message: kept opaque.
	if (code == OPTION_ADDRSEL && AddressSelection::must_be_ignored(data))
		return RawOption{code, {data.begin(), data.end()}};
	OptionReader payload(data, at + 4, code, at, r.budget());
	Option option = parse_payload(code, payload);
	payload.expect_end();
	return option;
}

void Option::serialize(Writer &w) const
{
	size_t mark = w.begin_option(code());
	std::visit([&w](const auto &o) { o.serialize(w); }, value);
	w.end_option(mark);
}

Option decode_option(std::span<const uint8_t> tlv)
{
	ParseBudget budget;
	Reader r(tlv, 0, 0, 0, budget);
	Option option = Option::parse(r, Scope::Any);
	if (!r.empty())
		throw ParseError(r.offset(), 0,
				 std::to_string(r.remaining()) + " octets after the option");
	return option;
}

std::vector<uint8_t> encode_option(const Option &option)
{
	std::vector<uint8_t> out;
	Writer w(out);
	option.serialize(w);
	return out;
}

// ---- identifiers ----

ClientId ClientId::parse(OptionReader &r)
{
	return {parse_duid(r)};
}

void ClientId::serialize(Writer &w) const
{
	serialize_duid(w, duid);
}

ServerId ServerId::parse(OptionReader &r)
{
	return {parse_duid(r)};
}

void ServerId::serialize(Writer &w) const
{
	serialize_duid(w, duid);
}

// ---- IA_NA and IA Address ----

std::vector<const IaAddress *> IaNa::addresses() const
{
	return options.all<IaAddress>();
}

Status IaNa::status() const
{
	return status_in(options);
}

const StatusCode *IaNa::status_code() const
{
	return options.get<StatusCode>();
}

IaNa IaNa::parse(OptionReader &r)
{
	r.expect_min_length(12, "RFC 8415 §21.4");
	IaNa ia;
	ia.iaid = r.u32();
	ia.t1 = r.u32();
	ia.t2 = r.u32();
	ia.options = r.options(Scope::IaNa);
	return ia;
}

void IaNa::serialize(Writer &w) const
{
	w.u32(iaid);
	w.u32(t1);
	w.u32(t2);
	options.serialize(w);
}

Status IaAddress::status() const
{
	return status_in(options);
}

const StatusCode *IaAddress::status_code() const
{
	return options.get<StatusCode>();
}

IaAddress IaAddress::parse(OptionReader &r)
{
	r.expect_min_length(24, "RFC 8415 §21.6");
	IaAddress a;
	a.address = r.address();
	a.preferred_lifetime = r.u32();
	a.valid_lifetime = r.u32();
	a.options = r.options(Scope::IaAddress);
	return a;
}

void IaAddress::serialize(Writer &w) const
{
	w.address(address);
	w.u32(preferred_lifetime);
	w.u32(valid_lifetime);
	options.serialize(w);
}

// ---- small fixed-format options ----

bool OptionRequest::requests(uint16_t code) const
{
	return std::find(codes.begin(), codes.end(), code) != codes.end();
}

OptionRequest OptionRequest::parse(OptionReader &r)
{
	if (r.remaining() % 2)
		r.fail("option-len " + std::to_string(r.remaining()) +
		       " is odd: the list holds 2-octet option codes (RFC 8415 §21.7)");
	OptionRequest oro;
	oro.codes.reserve(r.remaining() / 2);
	while (!r.empty())
		oro.codes.push_back(r.u16());
	return oro;
}

void OptionRequest::serialize(Writer &w) const
{
	for (uint16_t c : codes)
		w.u16(c);
}

Preference Preference::parse(OptionReader &r)
{
	r.expect_length(1, "RFC 8415 §21.8");
	return {r.u8()};
}

void Preference::serialize(Writer &w) const
{
	w.u8(value);
}

ElapsedTime ElapsedTime::parse(OptionReader &r)
{
	r.expect_length(2, "RFC 8415 §21.9");
	return {r.u16()};
}

void ElapsedTime::serialize(Writer &w) const
{
	w.u16(centiseconds);
}

// ---- Relay Message ----

RelayMessage::RelayMessage(Message message) : message_(std::make_unique<Message>(std::move(message)))
{
}

RelayMessage::RelayMessage(const RelayMessage &other)
	: message_(other.message_ ? std::make_unique<Message>(*other.message_) : nullptr)
{
}

RelayMessage &RelayMessage::operator=(const RelayMessage &other)
{
	if (this != &other)
		message_ = other.message_ ? std::make_unique<Message>(*other.message_) : nullptr;
	return *this;
}

RelayMessage::RelayMessage(RelayMessage &&other) noexcept = default;
RelayMessage &RelayMessage::operator=(RelayMessage &&other) noexcept = default;
RelayMessage::~RelayMessage() = default;

bool RelayMessage::operator==(const RelayMessage &other) const
{
	if (!message_ || !other.message_)
		return message_ == other.message_;
	return *message_ == *other.message_;
}

RelayMessage RelayMessage::parse(OptionReader &r)
{
	return RelayMessage(r.message());
}

void RelayMessage::serialize(Writer &w) const
{
	if (!message_)
		throw std::invalid_argument("DHCPv6: Relay Message option without a message");
	message_->serialize(w);
}

// ---- Authentication, Server Unicast, Status Code ----

Authentication Authentication::parse(OptionReader &r)
{
	// protocol, algorithm, RDM, 8 octets of replay detection, then the
	// protocol's authentication information.
	r.expect_min_length(11, "RFC 8415 §21.11");
	Authentication a;
	a.protocol = r.u8();
	a.algorithm = r.u8();
	a.rdm = r.u8();
	a.replay_detection = r.u64();
	auto info = r.rest();
	a.information.assign(info.begin(), info.end());
	return a;
}

void Authentication::serialize(Writer &w) const
{
	w.u8(protocol);
	w.u8(algorithm);
	w.u8(rdm);
	w.u64(replay_detection);
	w.bytes(information);
}

ServerUnicast ServerUnicast::parse(OptionReader &r)
{
	r.expect_length(16, "RFC 8415 §21.12");
	return {r.address()};
}

void ServerUnicast::serialize(Writer &w) const
{
	w.address(address);
}

StatusCode StatusCode::parse(OptionReader &r)
{
	r.expect_min_length(2, "RFC 8415 §21.13");
	StatusCode s;
	s.code = static_cast<Status>(r.u16());
	s.message = parse_string(r);
	return s;
}

void StatusCode::serialize(Writer &w) const
{
	w.u16(static_cast<uint16_t>(code));
	serialize_string(w, message);
}

RapidCommit RapidCommit::parse(OptionReader &r)
{
	r.expect_length(0, "RFC 8415 §21.14");
	return {};
}

InterfaceId InterfaceId::parse(OptionReader &r)
{
	auto b = r.rest();
	return {{b.begin(), b.end()}};
}

void InterfaceId::serialize(Writer &w) const
{
	w.bytes(id);
}

ReconfigureMessage ReconfigureMessage::parse(OptionReader &r)
{
	r.expect_length(1, "RFC 8415 §21.19");
	return {static_cast<MessageType>(r.u8())};
}

void ReconfigureMessage::serialize(Writer &w) const
{
	w.u8(static_cast<uint8_t>(type));
}

ReconfigureAccept ReconfigureAccept::parse(OptionReader &r)
{
	r.expect_length(0, "RFC 8415 §21.20");
	return {};
}

// ---- DNS (RFC 3646) ----

DnsServers DnsServers::parse(OptionReader &r)
{
	if (r.remaining() % 16)
		r.fail("option-len " + std::to_string(r.remaining()) +
		       " is not a multiple of 16 (RFC 3646 §3)");
	DnsServers d;
	d.servers.reserve(r.remaining() / 16);
	while (!r.empty())
		d.servers.push_back(r.address());
	return d;
}

void DnsServers::serialize(Writer &w) const
{
	for (const Ipv6Address &a : servers)
		w.address(a);
}

DomainList DomainList::parse(OptionReader &r)
{
	DomainList d;
	while (!r.empty())
		d.names.push_back(DomainName::parse(r));
	return d;
}

void DomainList::serialize(Writer &w) const
{
	for (const DomainName &n : names)
		n.serialize(w);
}

// ---- IA_PD and IA Prefix ----

std::vector<const IaPrefix *> IaPd::prefixes() const
{
	return options.all<IaPrefix>();
}

Status IaPd::status() const
{
	return status_in(options);
}

const StatusCode *IaPd::status_code() const
{
	return options.get<StatusCode>();
}

IaPd IaPd::parse(OptionReader &r)
{
	r.expect_min_length(12, "RFC 8415 §21.21");
	IaPd ia;
	ia.iaid = r.u32();
	ia.t1 = r.u32();
	ia.t2 = r.u32();
	ia.options = r.options(Scope::IaPd);
	return ia;
}

void IaPd::serialize(Writer &w) const
{
	w.u32(iaid);
	w.u32(t1);
	w.u32(t2);
	options.serialize(w);
}

Status IaPrefix::status() const
{
	return status_in(options);
}

const StatusCode *IaPrefix::status_code() const
{
	return options.get<StatusCode>();
}

IaPrefix IaPrefix::parse(OptionReader &r)
{
	r.expect_min_length(25, "RFC 8415 §21.22");
	IaPrefix p;
	p.preferred_lifetime = r.u32();
	p.valid_lifetime = r.u32();
	p.prefix.length = r.u8();
	if (p.prefix.length > 128)
		r.fail("prefix-length " + std::to_string(p.prefix.length) +
		       " is over 128 (RFC 8415 §21.22)");
	p.prefix.address = r.address();
	p.options = r.options(Scope::IaPrefix);
	if (const PdExclude *x = p.options.get<PdExclude>(); x && !x->excluded_from(p.prefix))
		r.fail("OPTION_PD_EXCLUDE /" + std::to_string(x->prefix_length) + " with " +
		       std::to_string(x->subnet_id.size()) + " subnet-ID bytes does not fit in " + p.prefix.str() +
		       " (RFC 6603 §4.2)");
	return p;
}

void IaPrefix::serialize(Writer &w) const
{
	w.u32(preferred_lifetime);
	w.u32(valid_lifetime);
	w.u8(checked_prefix_length(prefix));
	w.address(prefix.address);
	options.serialize(w);
}

// ---- timers ----

InformationRefreshTime InformationRefreshTime::parse(OptionReader &r)
{
	r.expect_length(4, "RFC 8415 §21.23");
	return {r.u32()};
}

void InformationRefreshTime::serialize(Writer &w) const
{
	w.u32(seconds);
}

SolMaxRt SolMaxRt::parse(OptionReader &r)
{
	r.expect_length(4, "RFC 8415 §21.24");
	return {r.u32()};
}

void SolMaxRt::serialize(Writer &w) const
{
	w.u32(seconds);
}

InfMaxRt InfMaxRt::parse(OptionReader &r)
{
	r.expect_length(4, "RFC 8415 §21.25");
	return {r.u32()};
}

void InfMaxRt::serialize(Writer &w) const
{
	w.u32(seconds);
}

// ---- address selection (RFC 7078) ----

std::vector<const AddressSelectionPolicy *> AddressSelection::policies() const
{
	return options.all<AddressSelectionPolicy>();
}

bool AddressSelection::must_be_ignored(std::span<const uint8_t> payload)
{
	// After the flags octet, the policy table options as far as they are
	// well framed (a framing error is the parser's to report).
	size_t pos = 1;
	while (pos + 4 <= payload.size()) {
		uint16_t code = static_cast<uint16_t>(payload[pos] << 8 | payload[pos + 1]);
		size_t len = static_cast<size_t>(payload[pos + 2] << 8 | payload[pos + 3]);
		if (pos + 4 + len > payload.size())
			break;
		if (code == OPTION_ADDRSEL_TABLE && len >= 3 && payload[pos + 4 + 2] > 128)
			return true;
		pos += 4 + len;
	}
	return false;
}

AddressSelection AddressSelection::parse(OptionReader &r)
{
	r.expect_min_length(1, "RFC 7078 §3");
	AddressSelection a;
	uint8_t flags = r.u8();
	a.reserved = flags >> 2;
	a.automatic_row_addition = flags & 0x02;
	a.privacy_preference = flags & 0x01;
	a.options = r.options(Scope::AddressSelection);
	return a;
}

void AddressSelection::serialize(Writer &w) const
{
	if (reserved > 0x3f)
		throw std::invalid_argument("DHCPv6 ADDRSEL: reserved has only 6 bits");
	w.u8(static_cast<uint8_t>(reserved << 2 | (automatic_row_addition ? 0x02 : 0) |
				  (privacy_preference ? 0x01 : 0)));
	options.serialize(w);
}

AddressSelectionPolicy AddressSelectionPolicy::parse(OptionReader &r)
{
	r.expect_min_length(3, "RFC 7078 §3");
	AddressSelectionPolicy p;
	p.label = r.u8();
	p.precedence = r.u8();
	p.prefix.length = r.u8();
	if (p.prefix.length > 128)
		r.fail("prefix-len " + std::to_string(p.prefix.length) + " is over 128 (RFC 7078 §3)");
	size_t octets = (p.prefix.length + 7u) / 8;
	if (r.remaining() != octets)
		r.fail("prefix of " + std::to_string(r.remaining()) + " octets, prefix-len " +
		       std::to_string(p.prefix.length) + " needs " + std::to_string(octets) +
		       " (RFC 7078 §3)");
	auto b = r.bytes(octets);
	std::copy(b.begin(), b.end(), p.prefix.address.bytes.begin());
	return p;
}

void AddressSelectionPolicy::serialize(Writer &w) const
{
	w.u8(label);
	w.u8(precedence);
	uint8_t len = checked_prefix_length(prefix);
	w.u8(len);
	w.bytes(std::span(prefix.address.bytes).first((len + 7u) / 8));
}

// ---- prefix exclude (RFC 6603) ----

std::optional<Ipv6Prefix> PdExclude::excluded_from(const Ipv6Prefix &delegated) const
{
	if (prefix_length <= delegated.length || prefix_length > 128)
		return std::nullopt;
	unsigned bits = prefix_length - delegated.length;
	if (subnet_id.size() != (bits + 7) / 8)
		return std::nullopt;
	Ipv6Prefix out = delegated.masked();
	out.length = prefix_length;
	for (unsigned i = 0; i < bits; i++) {
		bool set = subnet_id[i / 8] & (0x80 >> (i % 8));
		unsigned bit = delegated.length + i;
		if (set)
			out.address.bytes[bit / 8] |= uint8_t(0x80 >> (bit % 8));
	}
	return out;
}

PdExclude PdExclude::of(const Ipv6Prefix &delegated, const Ipv6Prefix &excluded)
{
	PdExclude x{.prefix_length = excluded.length};
	unsigned bits = excluded.length > delegated.length ? excluded.length - delegated.length : 0;
	x.subnet_id.assign((bits + 7) / 8, 0);
	for (unsigned i = 0; i < bits; i++) {
		unsigned bit = delegated.length + i;
		if (excluded.address.bytes[bit / 8] & (0x80 >> (bit % 8)))
			x.subnet_id[i / 8] |= uint8_t(0x80 >> (i % 8));
	}
	return x;
}

PdExclude PdExclude::parse(OptionReader &r)
{
	// §4.2: prefix-len, then at least one byte of subnet ID, at most 16.
	r.expect_min_length(2, "RFC 6603 §4.2");
	PdExclude x;
	x.prefix_length = r.u8();
	if (x.prefix_length > 128)
		r.fail("prefix-len " + std::to_string(x.prefix_length) + " is over 128 (RFC 6603 §4.2)");
	auto id = r.rest();
	if (id.size() > 16)
		r.fail("a subnet ID of " + std::to_string(id.size()) + " bytes (RFC 6603 §4.2)");
	x.subnet_id.assign(id.begin(), id.end());
	return x;
}

void PdExclude::serialize(Writer &w) const
{
	w.u8(prefix_length);
	w.bytes(subnet_id);
}

// ---- captive portal (RFC 8910) ----

CaptivePortal CaptivePortal::parse(OptionReader &r)
{
	return {parse_string(r)};
}

void CaptivePortal::serialize(Writer &w) const
{
	serialize_string(w, uri);
}

} // namespace umigame::dhcp6
