// The classifier's loader: pinned objects under <pin root>/classify (the
// maps, and per attached port its link and its instance's .rodata).
#include "classify.h"

#include <algorithm>
#include <array>
#include <set>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <net/if.h>
#include <stdexcept>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_pins.h"
#include "classify.skel.h"

namespace umigame {

std::string Classifier::default_pin_dir()
{
	return bpf_pin_root() + "/classify";
}

Classifier::Classifier(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}

Classifier::~Classifier()
{
	for (int *fd : {&tables_fd_, &counters_fd_, &flows_fd_, &cpumap_fd_})
		close_fd(*fd);
}

std::string Classifier::link_path(uint32_t ifindex) const
{
	return xdp_link_pin_path(pin_dir_, ifindex);
}

std::string Classifier::rodata_path(uint32_t ifindex) const
{
	return pin_dir_ + "/rodata_" + std::to_string(ifindex);
}

struct classify *load_classify_instance(const std::string &pin_dir, uint32_t slot)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir.c_str());
	struct classify *skel = classify__open_opts(&opts);
	if (!skel)
		fail_errno("cannot open the classifier's BPF object", errno);
	// Without umigame.ko's BTF the CRC32c kfunc cannot resolve; the
	// verifier then drops checksum verification (rules load refuses
	// checksum = "verify" for such an instance).
	skel->rodata->have_module = access("/sys/kernel/btf/umigame", F_OK) == 0;
	skel->rodata->port_slot = slot;
	if (int err = classify__load(skel)) {
		classify__destroy(skel);
		fail_errno("cannot load the classifier (see the verifier log above)", -err);
	}
	return skel;
}

bool Classifier::open(bool create)
{
	require_bpffs();
	const std::string tables_path = pin_dir_ + "/cls_tables";
	if (access(tables_path.c_str(), F_OK) != 0) {
		if (!create)
			return false;
		// Loading an instance creates and pins the maps; it is attached
		// nowhere and goes when the skeleton does.
		create_pin_dir(pin_dir_);
		classify__destroy(load_classify_instance(pin_dir_, 0));
	}
	tables_fd_ = get_pinned(tables_path);
	counters_fd_ = get_pinned(pin_dir_ + "/cls_counters");
	flows_fd_ = get_pinned(pin_dir_ + "/cls_flows");
	cpumap_fd_ = get_pinned(pin_dir_ + "/cls_cpumap");
	return true;
}

bool Classifier::read_row(uint32_t slot, umigame_cls_table &t) const
{
	return bpf_map_lookup_elem(tables_fd_, &slot, &t) == 0;
}

void Classifier::write_row(uint32_t slot, const umigame_cls_table &t) const
{
	if (bpf_map_update_elem(tables_fd_, &slot, &t, BPF_ANY) != 0)
		fail_errno("cannot write row " + std::to_string(slot) + " of cls_tables", errno);
}

umigame_cls_port_counters Classifier::sum_row(uint32_t slot) const
{
	const int n = libbpf_num_possible_cpus();
	std::vector<umigame_cls_cpu_row> v(size_t(n > 0 ? n : 1));
	umigame_cls_port_counters s{};
	if (bpf_map_lookup_elem(counters_fd_, &slot, v.data()) != 0)
		return s;
	for (const auto &[c, scratch] : v) {
		for (size_t r = 0; r < UMIGAME_CLS_REASON_COUNT; r++) {
			s.reasons[r].packets += c.reasons[r].packets;
			s.reasons[r].bytes += c.reasons[r].bytes;
		}
		for (size_t r = 0; r < UMIGAME_CLS_MAX_RULES; r++) {
			s.rules[r].packets += c.rules[r].packets;
			s.rules[r].bytes += c.rules[r].bytes;
		}
	}
	return s;
}

std::array<uint32_t, UMIGAME_CLS_MAX_PORTS> Classifier::owners() const
{
	std::array<uint32_t, UMIGAME_CLS_MAX_PORTS> out{};
	auto t = std::make_unique<umigame_cls_table>();
	for (uint32_t slot = 0; slot < UMIGAME_CLS_MAX_PORTS; slot++)
		if (read_row(slot, *t))
			out[slot] = t->owner;
	return out;
}

uint32_t Classifier::row_of(uint32_t ifindex) const
{
	const auto owner = owners();
	for (uint32_t slot = 0; slot < UMIGAME_CLS_MAX_PORTS; slot++)
		if (owner[slot] == ifindex)
			return slot;
	for (uint32_t slot = 0; slot < UMIGAME_CLS_MAX_PORTS; slot++) {
		if (owner[slot])
			continue;
		// The program only adds to counters; a row's new owner starts
		// from what they hold now.
		auto t = std::make_unique<umigame_cls_table>();
		t->owner = ifindex;
		t->base = sum_row(slot);
		write_row(slot, *t);
		return slot;
	}
	throw std::runtime_error("all " + std::to_string(UMIGAME_CLS_MAX_PORTS) +
				 " ports of the classifier are taken");
}

