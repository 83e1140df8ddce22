// The classifier's loader: pinned objects under <pin root>/classify.
#include "classify.h"

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
	for (int *fd : {&prog_fd_, &tables_fd_, &counters_fd_, &rule_counters_fd_, &flows_fd_,
			&cpumap_fd_})
		close_fd(*fd);
}

std::string Classifier::link_path(uint32_t ifindex) const
{
	return xdp_link_pin_path(pin_dir_, ifindex);
}

bool Classifier::open(bool create)
{
	require_bpffs();
	const std::string prog_path = pin_dir_ + "/prog";
	if (access(prog_path.c_str(), F_OK) != 0) {
		if (!create)
			return false;
		create_pin_dir(pin_dir_);
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir_.c_str());
		struct classify *skel = classify__open_opts(&opts);
		if (!skel)
			fail_errno("cannot open the classifier's BPF object", errno);
		// Without umigame.ko's BTF the CRC32c kfunc cannot resolve; the
		// verifier then drops checksum verification (rules load refuses
		// checksum = "verify" against such a program).
		skel->rodata->have_module = access("/sys/kernel/btf/umigame", F_OK) == 0;
		int err = classify__load(skel);
		if (!err)
			err = bpf_program__pin(skel->progs.umigame_classify, prog_path.c_str());
		if (!err)
			err = bpf_map__pin(skel->maps.rodata, (pin_dir_ + "/cls_rodata").c_str());
		classify__destroy(skel);
		if (err)
			fail_errno("cannot load the classifier (see the verifier log above)", -err);
	}
	prog_fd_ = get_pinned(prog_path);
	tables_fd_ = get_pinned(pin_dir_ + "/cls_tables");
	counters_fd_ = get_pinned(pin_dir_ + "/cls_counters");
	rule_counters_fd_ = get_pinned(pin_dir_ + "/cls_rule_counters");
	flows_fd_ = get_pinned(pin_dir_ + "/cls_flows");
	cpumap_fd_ = get_pinned(pin_dir_ + "/cls_cpumap");
	return true;
}

std::string Classifier::attach(const std::string &dev, bool allow_generic)
{
	const uint32_t ifindex = if_nametoindex(dev.c_str());
	if (!ifindex)
		throw std::runtime_error("no interface " + dev);
	const std::string link = link_path(ifindex);
	if (access(link.c_str(), F_OK) == 0)
		return "the classifier is already attached to " + dev;
	const std::string mode =
		attach_xdp_link(prog_fd_, ifindex, dev, allow_generic, link, "the classifier");
	return "attached the classifier to " + dev + " (" + mode + " XDP)";
}

void Classifier::detach(const std::string &dev)
{
	const uint32_t ifindex = if_nametoindex(dev.c_str());
	if (!ifindex)
		throw std::runtime_error("no interface " + dev);
	const std::string link = link_path(ifindex);
	if (unlink(link.c_str()) != 0) {
		if (errno == ENOENT)
			throw std::runtime_error("the classifier is not attached to " + dev);
		fail_errno("cannot remove " + link, errno);
	}
	bpf_map_delete_elem(tables_fd_, &ifindex);
	for (const auto &e : std::filesystem::directory_iterator(pin_dir_))
		if (e.path().filename().string().rfind("link_", 0) == 0)
			return;
	remove_pin_dir(pin_dir_);
}

bool Classifier::have_module() const
{
	// The whole .rodata section: have_module is its first (only) byte.
	return pinned_rodata_flag(pin_dir_ + "/cls_rodata");
}

