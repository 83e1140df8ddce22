#include "umigame/dhcp6d/client_state.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace umigame::dhcp6d {

using namespace dhcp6;
using nlohmann::json;

std::optional<Ipv6Prefix> carve_subnet(const Ipv6Prefix &delegated, uint8_t length, uint64_t subnet_id)
{
	if (length > 128 || length < delegated.length)
		return std::nullopt;
	unsigned bits = length - delegated.length;
	if (bits < 64 && subnet_id >> bits)
		return std::nullopt;
	Ipv6Prefix out{delegated.address, length};
	// Clear everything past the delegated length, then write the id into
	// bits [delegated.length, length).
	for (unsigned bit = delegated.length; bit < 128; bit++)
		out.address.bytes[bit / 8] &= uint8_t(~(0x80 >> (bit % 8)));
	for (unsigned i = 0; i < bits; i++) {
		if (!((subnet_id >> i) & 1))
			continue;
		unsigned bit = length - 1 - i;
		out.address.bytes[bit / 8] |= uint8_t(0x80 >> (bit % 8));
	}
	return out;
}

namespace {

bool overlaps(const Ipv6Prefix &a, const Ipv6Prefix &b)
{
	return a.contains(b) || b.contains(a);
}

// Whether piece `id` of length `length` of any prefix of IA `iaid` is what
// the ISP excluded (RFC 6603 §4.2).
bool excluded_piece(const Binding &binding, uint32_t iaid, uint8_t length, uint64_t id)
{
	const IaBinding *ia = binding.find(true, iaid);
	if (!ia)
		return false;
	for (const LeasedPrefix &p : ia->prefixes)
		if (p.excluded)
			if (auto piece = carve_subnet(p.prefix, length, id); piece && overlaps(*piece, *p.excluded))
				return true;
	return false;
}

// Each downstream's subnet number: its own, or the lowest one that no
// explicit subnet_id of the same IA takes and the ISP did not exclude, in
// configuration order.
std::vector<std::pair<const Downstream *, uint64_t>> subnet_ids(const std::vector<Downstream> &downstream,
								 const Binding &binding)
{
	std::map<uint32_t, std::set<uint64_t>> taken;
	for (const Downstream &d : downstream)
		if (d.subnet_id)
			taken[d.iaid].insert(*d.subnet_id);
	std::vector<std::pair<const Downstream *, uint64_t>> ids;
	std::map<uint32_t, uint64_t> next;
	for (const Downstream &d : downstream) {
		uint64_t id;
		if (d.subnet_id) {
			id = *d.subnet_id;
		} else {
			id = next[d.iaid];
			while (taken[d.iaid].count(id) || excluded_piece(binding, d.iaid, d.length, id))
				id++;
			taken[d.iaid].insert(id);
			next[d.iaid] = id + 1;
		}
		ids.emplace_back(&d, id);
	}
	return ids;
}

Ipv6Address router_address_in(const Ipv6Prefix &subnet)
{
	Ipv6Address router = subnet.address;
	router.bytes[15] |= 1;
	return router;
}

} // namespace

std::vector<Assignment> assign_subnets(const std::vector<Downstream> &downstream, const Binding &binding,
				       std::vector<std::string> *problems)
{
	std::vector<Assignment> out;
	for (auto [d, id] : subnet_ids(downstream, binding)) {
		const IaBinding *ia = binding.find(true, d->iaid);
		if (!ia)
			continue;
		for (const LeasedPrefix &p : ia->prefixes) {
			auto subnet = carve_subnet(p.prefix, d->length, id);
			if (!subnet) {
				if (problems)
					problems->push_back("subnet " + std::to_string(id) + " of length " +
							    std::to_string(d->length) + " does not fit in " +
							    p.prefix.str() + " for " + d->interface);
				continue;
			}
			if (p.excluded && overlaps(*subnet, *p.excluded)) {
				if (problems)
					problems->push_back("subnet " + subnet->str() + " for " + d->interface +
							    " is excluded by the ISP (" + p.excluded->str() +
							    ", RFC 6603): choose another subnet_id");
				continue;
			}
			out.push_back({d->interface, p.prefix, *subnet, router_address_in(*subnet), p.lifetimes});
		}
	}
	return out;
}