bool Classifier::have_module(uint32_t ifindex) const
{
	classify::classify__rodata ro{};
	if (read_pinned_rodata(rodata_path(ifindex), &ro, sizeof(ro)))
		return ro.have_module;
	return access("/sys/kernel/btf/umigame", F_OK) == 0;
}

std::string Classifier::attach(const std::string &dev, bool allow_generic)
{
	const uint32_t ifindex = if_nametoindex(dev.c_str());
	if (!ifindex)
		throw std::runtime_error("no interface " + dev);
	const std::string link = link_path(ifindex);
	if (access(link.c_str(), F_OK) == 0)
		return "the classifier is already attached to " + dev;
	const uint32_t slot = row_of(ifindex);
	auto t = std::make_unique<umigame_cls_table>();
	if (!read_row(slot, *t))
		fail_errno("cannot read row " + std::to_string(slot) + " of cls_tables", errno);
	bool needs_module = t->flags & UMIGAME_CLS_F_VERIFY_CSUM;
	for (uint32_t r = 0; r < t->n_rules && r < UMIGAME_CLS_MAX_RULES; r++)
		needs_module |= t->rules[r].action == UMIGAME_CLS_REWRITE;
	std::string mode;
	try {
		if (needs_module && access("/sys/kernel/btf/umigame", F_OK) != 0)
			throw std::runtime_error("the rules of " + dev +
						 " need umigame.ko's CRC32c kfunc: load umigame.ko first");
		std::unique_ptr<struct classify, void (*)(struct classify *)> skel(
			load_classify_instance(pin_dir_, slot), classify__destroy);
		mode = attach_xdp_link(bpf_program__fd(skel->progs.umigame_classify), ifindex, dev, allow_generic,
				       link, "the classifier");
		// Which instance has the kfuncs, for rules loaded later.
		const std::string ro = rodata_path(ifindex);
		unlink(ro.c_str());
		if (int err = bpf_map__pin(skel->maps.rodata, ro.c_str()))
			fail_errno("cannot pin " + ro, -err);
	} catch (...) {
		// A failed attach changes nothing: a row it reserved (one
		// without rules) goes back.
		if (!t->ifindex && access(link.c_str(), F_OK) != 0)
			write_row(slot, umigame_cls_table{});
		throw;
	}
	return "attached the classifier to " + dev + " (" + mode + " XDP)";
}

std::string Classifier::detach(const std::string &dev)
{
	const uint32_t ifindex = if_nametoindex(dev.c_str());
	if (!ifindex)
		throw std::runtime_error("no interface " + dev);
	const std::string link = link_path(ifindex);
	bool attached = unlink(link.c_str()) == 0;
	if (!attached && errno != ENOENT)
		fail_errno("cannot remove " + link, errno);
	unlink(rodata_path(ifindex).c_str());
	const auto owner = owners();
	bool had_row = false;
	for (uint32_t slot = 0; slot < UMIGAME_CLS_MAX_PORTS; slot++)
		if (owner[slot] == ifindex) {
			write_row(slot, umigame_cls_table{});
			had_row = true;
		}
	if (!attached && !had_row)
		throw std::runtime_error("the classifier is not attached to " + dev + " and has no rules for it");
	const std::string done = attached ? "detached the classifier from " + dev : "forgot the rules of " + dev;
	for (const auto &e : std::filesystem::directory_iterator(pin_dir_))
		if (e.path().filename().string().rfind("link_", 0) == 0)
			return done;
	remove_pin_dir(pin_dir_);
	return done;
}

