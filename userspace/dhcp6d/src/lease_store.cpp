#include "umigame/dhcp6d/lease_store.h"

#include "umigame/log.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <zlib.h>

namespace umigame::dhcp6d {

namespace {

[[noreturn]] void fail_errno(const std::string &what)
{
	throw std::runtime_error(what + ": " + std::strerror(errno));
}

void write_all(int fd, const std::string &data, const std::string &path)
{
	size_t done = 0;
	while (done < data.size()) {
		ssize_t n = ::write(fd, data.data() + done, data.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail_errno("cannot write " + path);
		done += size_t(n);
	}
}

unsigned __int128 to_u128(const Ipv6Address &a)
{
	unsigned __int128 v = 0;
	for (uint8_t b : a.bytes)
		v = (v << 8) | b;
	return v;
}

Ipv6Address from_u128(unsigned __int128 v)
{
	Ipv6Address a;
	for (int i = 15; i >= 0; i--) {
		a.bytes[size_t(i)] = uint8_t(v);
		v >>= 8;
	}
	return a;
}

uint32_t crc_of(const std::string &text)
{
	return uint32_t(crc32(0, reinterpret_cast<const Bytef *>(text.data()), uInt(text.size())));
}

// FNV-1a: a stable spread of keys over a pool, the same on every start.
uint64_t hash_key(const LeaseKey &key)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	auto mix = [&](uint8_t b) { h = (h ^ b) * 0x100000001b3ULL; };
	for (uint8_t b : key.duid)
		mix(b);
	for (int i = 0; i < 4; i++)
		mix(uint8_t(key.iaid >> (8 * i)));
	return h;
}

} // namespace

PrefixPool::PrefixPool(Ipv6Prefix base, uint8_t delegated_length)
	: base_(base), delegated_(delegated_length)
{
	if (delegated_length < base.length || delegated_length > 128)
		throw std::invalid_argument("delegated length /" + std::to_string(delegated_length) +
					    " does not fit in " + base.str());
	unsigned bits = delegated_length - base.length;
	size_ = bits >= 63 ? (1ULL << 63) : (1ULL << bits);
}

Ipv6Prefix PrefixPool::at(uint64_t index) const
{
	unsigned __int128 v = to_u128(base_.address) +
			      ((unsigned __int128)index << (128 - delegated_));
	return {from_u128(v), delegated_};
}

std::optional<uint64_t> PrefixPool::index_of(const Ipv6Prefix &p) const
{
	if (p.length != delegated_ || !base_.contains(p))
		return std::nullopt;
	unsigned __int128 off = to_u128(p.address) - to_u128(base_.address);
	return uint64_t(off >> (128 - delegated_));
}

std::string format_line(char op, const Lease &l)
{
	std::ostringstream s;
	s << op << ' ' << hex_string(l.key.duid) << ' ' << l.key.iaid << ' ' << l.prefix.str() << ' '
	  << l.preferred << ' ' << l.valid << ' ' << l.expires;
	if (l.key.kind == LeaseKind::address)
		s << " na";
	if (l.next_hop)
		s << " via=" << l.next_hop->str();
	if (!l.interface.empty())
		s << " dev=" << l.interface;
	if (l.reconfigure_key)
		s << " rk=" << hex_string(*l.reconfigure_key);
	if (!l.relay_path.empty())
		s << " relay=" << hex_string(l.relay_path);
	std::string text = s.str();
	char crc[16];
	std::snprintf(crc, sizeof(crc), " %08x", crc_of(text));
	return text + crc;
}

std::pair<char, Lease> parse_line(const std::string &line)
{
	size_t last = line.rfind(' ');
	if (last == std::string::npos)
		throw std::invalid_argument("no checksum");
	std::string text = line.substr(0, last), crc = line.substr(last + 1);
	char *end = nullptr;
	unsigned long want = std::strtoul(crc.c_str(), &end, 16);
	if (crc.size() != 8 || *end || want != crc_of(text))
		throw std::invalid_argument("checksum mismatch");

	std::istringstream in(text);
	std::string op, duid, prefix;
	Lease l;
	int64_t preferred = -1, valid = -1;
	if (!(in >> op >> duid >> l.key.iaid >> prefix >> preferred >> valid >> l.expires))
		throw std::invalid_argument("wrong number of fields");
	// The optional extras (see lease_store.h), each at most once.
	std::string extra;
	while (in >> extra) {
		if (extra == "na" && l.key.kind == LeaseKind::prefix) {
			l.key.kind = LeaseKind::address;
		} else if (extra.starts_with("via=") && !l.next_hop) {
			l.next_hop = Ipv6Address::parse(extra.substr(4));
			if (!l.next_hop)
				throw std::invalid_argument("bad next hop '" + extra + "'");
		} else if (extra.starts_with("dev=") && l.interface.empty()) {
			// IFNAMSIZ - 1; the kernel allows neither '/' nor whitespace.
			l.interface = extra.substr(4);
			if (l.interface.empty() || l.interface.size() > 15 ||
			    l.interface.find('/') != std::string::npos)
				throw std::invalid_argument("bad interface '" + extra + "'");
		} else if (extra.starts_with("rk=") && !l.reconfigure_key) {
			auto key = hex_bytes(std::string_view(extra).substr(3));
			if (!key || key->size() != 16)
				throw std::invalid_argument("bad Reconfigure Key field");
			l.reconfigure_key.emplace();
			std::copy(key->begin(), key->end(), l.reconfigure_key->begin());
		} else if (extra.starts_with("relay=") && l.relay_path.empty()) {
			// At most what one UDP payload can carry.
			auto path = hex_bytes(std::string_view(extra).substr(6));
			if (!path || path->empty() || path->size() > 65535)
				throw std::invalid_argument("bad relay field");
			l.relay_path = std::move(*path);
		} else {
			throw std::invalid_argument("unknown or repeated field '" + extra + "'");
		}
	}
	if (op != "B" && op != "R")
		throw std::invalid_argument("unknown record '" + op + "'");
	// RFC 8415 §11.1: a DUID is 1 to 130 bytes.
	auto duid_bytes = hex_bytes(duid);
	if (!duid_bytes || duid_bytes->empty() || duid_bytes->size() > 130)
		throw std::invalid_argument("bad DUID");
	l.key.duid = std::move(*duid_bytes);
	auto p = Ipv6Prefix::parse(prefix);
	if (!p)
		throw std::invalid_argument("bad prefix '" + prefix + "'");
	l.prefix = *p;
	if (preferred < 0 || preferred > UINT32_MAX || valid < 0 || valid > UINT32_MAX)
		throw std::invalid_argument("bad lifetime");
	l.preferred = uint32_t(preferred);
	l.valid = uint32_t(valid);
	return {op[0], l};
}

LeaseStore::LeaseStore(std::string path) : path_(std::move(path))
{
	replay();
	open_for_append();
}

LeaseStore::~LeaseStore()
{
	if (fd_ >= 0)
		close(fd_);
}

void LeaseStore::open_for_append()
{
	if (fd_ >= 0)
		close(fd_);
	fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd_ < 0)
		fail_errno("cannot open the lease journal " + path_);
}

