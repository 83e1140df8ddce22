// DHCPv6 options as value types (RFC 8415 §21 and the option RFCs cited at
// each type). Each type has its option code as kCode, a static parse() that
// reads the payload from an OptionReader and a serialize() that writes the
// payload; Option wraps one of them (or a RawOption for any code not
// modelled here, re-serialized byte for byte) and OptionList is the ordered
// list that messages, IAs and addresses carry.
//
// Parsing checks every length before reading and throws ParseError; see
// wire.h for the bounds and error.h for the error.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "umigame/dhcp6/constants.h"
#include "umigame/dhcp6/domain_name.h"
#include "umigame/dhcp6/duid.h"
#include "umigame/dhcp6/wire.h"
#include "umigame/net.h"

namespace umigame::dhcp6 {

struct Option;
struct Message;
struct IaAddress;
struct IaPrefix;
struct StatusCode;
struct AddressSelectionPolicy;

// Options in wire order. Typed access: get<IaPd>() is the first IA_PD or
// nullptr, all<IaPd>() every IA_PD in order; find(code) works on any code,
// modelled or raw.
class OptionList {
public:
	// Defaulted below, once Option is complete: the `options{}` members of
	// the IA types must not instantiate std::vector<Option> before that.
	OptionList();
	OptionList(std::initializer_list<Option> options);

	template <class T> const T *get() const;
	template <class T> T *get();
	template <class T> std::vector<const T *> all() const;
	template <class T> std::vector<T *> all();
	template <class T> bool has() const { return get<T>() != nullptr; }
	const Option *find(uint16_t code) const;
	std::vector<const Option *> find_all(uint16_t code) const;

	// add() appends; set() replaces the first option of that type (or
	// appends); remove() drops every option of that type or code and
	// says how many went.
	template <class T> OptionList &add(T option);
	template <class T> OptionList &set(T option);
	template <class T> size_t remove();
	size_t remove(uint16_t code);

	inline size_t size() const;
	inline bool empty() const;
	inline const Option &operator[](size_t i) const;
	inline std::vector<Option>::const_iterator begin() const;
	inline std::vector<Option>::const_iterator end() const;

	// Every option until the reader is empty, each checked against where it
	// may appear (`scope`).
	static OptionList parse(Reader &r, Scope scope);
	void serialize(Writer &w) const;

	bool operator==(const OptionList &) const = default;

private:
	std::vector<Option> items_;
};

// Any option code not modelled below, the ones kept opaque on purpose
// (IA_TA, User/Vendor Class, Vendor-specific Information), and an Address
// Selection option that RFC 7078 §3 says to ignore.
struct RawOption {
	uint16_t code = 0;
	std::vector<uint8_t> data{};

	void serialize(Writer &w) const { w.bytes(data); }
	bool operator==(const RawOption &) const = default;
};

// RFC 8415 §21.2.
struct ClientId {
	static constexpr uint16_t kCode = OPTION_CLIENTID;
	Duid duid{};

	static ClientId parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const ClientId &) const = default;
};

// RFC 8415 §21.3.
struct ServerId {
	static constexpr uint16_t kCode = OPTION_SERVERID;
	Duid duid{};

	static ServerId parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const ServerId &) const = default;
};

// RFC 8415 §21.4: identity association for non-temporary addresses.
struct IaNa {
	static constexpr uint16_t kCode = OPTION_IA_NA;
	uint32_t iaid = 0;
	uint32_t t1 = 0; // seconds; 0 = the client chooses (§21.4)
	uint32_t t2 = 0;
	OptionList options{}; // IA Address, Status Code, ...

	std::vector<const IaAddress *> addresses() const;
	// §21.13: an IA without a Status Code option reports Success.
	Status status() const;
	const StatusCode *status_code() const;

	static IaNa parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const IaNa &) const = default;
};

// RFC 8415 §21.6: only inside an IA_NA.
struct IaAddress {
	static constexpr uint16_t kCode = OPTION_IAADDR;
	Ipv6Address address{};
	uint32_t preferred_lifetime = 0;
	uint32_t valid_lifetime = 0;
	OptionList options{};

	Status status() const;
	const StatusCode *status_code() const;

	static IaAddress parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const IaAddress &) const = default;
};

// RFC 8415 §21.7: option codes the client asks for. option-len must be even.
struct OptionRequest {
	static constexpr uint16_t kCode = OPTION_ORO;
	std::vector<uint16_t> codes{};

