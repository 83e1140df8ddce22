// The SCTP/DCCP classifier's pinned BPF objects: load and pin the program
// once per network namespace, attach it to ports with bpf_link, replace a
// port's rule table in one map update, read counters and flows.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "classify_rules.h"
#include "umigame/classify.h"

namespace umigame {

struct ClassifyPortState {
	std::string dev; // empty when the interface no longer exists
	uint32_t ifindex = 0;
	bool attached = false;
	umigame_cls_table table{};
	std::array<umigame_cls_counter, UMIGAME_CLS_REASON_COUNT> reasons{};
	std::vector<umigame_cls_counter> rules; // one per rule in table
};

struct ClassifyFlow {
	umigame_cls_flow_key key{};
	umigame_cls_flow stats{};
};

class Classifier {
public:
	static std::string default_pin_dir(); // bpf_pin_root() + "/classify"

	explicit Classifier(std::string pin_dir);
	~Classifier();
	Classifier(const Classifier &) = delete;
	Classifier &operator=(const Classifier &) = delete;

	// Open the pinned program and maps; with create, load and pin first.
	bool open(bool create);
	std::string attach(const std::string &dev, bool allow_generic);
	// Detach and forget the port's rules; unpin everything after the last port.
	void detach(const std::string &dev);
	// Resolve interface names and write each port's table (a port's rule
	// counters restart at 0). Returns one line per port.
	std::vector<std::string> load(const ClassifyRules &rules);

	std::vector<ClassifyPortState> ports() const;
	std::vector<ClassifyFlow> flows() const;
	int prog_fd() const { return prog_fd_; }

private:
	std::string link_path(uint32_t ifindex) const;
	umigame_cls_counter sum(int fd, uint32_t idx) const;
	// Whether the pinned program was loaded with umigame.ko's kfuncs.
	bool have_module() const;

	std::string pin_dir_;
	int prog_fd_ = -1, tables_fd_ = -1, counters_fd_ = -1, rule_counters_fd_ = -1,
	    flows_fd_ = -1, cpumap_fd_ = -1;
};

} // namespace umigame