umigame_cls_counter Classifier::sum(int fd, uint32_t idx) const
{
	const int n = libbpf_num_possible_cpus();
	std::vector<umigame_cls_counter> v(size_t(n > 0 ? n : 1));
	umigame_cls_counter s{};
	if (bpf_map_lookup_elem(fd, &idx, v.data()) != 0)
		return s;
	for (const auto &c : v) {
		s.packets += c.packets;
		s.bytes += c.bytes;
	}
	return s;
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
	const char *reload = "classifier was loaded without the module: load umigame.ko, detach every "
			     "port and attach again";
	for (const auto &p : rules.ports) {
		if ((p.flags & UMIGAME_CLS_F_VERIFY_CSUM) && !have_module())
			throw ConfigError(p.where, std::string("checksum = \"verify\" needs umigame.ko's "
							       "CRC32c kfunc, and the ") + reload);
		for (const auto &r : p.rules)
			if (r.rule.action == UMIGAME_CLS_REWRITE && !have_module())
				throw ConfigError(r.where, std::string("action = \"rewrite\" needs umigame.ko's "
								       "CRC32c kfunc, and the ") + reload);
	}
	// Slots in use by ports not in this file stay theirs.
	std::vector<bool> used(UMIGAME_CLS_MAX_PORTS);
	std::map<uint32_t, uint32_t> slot_of;
	for (const auto &s : ports()) {
		slot_of[s.ifindex] = s.table.slot;
		if (s.table.slot < UMIGAME_CLS_MAX_PORTS)
			used[s.table.slot] = true;
	}
	std::vector<std::string> out;
	const int ncpus = libbpf_num_possible_cpus();
	for (size_t i = 0; i < rules.ports.size(); i++) {
		const auto &p = rules.ports[i];
		auto t = std::make_unique<umigame_cls_table>();
		auto it = slot_of.find(ifindexes[i]);
		if (it != slot_of.end()) {
			t->slot = it->second;
		} else {
			uint32_t s = 0;
			while (s < UMIGAME_CLS_MAX_PORTS && used[s])
				s++;
			if (s == UMIGAME_CLS_MAX_PORTS)
				throw ConfigError(p.where, "more than " + std::to_string(UMIGAME_CLS_MAX_PORTS) +
								   " ports with rules");
			used[s] = true;
			t->slot = s;
		}
		t->flags = p.flags;
		t->n_rules = uint32_t(p.rules.size());
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
		// New rules, new counters.
		const int n = ncpus > 0 ? ncpus : 1;
		std::vector<umigame_cls_counter> zero(static_cast<size_t>(n));
		for (uint32_t j = 0; j < UMIGAME_CLS_MAX_RULES; j++) {
			uint32_t idx = t->slot * UMIGAME_CLS_MAX_RULES + j;
			bpf_map_update_elem(rule_counters_fd_, &idx, zero.data(), 0);
		}
		if (bpf_map_update_elem(tables_fd_, &ifindexes[i], t.get(), 0) != 0)
			fail_errno("cannot write the rules of " + p.dev, errno);
		out.push_back(p.dev + ": " + std::to_string(p.rules.size()) + " rules");
	}
	return out;
}

std::vector<ClassifyPortState> Classifier::ports() const
{
	std::vector<ClassifyPortState> out;
	uint32_t key = 0, next = 0;
	const uint32_t *prev = nullptr;
	while (bpf_map_get_next_key(tables_fd_, prev, &next) == 0) {
		ClassifyPortState s;
		s.ifindex = next;
		char name[IF_NAMESIZE] = {};
		if (if_indextoname(next, name))
			s.dev = name;
		s.attached = access(link_path(next).c_str(), F_OK) == 0;
		if (bpf_map_lookup_elem(tables_fd_, &next, &s.table) == 0 &&
		    s.table.slot < UMIGAME_CLS_MAX_PORTS) {
			for (uint32_t r = 0; r < UMIGAME_CLS_REASON_COUNT; r++)
				s.reasons[r] = sum(counters_fd_, s.table.slot * UMIGAME_CLS_REASON_COUNT + r);
			for (uint32_t r = 0; r < s.table.n_rules && r < UMIGAME_CLS_MAX_RULES; r++)
				s.rules.push_back(sum(rule_counters_fd_, s.table.slot * UMIGAME_CLS_MAX_RULES + r));
			out.push_back(std::move(s));
		}
		key = next;
		prev = &key;
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