	bool requests(uint16_t code) const;

	static OptionRequest parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const OptionRequest &) const = default;
};

// RFC 8415 §21.8: a server's preference; 255 makes the client skip waiting
// for other Advertises (§18.2.1).
struct Preference {
	static constexpr uint16_t kCode = OPTION_PREFERENCE;
	uint8_t value = 0;

	static Preference parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const Preference &) const = default;
};

// RFC 8415 §21.9: hundredths of a second since the exchange began;
// 0xffff for anything longer.
struct ElapsedTime {
	static constexpr uint16_t kCode = OPTION_ELAPSED_TIME;
	uint16_t centiseconds = 0;

	static ElapsedTime parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const ElapsedTime &) const = default;
};

// RFC 8415 §21.10: the message a Relay-Forw/Relay-Repl carries; only in
// relay messages. Holds the inner Message by pointer because a Message
// holds options; copies are deep.
class RelayMessage {
public:
	static constexpr uint16_t kCode = OPTION_RELAY_MSG;

	explicit RelayMessage(Message message);
	RelayMessage(const RelayMessage &other);
	RelayMessage &operator=(const RelayMessage &other);
	RelayMessage(RelayMessage &&other) noexcept;
	RelayMessage &operator=(RelayMessage &&other) noexcept;
	~RelayMessage();

	const Message &message() const { return *message_; }
	Message &message() { return *message_; }

	static RelayMessage parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const RelayMessage &other) const;

private:
	std::unique_ptr<Message> message_;
};

// RFC 8415 §21.11. For the Reconfigure Key protocol (§20.4) see auth.h.
struct Authentication {
	static constexpr uint16_t kCode = OPTION_AUTH;
	uint8_t protocol = 0;
	uint8_t algorithm = 0;
	uint8_t rdm = 0; // replay detection method
	uint64_t replay_detection = 0;
	std::vector<uint8_t> information{};

	static Authentication parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const Authentication &) const = default;
};

// RFC 8415 §21.12: the server accepts unicast at this address.
struct ServerUnicast {
	static constexpr uint16_t kCode = OPTION_UNICAST;
	Ipv6Address address{};

	static ServerUnicast parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const ServerUnicast &) const = default;
};

// RFC 8415 §21.13. The message is UTF-8 for people, not NUL-terminated.
struct StatusCode {
	static constexpr uint16_t kCode = OPTION_STATUS_CODE;
	Status code = Status::Success;
	std::string message{};

	static StatusCode parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const StatusCode &) const = default;
};

// RFC 8415 §21.14: empty.
struct RapidCommit {
	static constexpr uint16_t kCode = OPTION_RAPID_COMMIT;

	static RapidCommit parse(OptionReader &r);
	void serialize(Writer &) const {}
	bool operator==(const RapidCommit &) const = default;
};

// RFC 8415 §21.18: opaque to everyone but the relay that put it there; the
// server copies it into its Relay-Repl.
struct InterfaceId {
	static constexpr uint16_t kCode = OPTION_INTERFACE_ID;
	std::vector<uint8_t> id{};

	static InterfaceId parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const InterfaceId &) const = default;
};

// RFC 8415 §21.19: in a Reconfigure, the message the client is to send:
// Renew, Rebind or Information-request (checked by the receiver, not here).
struct ReconfigureMessage {
	static constexpr uint16_t kCode = OPTION_RECONF_MSG;
	MessageType type = MessageType::Renew;

	static ReconfigureMessage parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const ReconfigureMessage &) const = default;
};

// RFC 8415 §21.20: empty.
struct ReconfigureAccept {
	static constexpr uint16_t kCode = OPTION_RECONF_ACCEPT;

	static ReconfigureAccept parse(OptionReader &r);
	void serialize(Writer &) const {}
	bool operator==(const ReconfigureAccept &) const = default;
};

// RFC 3646 §3: option-len is a multiple of 16.
struct DnsServers {
	static constexpr uint16_t kCode = OPTION_DNS_SERVERS;
	std::vector<Ipv6Address> servers{};

	static DnsServers parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const DnsServers &) const = default;
};

// RFC 3646 §4: uncompressed names back to back (RFC 8415 §10).
struct DomainList {
	static constexpr uint16_t kCode = OPTION_DOMAIN_LIST;
	std::vector<DomainName> names{};

	static DomainList parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const DomainList &) const = default;
};