std::vector<std::string> Classifier::load(const ClassifyRules &rules)
{
	// Resolve everything first: a bad name changes nothing.
	std::vector<uint32_t> ifindexes;
	for (const auto &p : rules.ports) {
		const uint32_t ifindex = if_nametoindex(p.dev.c_str());
		if (!ifindex)
			throw ConfigError(p.where, "no interface " + p.dev);
		for (const auto &r : p.rules)
			if (!r.target_dev.empty() && !if_nametoindex(r.target_dev.c_str()))
				throw ConfigError(r.where, "no interface " + r.target_dev);
		ifindexes.push_back(ifindex);
	}
	const char *reload = "classifier on this port was loaded without the module: load umigame.ko, "
			     "detach the port and attach it again";
	for (size_t i = 0; i < rules.ports.size(); i++) {
		const auto &p = rules.ports[i];
		const bool module = have_module(ifindexes[i]);
		if ((p.flags & UMIGAME_CLS_F_VERIFY_CSUM) && !module)
			throw ConfigError(p.where, std::string("checksum = \"verify\" needs umigame.ko's "
							       "CRC32c kfunc, and the ") + reload);
		for (const auto &r : p.rules)
			if (r.rule.action == UMIGAME_CLS_REWRITE && !module)
				throw ConfigError(r.where, std::string("action = \"rewrite\" needs umigame.ko's "
								       "CRC32c kfunc, and the ") + reload);
	}
	// Room for every port new to the classifier before any row is taken,
	// so that a file naming too many changes nothing.
	const auto owner = owners();
	size_t free_rows = size_t(std::count(owner.begin(), owner.end(), 0u));
	std::set<uint32_t> fresh;
	for (size_t i = 0; i < rules.ports.size(); i++) {
		if (std::find(owner.begin(), owner.end(), ifindexes[i]) != owner.end() ||
		    !fresh.insert(ifindexes[i]).second)
			continue;
		if (fresh.size() > free_rows)
			throw ConfigError(rules.ports[i].where, "all " + std::to_string(UMIGAME_CLS_MAX_PORTS) +
									" ports of the classifier are taken");
	}
	std::vector<uint32_t> slots;
	for (size_t i = 0; i < rules.ports.size(); i++)
		slots.push_back(row_of(ifindexes[i]));
	std::vector<std::string> out;
	const int ncpus = libbpf_num_possible_cpus();
	for (size_t i = 0; i < rules.ports.size(); i++) {
		const auto &p = rules.ports[i];
		auto t = std::make_unique<umigame_cls_table>();
		if (!read_row(slots[i], *t))
			fail_errno("cannot read row " + std::to_string(slots[i]) + " of cls_tables", errno);
		t->ifindex = ifindexes[i];
		t->flags = p.flags;
		t->n_rules = uint32_t(p.rules.size());
		t->n_cpus = 0;
		std::memset(t->rules, 0, sizeof(t->rules));
		bool cpumap = false;
		for (size_t j = 0; j < p.rules.size(); j++) {
			t->rules[j] = p.rules[j].rule;
			if (!p.rules[j].target_dev.empty())
				t->rules[j].target = if_nametoindex(p.rules[j].target_dev.c_str());
			cpumap |= t->rules[j].action == UMIGAME_CLS_REDIRECT_CPU;
		}
		if (cpumap) {
			t->n_cpus = p.cpus ? p.cpus : uint32_t(std::min(ncpus, UMIGAME_CLS_MAX_CPUS));
			for (uint32_t c = 0; c < t->n_cpus; c++) {
				bpf_cpumap_val v{};
				v.qsize = 2048;
				if (bpf_map_update_elem(cpumap_fd_, &c, &v, 0) != 0)
					fail_errno("cannot add CPU " + std::to_string(c) + " to cls_cpumap", errno);
			}
		}
		// New rules, new rule counters: they start from what the row's
		// counters hold now.
		const umigame_cls_port_counters now = sum_row(slots[i]);
		std::memcpy(t->base.rules, now.rules, sizeof(now.rules));
		write_row(slots[i], *t);
		out.push_back(p.dev + ": " + std::to_string(p.rules.size()) + " rules");
	}
	return out;
}

std::vector<ClassifyPortState> Classifier::ports() const
{
	std::vector<ClassifyPortState> out;
	for (uint32_t slot = 0; slot < UMIGAME_CLS_MAX_PORTS; slot++) {
		ClassifyPortState s;
		if (!read_row(slot, s.table) || !s.table.owner)
			continue;
		s.ifindex = s.table.owner;
		char name[IF_NAMESIZE] = {};
		if (if_indextoname(s.ifindex, name))
			s.dev = name;
		s.attached = access(link_path(s.ifindex).c_str(), F_OK) == 0;
		const umigame_cls_port_counters now = sum_row(slot);
		for (uint32_t r = 0; r < UMIGAME_CLS_REASON_COUNT; r++)
			s.reasons[r] = {now.reasons[r].packets - s.table.base.reasons[r].packets,
					now.reasons[r].bytes - s.table.base.reasons[r].bytes};
		for (uint32_t r = 0; r < s.table.n_rules && r < UMIGAME_CLS_MAX_RULES; r++)
			s.rules.push_back({now.rules[r].packets - s.table.base.rules[r].packets,
					   now.rules[r].bytes - s.table.base.rules[r].bytes});
		out.push_back(std::move(s));
	}
	return out;
}

std::vector<ClassifyFlow> Classifier::flows() const
{
	std::vector<ClassifyFlow> out;
	umigame_cls_flow_key key{}, next{};
	const umigame_cls_flow_key *prev = nullptr;
	while (bpf_map_get_next_key(flows_fd_, prev, &next) == 0) {
		ClassifyFlow f;
		f.key = next;
		if (bpf_map_lookup_elem(flows_fd_, &next, &f.stats) == 0)
			out.push_back(f);
		key = next;
		prev = &key;
	}
	return out;
}

} // namespace umigame