void LeaseStore::replay()
{
	std::ifstream in(path_, std::ios::binary);
	if (!in)
		return; // a first start
	std::string content((std::istreambuf_iterator<char>(in)), {});
	size_t pos = 0, good_end = 0;
	uint64_t lineno = 0;
	while (pos < content.size()) {
		size_t nl = content.find('\n', pos);
		bool last = nl == std::string::npos || nl + 1 == content.size();
		std::string line = content.substr(pos, nl == std::string::npos ? std::string::npos
									       : nl - pos);
		lineno++;
		try {
			if (nl == std::string::npos)
				throw std::invalid_argument("no end of line");
			auto [op, lease] = parse_line(line);
			apply(op, lease);
			lines_++;
		} catch (const std::invalid_argument &e) {
			// Only the last line can have been cut short by a crash:
			// anything earlier is damage we must not paper over.
			if (!last)
				throw LeaseStoreError(path_ + ":" + std::to_string(lineno) + ": " +
						      e.what() + " (refusing to start with a damaged "
								 "lease journal)");
			if (truncate(path_.c_str(), off_t(good_end)) != 0)
				fail_errno("cannot cut the torn last line off " + path_);
			break;
		}
		pos = nl + 1;
		good_end = pos;
	}
}

void LeaseStore::apply(char op, const Lease &lease)
{
	if (op == 'B') {
		auto old = by_key_.find(lease.key);
		if (old != by_key_.end() && old->second.prefix != lease.prefix) {
			auto it = live_by_prefix_.find(old->second.prefix);
			if (it != live_by_prefix_.end() && it->second == lease.key)
				live_by_prefix_.erase(it);
		}
		by_key_[lease.key] = lease;
		live_by_prefix_[lease.prefix] = lease.key;
	} else {
		auto it = by_key_.find(lease.key);
		if (it == by_key_.end())
			return;
		it->second.expires = lease.expires; // remembered, no longer live
		it->second.preferred = it->second.valid = 0;
	}
}

const Lease *LeaseStore::find(const LeaseKey &key) const
{
	auto it = by_key_.find(key);
	return it == by_key_.end() ? nullptr : &it->second;
}

const Lease *LeaseStore::holder(const Ipv6Prefix &prefix, int64_t now) const
{
	auto it = live_by_prefix_.find(prefix);
	if (it == live_by_prefix_.end())
		return nullptr;
	const Lease *l = find(it->second);
	return l && l->prefix == prefix && l->live(now) ? l : nullptr;
}