// RFC 8415 §21.21: identity association for prefix delegation.
struct IaPd {
	static constexpr uint16_t kCode = OPTION_IA_PD;
	uint32_t iaid = 0;
	uint32_t t1 = 0;
	uint32_t t2 = 0;
	OptionList options{}; // IA Prefix, Status Code, ...

	std::vector<const IaPrefix *> prefixes() const;
	Status status() const;
	const StatusCode *status_code() const;

	static IaPd parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const IaPd &) const = default;
};

// RFC 8415 §21.22: only inside an IA_PD. The 16 prefix octets are kept as
// received: bits past prefix-length are not cleared, so the option
// re-serializes unchanged; a requesting router's hint may be ::/56.
struct IaPrefix {
	static constexpr uint16_t kCode = OPTION_IAPREFIX;
	uint32_t preferred_lifetime = 0;
	uint32_t valid_lifetime = 0;
	Ipv6Prefix prefix{};
	OptionList options{};

	Status status() const;
	const StatusCode *status_code() const;

	static IaPrefix parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const IaPrefix &) const = default;
};

// RFC 8415 §21.23: seconds until a stateless client asks again.
struct InformationRefreshTime {
	static constexpr uint16_t kCode = OPTION_INFORMATION_REFRESH_TIME;
	uint32_t seconds = 0;

	static InformationRefreshTime parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const InformationRefreshTime &) const = default;
};

// RFC 8415 §21.24: the client's Solicit retransmission cap. Values outside
// 60..86400 parse (the message is fine) but a client ignores them.
struct SolMaxRt {
	static constexpr uint16_t kCode = OPTION_SOL_MAX_RT;
	uint32_t seconds = 0;

	bool usable() const { return seconds >= kMaxRtMinimum && seconds <= kMaxRtMaximum; }

	static SolMaxRt parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const SolMaxRt &) const = default;
};

// RFC 8415 §21.25: the same for Information-request.
struct InfMaxRt {
	static constexpr uint16_t kCode = OPTION_INF_MAX_RT;
	uint32_t seconds = 0;

	bool usable() const { return seconds >= kMaxRtMinimum && seconds <= kMaxRtMaximum; }

	static InfMaxRt parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const InfMaxRt &) const = default;
};

// RFC 7078 §3: address selection policy. One flags octet (6 reserved bits,
// A = automatic row addition, P = privacy preference) followed by policy
// table options. A row with prefix-len over 128 means "ignore the whole
// option" (§3), not a malformed message: the parser then keeps the option
// as a RawOption, so get<AddressSelection>() finds none while the rest of
// the message is used and re-serializes byte for byte.
struct AddressSelection {
	static constexpr uint16_t kCode = OPTION_ADDRSEL;
	bool automatic_row_addition = false;
	bool privacy_preference = false;
	// The six reserved bits as received (low bits of this value), kept so
	// that the option re-serializes unchanged; zero when sending.
	uint8_t reserved = 0;
	OptionList options{}; // Address Selection Policy options

	std::vector<const AddressSelectionPolicy *> policies() const;

	// Whether an OPTION_ADDRSEL payload holds a row with prefix-len > 128.
	static bool must_be_ignored(std::span<const uint8_t> payload);
	static AddressSelection parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const AddressSelection &) const = default;
};

// RFC 7078 §3: one policy table row; only inside OPTION_ADDRSEL. On the
// wire the prefix takes (prefix-len + 7) / 8 octets, so option-len is
// exactly 3 plus that.
struct AddressSelectionPolicy {
	static constexpr uint16_t kCode = OPTION_ADDRSEL_TABLE;
	uint8_t label = 0;
	uint8_t precedence = 0;
	Ipv6Prefix prefix{};

	static AddressSelectionPolicy parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const AddressSelectionPolicy &) const = default;
};

// RFC 6603 §4.2: the prefix inside a delegated one that the requesting
// router must not number a LAN with (the ISP uses it on the link between
// the two). Only inside an IA Prefix, whose length the subnet ID is
// relative to: the value keeps the wire form, excluded_from() places it.
struct PdExclude {
	static constexpr uint16_t kCode = OPTION_PD_EXCLUDE;
	uint8_t prefix_length = 0;        // of the excluded prefix
	std::vector<uint8_t> subnet_id{}; // the bits after the delegated prefix