std::vector<Assignment> assign_ula_subnets(const std::vector<Downstream> &downstream, const Ipv6Prefix &ula,
					   const Lifetimes &lifetimes)
{
	// RFC 7084 L-2: a /64 per LAN; the same subnet number as the LAN's
	// piece of the delegated prefix (unless the ISP excluded that one), so
	// both are easy to tell apart.
	std::vector<Assignment> out;
	for (auto [d, id] : subnet_ids(downstream, Binding{}))
		if (auto subnet = carve_subnet(ula, 64, id & 0xffff))
			out.push_back({d->interface, ula, *subnet, router_address_in(*subnet), lifetimes});
	return out;
}

namespace {

// Times as wall-clock seconds since the epoch: the lifetimes count from
// `obtained`, which survives a reboot where the monotonic clock does not.

json lifetimes_json(const Lifetimes &l, Seconds mono_now, double wall_now)
{
	return {{"preferred", l.preferred},
		{"valid", l.valid},
		{"obtained", wall_now + (l.obtained - mono_now).count()}};
}

Lifetimes lifetimes_from(const json &j, Seconds mono_now, double wall_now)
{
	Lifetimes l;
	l.preferred = j.at("preferred").get<uint32_t>();
	l.valid = j.at("valid").get<uint32_t>();
	l.obtained = mono_now + Seconds(j.at("obtained").get<double>() - wall_now);
	return l;
}


double wall_seconds(std::chrono::system_clock::time_point t)
{
	return std::chrono::duration<double>(t.time_since_epoch()).count();
}

} // namespace

void put_server_options(const Binding &b, json &out)
{
	json dns = json::array(), domains = json::array(), policy = json::array();
	for (const Ipv6Address &a : b.dns_servers)
		dns.push_back(a.str());
	for (const DomainName &n : b.search_domains)
		domains.push_back(n.str());
	for (const AddressSelectionPolicy &p : b.address_selection)
		policy.push_back({{"prefix", p.prefix.str()}, {"label", p.label}, {"precedence", p.precedence}});
	out["dns_servers"] = dns;
	out["search_domains"] = domains;
	out["address_selection"] = policy;
	out["captive_portal"] = b.captive_portal ? json(*b.captive_portal) : json(nullptr);
}

std::string encode_state(const Duid &duid, const Binding &b, Seconds mono_now,
			 std::chrono::system_clock::time_point wall)
{
	double wall_now = wall_seconds(wall);
	json ias = json::array();
	for (const IaBinding &ia : b.ias) {
		json prefixes = json::array(), addresses = json::array();
		for (const LeasedPrefix &p : ia.prefixes)
		{
			json pj = {{"prefix", p.prefix.str()}, {"lifetimes", lifetimes_json(p.lifetimes, mono_now, wall_now)}};
			if (p.excluded)
				pj["excluded"] = p.excluded->str();
			prefixes.push_back(pj);
		}
		for (const LeasedAddress &a : ia.addresses)
			addresses.push_back({{"address", a.address.str()},
					     {"lifetimes", lifetimes_json(a.lifetimes, mono_now, wall_now)}});
		ias.push_back({{"type", ia.prefix_delegation ? "IA_PD" : "IA_NA"},
			       {"iaid", ia.iaid},
			       {"t1", ia.t1},
			       {"t2", ia.t2},
			       {"obtained", wall_now + (ia.obtained - mono_now).count()},
			       {"prefixes", prefixes},
			       {"addresses", addresses}});
	}
	json j = {{"version", 1},
		  {"duid", duid.str()},
		  {"server", b.server.empty() ? json(nullptr) : json(b.server.str())},
		  {"ias", ias},
		  {"replay_detection", b.replay_detection}};
	put_server_options(b, j);
	if (b.reconfigure_key)
		j["reconfigure_key"] = hex_string(*b.reconfigure_key);
	return j.dump(1) + "\n";
}

