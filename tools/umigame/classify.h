// The SCTP/DCCP classifier's pinned BPF objects: the maps, pinned once per
// network namespace; an instance of the program per attached port (told its
// row of the maps at load), attached with bpf_link; a port's rule table
// replaced in one map update; counters and flows read.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "classify_rules.h"
#include "umigame/classify.h"

struct classify;

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

// An instance of the program for row `slot` of the maps pinned under
// pin_dir (created and pinned when missing), with have_module set from
// umigame.ko's presence; throws when it does not load. Free it with
// classify__destroy.
struct classify *load_classify_instance(const std::string &pin_dir, uint32_t slot);

class Classifier {
public:
	static std::string default_pin_dir(); // bpf_pin_root() + "/classify"

	explicit Classifier(std::string pin_dir);
	~Classifier();
	Classifier(const Classifier &) = delete;
	Classifier &operator=(const Classifier &) = delete;

	// Open the pinned maps; with create, create and pin them first.
	bool open(bool create);
	// Load an instance of the program for dev's row and attach it.
	std::string attach(const std::string &dev, bool allow_generic);
	// Detach and forget the port's rules (a port never attached: forget
	// its rules); unpin everything after the last port. Says what it did.
	std::string detach(const std::string &dev);
	// Resolve interface names and write each port's table (a port's rule
	// counters restart at 0). Returns one line per port.
	std::vector<std::string> load(const ClassifyRules &rules);

	std::vector<ClassifyPortState> ports() const;
	std::vector<ClassifyFlow> flows() const;

private:
	std::string link_path(uint32_t ifindex) const;
	std::string rodata_path(uint32_t ifindex) const;
	umigame_cls_port_counters sum_row(uint32_t slot) const;
	bool read_row(uint32_t slot, umigame_cls_table &t) const;
	void write_row(uint32_t slot, const umigame_cls_table &t) const;
	// Each row's owner (0: free).
	std::array<uint32_t, UMIGAME_CLS_MAX_PORTS> owners() const;
	// The row ifindex holds, or a free one given to it (its counters
	// based anew); throws when all are taken.
	uint32_t row_of(uint32_t ifindex) const;
	// Whether the program serving ifindex can call umigame.ko's kfuncs:
	// its instance's, when attached; the module's presence, when not.
	bool have_module(uint32_t ifindex) const;

	std::string pin_dir_;
	int tables_fd_ = -1, counters_fd_ = -1, flows_fd_ = -1, cpumap_fd_ = -1;
};

} // namespace umigame