std::optional<Ipv6Prefix> LeaseStore::choose(const LeaseKey &key, const PrefixPool &pool,
					     int64_t now,
					     const std::function<bool(const Ipv6Prefix &)> &excluded) const
{
	auto usable = [&](const Ipv6Prefix &p) {
		const Lease *h = holder(p, now);
		return (!h || h->key == key) && !(excluded && excluded(p));
	};
	// RFC 8415 §18.3.4/§18.3.5: a client keeps its prefix; and one that
	// comes back after its lease ended gets the same one when it is free.
	if (const Lease *mine = find(key); mine && pool.index_of(mine->prefix) && usable(mine->prefix))
		return mine->prefix;

	// Search from a spot hashed from the key: first for a prefix no
	// other client remembers, then for any that nobody holds.
	constexpr uint64_t kMaxProbes = 1U << 20;
	const uint64_t start = hash_key(key) % pool.size();
	const uint64_t probes = std::min(pool.size(), kMaxProbes);
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t i = 0; i < probes; i++) {
			Ipv6Prefix p = pool.at((start + i) % pool.size());
			if (!usable(p))
				continue;
			if (pass == 0 && live_by_prefix_.count(p))
				continue; // another client's ended lease: keep it for them
			return p;
		}
	}
	return std::nullopt;
}

void LeaseStore::bind(const Lease &lease, int64_t now)
{
	if (const Lease *h = holder(lease.prefix, now); h && h->key != lease.key)
		throw std::logic_error(lease.prefix.str() + " is delegated to another client");
	stage('B', lease);
}

void LeaseStore::release(const LeaseKey &key, int64_t now)
{
	const Lease *l = find(key);
	if (!l)
		return;
	Lease ended = *l;
	ended.preferred = ended.valid = 0;
	ended.expires = now;
	stage('R', ended);
}

void LeaseStore::stage(char op, const Lease &lease)
{
	staged_ += format_line(op, lease);
	staged_ += '\n';
	staged_lines_++;
	changed_.push_back(lease.prefix);
	// A binding that moves the key to another prefix ends the old one
	// too (apply() forgets it without an R line): its route must go.
	if (auto old = by_key_.find(lease.key);
	    op == 'B' && old != by_key_.end() && old->second.prefix != lease.prefix)
		changed_.push_back(old->second.prefix);
	apply(op, lease);
}

std::vector<Ipv6Prefix> LeaseStore::take_changed()
{
	return std::exchange(changed_, {});
}

std::string LeaseStore::take_staged()
{
	lines_ += staged_lines_;
	staged_lines_ = 0;
	return std::exchange(staged_, {});
}

void LeaseStore::append_durably(const std::string &lines)
{
	if (lines.empty())
		return;
	// A write that fails halfway must not leave half a line in the
	// middle of the journal once the retry appends the whole again.
	const off_t before = ::lseek(fd_, 0, SEEK_END);
	try {
		write_all(fd_, lines, path_);
		if (fdatasync(fd_) != 0)
			fail_errno("cannot flush " + path_);
	} catch (...) {
		if (before >= 0 && ::ftruncate(fd_, before) != 0)
			log::warning("cannot cut the lease journal back after a failed write");
		throw;
	}
}

void LeaseStore::commit()
{
	if (staged_.empty())
		return;
	write_all(fd_, staged_, path_);
	if (fdatasync(fd_) != 0)
		fail_errno("cannot flush " + path_);
	lines_ += staged_lines_;
	staged_.clear();
	staged_lines_ = 0;
}

void LeaseStore::compact(int64_t now, int64_t keep_ended_seconds)
{
	commit();
	std::string out;
	uint64_t n = 0;
	for (const auto &[key, lease] : by_key_) {
		if (!lease.live(now) && lease.expires < now - keep_ended_seconds)
			continue;
		out += format_line(lease.live(now) ? 'B' : 'R', lease) + '\n';
		n++;
	}
	const std::string tmp = path_ + ".tmp";
	int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		fail_errno("cannot create " + tmp);
	try {
		write_all(fd, out, tmp);
		if (fdatasync(fd) != 0)
			fail_errno("cannot flush " + tmp);
	} catch (...) {
		close(fd);
		unlink(tmp.c_str());
		throw;
	}
	close(fd);
	if (rename(tmp.c_str(), path_.c_str()) != 0)
		fail_errno("cannot replace " + path_);
	// The rename itself must survive a crash too.
	std::string dir = std::filesystem::path(path_).parent_path().string();
	int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	// Forget what was not rewritten.
	for (auto it = by_key_.begin(); it != by_key_.end();) {
		if (!it->second.live(now) && it->second.expires < now - keep_ended_seconds) {
			auto p = live_by_prefix_.find(it->second.prefix);
			if (p != live_by_prefix_.end() && p->second == it->first)
				live_by_prefix_.erase(p);
			it = by_key_.erase(it);
		} else {
			++it;
		}
	}
	lines_ = n;
	open_for_append();
}

std::vector<Lease> LeaseStore::leases() const
{
	std::vector<Lease> out;
	for (const auto &[key, lease] : by_key_)
		out.push_back(lease);
	return out;
}

} // namespace umigame::dhcp6d