SavedState decode_state(const std::string &text, Seconds mono_now, std::chrono::system_clock::time_point wall)
{
	double wall_now = wall_seconds(wall);
	try {
		json j = json::parse(text);
		if (j.at("version").get<int>() != 1)
			throw std::runtime_error("unknown state version");
		SavedState s;
		auto duid = Duid::from_hex(j.at("duid").get<std::string>());
		if (!duid)
			throw std::runtime_error("bad DUID");
		s.duid = *duid;
		if (j.at("server").is_null())
			return s;
		Binding b;
		auto server = Duid::from_hex(j.at("server").get<std::string>());
		if (!server)
			throw std::runtime_error("bad server DUID");
		b.server = *server;
		for (const json &ij : j.at("ias")) {
			IaBinding ia;
			ia.prefix_delegation = ij.at("type").get<std::string>() == "IA_PD";
			ia.iaid = ij.at("iaid").get<uint32_t>();
			ia.t1 = ij.at("t1").get<uint32_t>();
			ia.t2 = ij.at("t2").get<uint32_t>();
			ia.obtained = mono_now + Seconds(ij.at("obtained").get<double>() - wall_now);
			for (const json &pj : ij.at("prefixes")) {
				auto p = Ipv6Prefix::parse(pj.at("prefix").get<std::string>());
				if (!p)
					throw std::runtime_error("bad prefix");
				std::optional<Ipv6Prefix> excluded;
				if (pj.contains("excluded")) {
					excluded = Ipv6Prefix::parse(pj.at("excluded").get<std::string>());
					if (!excluded)
						throw std::runtime_error("bad excluded prefix");
				}
				ia.prefixes.push_back({*p, lifetimes_from(pj.at("lifetimes"), mono_now, wall_now), excluded});
			}
			for (const json &aj : ij.at("addresses")) {
				auto a = Ipv6Address::parse(aj.at("address").get<std::string>());
				if (!a)
					throw std::runtime_error("bad address");
				ia.addresses.push_back({*a, lifetimes_from(aj.at("lifetimes"), mono_now, wall_now)});
			}
			b.ias.push_back(std::move(ia));
		}
		for (const json &a : j.at("dns_servers"))
			if (auto addr = Ipv6Address::parse(a.get<std::string>()))
				b.dns_servers.push_back(*addr);
		for (const json &n : j.at("search_domains"))
			if (auto name = DomainName::from_text(n.get<std::string>()))
				b.search_domains.push_back(*name);
		for (const json &p : j.at("address_selection")) {
			AddressSelectionPolicy row;
			auto prefix = Ipv6Prefix::parse(p.at("prefix").get<std::string>());
			if (!prefix)
				throw std::runtime_error("bad policy prefix");
			row.prefix = *prefix;
			row.label = p.at("label").get<uint8_t>();
			row.precedence = p.at("precedence").get<uint8_t>();
			b.address_selection.push_back(row);
		}
		// Absent in files written before RFC 8910 support.
		if (j.contains("captive_portal") && j["captive_portal"].is_string())
			b.captive_portal = j["captive_portal"].get<std::string>();
		b.replay_detection = j.at("replay_detection").get<uint64_t>();
		if (j.contains("reconfigure_key")) {
			std::string k = j["reconfigure_key"].get<std::string>();
			if (k.size() != 32)
				throw std::runtime_error("bad reconfigure key");
			ReconfigureKey key;
			for (size_t i = 0; i < 16; i++)
				key[i] = uint8_t(std::stoi(k.substr(2 * i, 2), nullptr, 16));
			b.reconfigure_key = key;
		}
		s.binding = std::move(b);
		return s;
	} catch (const json::exception &e) {
		throw std::runtime_error(std::string("damaged client state: ") + e.what());
	} catch (const std::invalid_argument &e) {
		throw std::runtime_error(std::string("damaged client state: ") + e.what());
	}
}

void write_file_atomically(const std::string &dir, const std::string &name, const std::string &text)
{
	std::string path = dir + "/" + name, tmp = path + ".tmp";
	auto fail = [&](const std::string &what) {
		throw std::runtime_error(what + " " + tmp + ": " + std::strerror(errno));
	};
	int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail("cannot create");
	size_t done = 0;
	while (done < text.size()) {
		ssize_t n = ::write(fd, text.data() + done, text.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			::close(fd);
			fail("cannot write");
		}
		done += size_t(n);
	}
	if (::fsync(fd) != 0) {
		::close(fd);
		fail("cannot fsync");
	}
	::close(fd);
	if (::rename(tmp.c_str(), path.c_str()) != 0)
		fail("cannot rename");
	// The rename itself is only durable once the directory is flushed.
	int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		::fsync(dfd);
		::close(dfd);
	}
}

} // namespace umigame::dhcp6d
