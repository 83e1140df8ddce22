#include "umigame/iked/config.h"

#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <set>

#include "umigame/config.h"

namespace umigame::iked {

using ike::IdType;

namespace {

// "CN=vpn, O=Example" (RFC 4514 order as written, most significant last is
// NOT assumed: the components are encoded in the order given, as strongSwan
// does) to the DER of an X.501 Name.
std::optional<std::vector<uint8_t>> dn_to_der(const std::string &text)
{
	std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> name(X509_NAME_new(), X509_NAME_free);
	size_t pos = 0;
	while (pos < text.size()) {
		size_t comma = text.find(',', pos);
		std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
		pos = comma == std::string::npos ? text.size() : comma + 1;
		while (!part.empty() && part.front() == ' ')
			part.erase(part.begin());
		while (!part.empty() && part.back() == ' ')
			part.pop_back();
		auto eq = part.find('=');
		if (eq == std::string::npos || eq == 0 || eq + 1 == part.size())
			return std::nullopt;
		std::string key = part.substr(0, eq), value = part.substr(eq + 1);
		if (!X509_NAME_add_entry_by_txt(name.get(), key.c_str(), MBSTRING_UTF8,
						reinterpret_cast<const unsigned char *>(value.c_str()), -1, -1, 0))
			return std::nullopt;
	}
	int len = i2d_X509_NAME(name.get(), nullptr);
	if (len <= 0)
		return std::nullopt;
	std::vector<uint8_t> der(static_cast<size_t>(len));
	unsigned char *out = der.data();
	i2d_X509_NAME(name.get(), &out);
	return der;
}

std::string der_to_dn(std::span<const uint8_t> der)
{
	const unsigned char *in = der.data();
	std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> name(
		d2i_X509_NAME(nullptr, &in, static_cast<long>(der.size())), X509_NAME_free);
	if (!name)
		return "(bad DN)";
	char buf[512];
	X509_NAME_oneline(name.get(), buf, sizeof(buf));
	return buf;
}

std::chrono::seconds seconds(ConfigTable &t, const std::string &key, std::chrono::seconds fallback,
			     int64_t min, int64_t max)
{
	auto v = t.integer(key);
	if (!v)
		return fallback;
	if (v->value < min || v->value > max)
		throw ConfigError(v->where, key + " must be between " + std::to_string(min) + " and " +
						    std::to_string(max) + " seconds");
	return std::chrono::seconds(v->value);
}

int64_t bounded(ConfigTable &t, const std::string &key, int64_t fallback, int64_t min, int64_t max)
{
	auto v = t.integer(key);
	if (!v)
		return fallback;
	if (v->value < min || v->value > max)
		throw ConfigError(v->where,
				  key + " must be between " + std::to_string(min) + " and " + std::to_string(max));
	return v->value;
}

std::vector<AlgorithmSet> proposals(ConfigTable &t, const std::string &key, bool for_ike)
{
	std::vector<AlgorithmSet> out;
	for (const auto &v : t.string_array(key)) {
		std::string error;
		auto set = parse_proposal(v.value, for_ike, &error);
		if (!set)
			throw ConfigError(v.where, error);
		out.push_back(*set);
	}
	if (t.has(key) && out.empty())
		t.fail(key + " is empty: leave it out for the defaults");
	if (out.size() > 32)
		t.fail(key + ": at most 32 proposals");
	return out.empty() ? (for_ike ? default_ike_proposals() : default_esp_proposals()) : out;
}

std::vector<IpPrefix> selectors(ConfigTable &t, const std::string &key)
{
	std::vector<IpPrefix> out;
	for (const auto &v : t.string_array(key)) {
		auto p = IpPrefix::parse(v.value);
		if (!p)
			throw ConfigError(v.where, "invalid prefix '" + v.value + "' (host bits set?)");
		out.push_back(*p);
	}
	return out;
}

StartAction start_action(ConfigTable &t)
{
	auto v = t.string("start_action");
	if (!v || v->value == "none")
		return StartAction::none;
	if (v->value == "start")
		return StartAction::start;
	if (v->value == "trap")
		return StartAction::trap;
	throw ConfigError(v->where, "start_action must be none, start or trap");
}

ChildConfig parse_child(ConfigTable &t, const ConnectionConfig &conn)
{
	ChildConfig c;
	auto name = t.string("name");
	if (!name || name->value.empty())
		t.fail("a child needs a name");
	c.name = name->value;
	if (auto mode = t.string("mode")) {
		if (mode->value == "transport")
			c.transport = true;
		else if (mode->value != "tunnel")
			throw ConfigError(mode->where, "mode must be tunnel or transport");
	}
	c.local_ts = selectors(t, "local_ts");
	c.remote_ts = selectors(t, "remote_ts");
	// Transport mode protects the endpoints' own traffic (RFC 7296 §1.1.2).
	if (c.local_ts.empty()) {
		if (c.transport && !conn.local_addr.is_unset())
			c.local_ts.push_back({conn.local_addr, static_cast<uint8_t>(conn.local_addr.size() * 8)});
		else
			t.fail("local_ts is required (in transport mode it defaults to local_addr)");
	}
	if (c.remote_ts.empty()) {
		if (c.transport && !conn.remote_addr.is_unset())
			c.remote_ts.push_back({conn.remote_addr, static_cast<uint8_t>(conn.remote_addr.size() * 8)});
		else
			t.fail("remote_ts is required (in transport mode it defaults to remote_addr)");
	}
	c.ip_protocol = static_cast<uint8_t>(bounded(t, "ip_protocol", 0, 0, 255));
	c.esp_proposals = proposals(t, "esp_proposals", false);
	c.rekey_time = seconds(t, "rekey_time", c.rekey_time, 0, 86400 * 30);
	c.life_time = seconds(t, "life_time", c.rekey_time + c.rekey_time / 10, 0, 86400 * 31);
	c.rand_time = seconds(t, "rand_time", c.rekey_time / 10, 0, 86400 * 30);
	if (c.rekey_time.count() && c.life_time.count() && c.life_time <= c.rekey_time)
		t.fail("life_time must be longer than rekey_time");
	if (c.rand_time >= c.rekey_time && c.rekey_time.count())
		t.fail("rand_time must be shorter than rekey_time");
	c.rekey_bytes = static_cast<uint64_t>(bounded(t, "rekey_bytes", 0, 0, INT64_MAX));
	c.rekey_packets = static_cast<uint64_t>(bounded(t, "rekey_packets", 0, 0, INT64_MAX));
	// RFC 4303 §3.4.3: a receiver may disable anti-replay, but we do not
	// offer that; 4096 is xfrm's largest ESN window (umigame.ko's is 65536).
	c.replay_window = static_cast<uint32_t>(bounded(t, "replay_window", 4096, 1, 4096));
	c.start_action = start_action(t);
	if (c.start_action != StartAction::none && conn.remote_addr.is_unset())
		t.fail("start_action " + std::string(c.start_action == StartAction::trap ? "trap" : "start") +
		       " needs the connection's remote_addr");
	c.xdp = t.boolean("xdp", true);
	t.finish();
	return c;
}

// A relative credential path is taken beside the configuration file, as
// swanctl does with swanctl.conf's folders: under systemd the daemon's
// working directory is "/", which would make the same file mean another one.
std::string beside(const ConfigTable &t, const std::string &path)
{
	if (path.empty() || path.front() == '/')
		return path;
	std::string file = t.where().file;
	auto slash = file.rfind('/');
	return slash == std::string::npos ? path : file.substr(0, slash + 1) + path;
}

// RFC 7296 §3.6, §3.7: the files of auth = "pubkey", read now so that a
// bad one refuses the configuration at its line rather than failing every
// IKE_AUTH later.
std::shared_ptr<const PubkeyCredentials> load_credentials(const ConnectionConfig &c, const Located<std::string> &cert,
							  const Located<std::string> &key,
							  const std::vector<Located<std::string>> &cas)
{
	std::vector<ike::Certificate> chain;
	try {
		chain = load_certificate_chain(c.certificate);
	} catch (const ike::CryptoError &e) {
		throw ConfigError(cert.where, std::string("certificate: ") + e.what());
	}
	std::optional<ike::PrivateKey> private_key;
	try {
		private_key = ike::PrivateKey::load_pem_file(c.private_key);
	} catch (const ike::CryptoError &e) {
		throw ConfigError(key.where, std::string("private_key: ") + e.what());
	}
	if (!chain.front().matches_key(*private_key))
		throw ConfigError(key.where, "private_key " + c.private_key + " is not the key of certificate " +
						     c.certificate + " (" + chain.front().subject_dn() + ")");
	ike::TrustStore trust;
	std::vector<ike::Bytes> key_ids;
	for (size_t i = 0; i < cas.size(); i++) {
		try {
			trust.add_pem_file(c.ca[i]);
			for (const auto &anchor : load_ca_file(c.ca[i])) {
				auto id = key_id_sha1(anchor);
				if (std::find(key_ids.begin(), key_ids.end(), id) == key_ids.end())
					key_ids.push_back(std::move(id));
			}
		} catch (const ike::CryptoError &e) {
			throw ConfigError(cas[i].where, std::string("ca: ") + e.what());
		}
	}
	return std::make_shared<const PubkeyCredentials>(
		PubkeyCredentials{std::move(chain), *private_key, std::move(trust), std::move(key_ids)});
}

// RFC 4945 §3.1: the peer checks our ID against our certificate, so an ID
// the certificate does not carry could never authenticate; without
// local_id the certificate's subject is the identity (ID_DER_ASN1_DN).
void pubkey_local_id(ConfigTable &t, ConnectionConfig &c, bool configured)
{
	const ike::Certificate &cert = c.credentials->certificate();
	if (configured) {
		if (!cert.matches_id(static_cast<uint8_t>(c.local_id.type), c.local_id.data))
			throw ConfigError(t.string("local_id")->where,
					  "local_id '" + c.local_id.text + "' is not in certificate " + c.certificate +
						  " (subject '" + cert.subject_dn() +
						  "'; FQDN, email and IP identities must be subjectAltNames, RFC 4945 §3.1)");
		return;
	}
	Identity id;
	id.type = IdType::DER_ASN1_DN;
	id.data = cert.subject_dn_der();
	id.text = cert.subject_dn();
	// An empty Name is 2 bytes of DER (an empty SEQUENCE).
	if (id.data.size() <= 2)
		t.fail("certificate " + c.certificate + " has an empty subject: set local_id to one of its subjectAltNames");
	c.local_id = std::move(id);
}

ConnectionConfig parse_connection(ConfigTable &t)
{
	ConnectionConfig c;
	auto name = t.string("name");
	if (!name || name->value.empty())
		t.fail("a connection needs a name");
	c.name = name->value;
	auto address = [&](const char *key) {
		IpAddress a;
		if (auto v = t.string(key)) {
			auto parsed = IpAddress::parse(v->value);
			if (!parsed)
				throw ConfigError(v->where, std::string("invalid address '") + v->value + "'");
			a = *parsed;
		}
		return a;
	};
	c.local_addr = address("local_addr");
	c.remote_addr = address("remote_addr");
	if (!c.local_addr.is_unset() && !c.remote_addr.is_unset() &&
	    c.local_addr.family != c.remote_addr.family)
		t.fail("local_addr and remote_addr are of different families");
	c.remote_port = static_cast<uint16_t>(bounded(t, "remote_port", 500, 1, 65535));
	auto identity = [&](const char *key) -> std::optional<Identity> {
		auto v = t.string(key);
		if (!v)
			return std::nullopt;
		std::string error;
		auto id = Identity::parse(v->value, &error);
		if (!id)
			throw ConfigError(v->where, error);
		return id;
	};
	auto local = identity("local_id");
	c.remote_id = identity("remote_id");
	auto auth = t.string("auth");
	if (!auth || auth->value == "psk") {
		c.auth = ConnectionConfig::Auth::psk;
		auto psk = t.string("psk");
		if (!psk)
			t.fail("auth = \"psk\" needs psk");
		// RFC 7296 §2.15: a PSK must be as random as the key it makes.
		if (psk->value.size() < 16)
			throw ConfigError(psk->where, "psk is shorter than 16 characters");
		c.psk = psk->value;
	} else if (auth->value == "pubkey") {
		c.auth = ConnectionConfig::Auth::pubkey;
		auto cert = t.string("certificate");
		auto key = t.string("private_key");
		if (!cert || !key)
			t.fail("auth = \"pubkey\" needs certificate and private_key");
		c.certificate = beside(t, cert->value);
		c.private_key = beside(t, key->value);
		auto cas = t.string_array("ca");
		for (const auto &ca : cas)
			c.ca.push_back(beside(t, ca.value));
		if (c.ca.empty())
			t.fail("auth = \"pubkey\" needs at least one ca to verify the peer");
		c.credentials = load_credentials(c, *cert, *key, cas);
	} else {
		throw ConfigError(auth->where, "auth must be psk or pubkey");
	}
	if (local) {
		c.local_id = *local;
	} else if (!c.local_addr.is_unset()) {
		std::string error;
		c.local_id = *Identity::parse(c.local_addr.str(), &error);
	} else if (c.auth == ConnectionConfig::Auth::psk) {
		t.fail("local_id is required without local_addr");
	}
	if (c.auth == ConnectionConfig::Auth::pubkey)
		pubkey_local_id(t, c, local.has_value());
	c.ike_proposals = proposals(t, "ike_proposals", true);
	c.ike_rekey_time = seconds(t, "rekey_time", c.ike_rekey_time, 0, 86400 * 30);
	c.ike_rand_time = seconds(t, "rand_time", c.ike_rekey_time / 10, 0, 86400 * 30);
	c.dpd_delay = seconds(t, "dpd_delay", c.dpd_delay, 0, 86400);
	c.retransmit_timeout = std::chrono::milliseconds(bounded(t, "retransmit_timeout_ms", 2000, 100, 60000));
	c.retransmit_tries = static_cast<uint32_t>(bounded(t, "retransmit_tries", 5, 1, 20));
	c.fragmentation = t.boolean("fragmentation", true);
	// RFC 7383 §2.5.1: 1280 for IPv6, 576 the least for IPv4.
	c.fragment_size = static_cast<uint16_t>(bounded(t, "fragment_size", 1280, 576, 65000));
	c.nat_keepalive = seconds(t, "nat_keepalive", c.nat_keepalive, 0, 3600);
	c.force_encap = t.boolean("force_encap", false);
	for (auto &child : t.table_array("child"))
		c.children.push_back(parse_child(child, c));
	std::set<std::string> names;
	for (const auto &child : c.children)
		if (!names.insert(child.name).second)
			t.fail("two children named '" + child.name + "'");
	t.finish();
	return c;
}

DaemonConfig parse_table(const toml::table &root, const std::string &name)
{
	DaemonConfig out;
	out.file = name;
	ConfigTable top(root, name, "");
	if (auto daemon = top.table("daemon")) {
		// XFRM netlink and umigame.ko's generic netlink need
		// CAP_NET_ADMIN; a reload may bind port 500 again.
		read_daemon_keys(*daemon, out.run_as, out.control_socket, {CAP_NET_ADMIN, CAP_NET_BIND_SERVICE});
		out.port = static_cast<uint16_t>(bounded(*daemon, "port", 500, 1, 65535));
		out.nat_port = static_cast<uint16_t>(bounded(*daemon, "nat_port", 4500, 1, 65535));
		if (out.port == out.nat_port)
			daemon->fail("port and nat_port must differ");
		out.cookie_threshold = static_cast<uint32_t>(bounded(*daemon, "cookie_threshold", 16, 0, 1000000));
		out.half_open_timeout = seconds(*daemon, "half_open_timeout", out.half_open_timeout, 1, 600);
		daemon->finish();
	}
	std::set<std::string> names;
	for (auto &conn : top.table_array("connection")) {
		auto c = parse_connection(conn);
		if (!names.insert(c.name).second)
			conn.fail("two connections named '" + c.name + "'");
		out.connections.push_back(std::move(c));
	}
	top.finish();
	return out;
}

} // namespace

std::optional<Identity> Identity::parse(const std::string &text, std::string *error)
{
	auto fail = [&](const std::string &m) -> std::optional<Identity> {
		if (error)
			*error = m;
		return std::nullopt;
	};
	Identity id;
	id.text = text;
	std::string kind, value = text;
	if (auto colon = text.find(':'); colon != std::string::npos) {
		std::string head = text.substr(0, colon);
		if (head == "fqdn" || head == "email" || head == "ip" || head == "dn") {
			kind = head;
			value = text.substr(colon + 1);
		}
	}
	if (value.empty())
		return fail("empty identity '" + text + "'");
	if (value.size() > 255 && kind != "dn")
		return fail("identity '" + text + "' is longer than 255 bytes");
	auto addr = IpAddress::parse(value);
	if (kind.empty())
		kind = addr ? "ip" : value.find('@') != std::string::npos ? "email" : "fqdn";
	if (kind == "ip") {
		if (!addr)
			return fail("'" + value + "' is not an IP address");
		id.type = addr->is_v4() ? IdType::IPv4 : IdType::IPv6;
		auto s = addr->span();
		id.data.assign(s.begin(), s.end());
	} else if (kind == "dn") {
		auto der = dn_to_der(value);
		if (!der)
			return fail("'" + value + "' is not a distinguished name (e.g. CN=vpn, O=Example)");
		id.type = IdType::DER_ASN1_DN;
		id.data = *der;
	} else {
		id.type = kind == "email" ? IdType::RFC822 : IdType::FQDN;
		id.data.assign(value.begin(), value.end());
	}
	return id;
}

Identity Identity::from_payload(IdType type, std::span<const uint8_t> data)
{
	Identity id;
	id.type = type;
	id.data.assign(data.begin(), data.end());
	switch (type) {
	case IdType::IPv4:
		if (data.size() == 4)
			id.text = IpAddress::v4(data.first<4>()).str();
		break;
	case IdType::IPv6:
		if (data.size() == 16)
			id.text = IpAddress::v6(data.first<16>()).str();
		break;
	case IdType::FQDN:
	case IdType::RFC822:
		for (uint8_t b : data)
			id.text += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '?';
		break;
	case IdType::DER_ASN1_DN:
		id.text = der_to_dn(data);
		break;
	default:
		id.text = "(id type " + std::to_string(static_cast<int>(type)) + ")";
	}
	if (id.text.empty())
		id.text = "(malformed id)";
	return id;
}

std::vector<AlgorithmSet> default_ike_proposals()
{
	std::vector<AlgorithmSet> out;
	for (const char *p : {"aes256gcm16-prfsha384-ecp384", "aes128gcm16-prfsha256-ecp256",
			      "aes128gcm16-prfsha256-curve25519", "aes256-sha256-modp2048",
			      "aes128-sha256-modp2048"})
		out.push_back(*parse_proposal(p, true, nullptr));
	return out;
}

std::vector<AlgorithmSet> default_esp_proposals()
{
	std::vector<AlgorithmSet> out;
	for (const char *p : {"aes128gcm16", "aes256gcm16", "aes128-sha256", "aes256-sha256"})
		out.push_back(*parse_proposal(p, false, nullptr));
	return out;
}

DaemonConfig parse_daemon_config(std::string_view text, const std::string &name)
{
	toml::table root = parse_toml(text, name);
	return parse_table(root, name);
}

DaemonConfig load_daemon_config(const std::string &file)
{
	toml::table root = load_toml_file(file);
	return parse_table(root, file);
}

} // namespace umigame::iked