	// For `delegated`; nullopt unless it is longer than `delegated` and
	// the subnet ID has ceil((prefix_length - delegated.length) / 8) bytes.
	std::optional<Ipv6Prefix> excluded_from(const Ipv6Prefix &delegated) const;
	// The option that excludes `excluded` from `delegated` (which must
	// contain it and be shorter).
	static PdExclude of(const Ipv6Prefix &delegated, const Ipv6Prefix &excluded);

	static PdExclude parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const PdExclude &) const = default;
};

// RFC 8910 §2.2: the captive portal API URI, not NUL-terminated.
struct CaptivePortal {
	static constexpr uint16_t kCode = OPTION_CAPTIVE_PORTAL;
	std::string uri{};

	static CaptivePortal parse(OptionReader &r);
	void serialize(Writer &w) const;
	bool operator==(const CaptivePortal &) const = default;
};

// One option of any kind.
struct Option {
	using Value = std::variant<RawOption, ClientId, ServerId, IaNa, IaAddress, OptionRequest,
				   Preference, ElapsedTime, RelayMessage, Authentication, ServerUnicast,
				   StatusCode, RapidCommit, InterfaceId, ReconfigureMessage,
				   ReconfigureAccept, DnsServers, DomainList, IaPd, IaPrefix,
				   InformationRefreshTime, SolMaxRt, InfMaxRt, AddressSelection,
				   AddressSelectionPolicy, CaptivePortal, PdExclude>;

	// Whether T is one of Value's alternatives.
	template <class T, class V = Value> struct is_alternative;
	template <class T, class... Ts>
	struct is_alternative<T, std::variant<Ts...>>
		: std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};

	Value value;

	// Implicit from any option type, so that lists read naturally:
	// OptionList{ClientId{duid}, RapidCommit{}}.
	template <class T>
		requires is_alternative<std::remove_cvref_t<T>>::value
	Option(T &&option) : value(std::forward<T>(option))
	{
	}

	uint16_t code() const;
	template <class T> const T *as() const { return std::get_if<T>(&value); }
	template <class T> T *as() { return std::get_if<T>(&value); }

	// One option TLV at the reader's position.
	static Option parse(Reader &r, Scope scope);
	// The whole TLV: code, option-len and payload.
	void serialize(Writer &w) const;

	bool operator==(const Option &) const = default;
};

// A single option TLV (header included) outside any message, e.g. from a
// configuration file or a test. Parsed in Scope::Any; throws ParseError, also
// when the bytes hold a different option than T or trail after it.
Option decode_option(std::span<const uint8_t> tlv);
template <class T> T decode_option(std::span<const uint8_t> tlv);
std::vector<uint8_t> encode_option(const Option &option);

// ---- template and inline definitions (Option is complete from here) ----

inline OptionList::OptionList() = default;
inline size_t OptionList::size() const { return items_.size(); }
inline bool OptionList::empty() const { return items_.empty(); }
inline const Option &OptionList::operator[](size_t i) const { return items_.at(i); }
inline std::vector<Option>::const_iterator OptionList::begin() const { return items_.begin(); }
inline std::vector<Option>::const_iterator OptionList::end() const { return items_.end(); }

template <class T> const T *OptionList::get() const
{
	for (const Option &o : items_)
		if (const T *t = o.as<T>())
			return t;
	return nullptr;
}

template <class T> T *OptionList::get()
{
	for (Option &o : items_)
		if (T *t = o.as<T>())
			return t;
	return nullptr;
}

template <class T> std::vector<const T *> OptionList::all() const
{
	std::vector<const T *> out;
	for (const Option &o : items_)
		if (const T *t = o.as<T>())
			out.push_back(t);
	return out;
}

template <class T> std::vector<T *> OptionList::all()
{
	std::vector<T *> out;
	for (Option &o : items_)
		if (T *t = o.as<T>())
			out.push_back(t);
	return out;
}

template <class T> OptionList &OptionList::add(T option)
{
	items_.emplace_back(std::move(option));
	return *this;
}

template <class T> OptionList &OptionList::set(T option)
{
	if (T *existing = get<T>())
		*existing = std::move(option);
	else
		items_.emplace_back(std::move(option));
	return *this;
}

template <class T> size_t OptionList::remove()
{
	return std::erase_if(items_, [](const Option &o) { return o.as<T>() != nullptr; });
}

template <class T> T decode_option(std::span<const uint8_t> tlv)
{
	Option o = decode_option(tlv);
	if (T *t = o.as<T>())
		return std::move(*t);
	throw ParseError(0, o.code(), "not the expected option type");
}

} // namespace umigame::dhcp6
