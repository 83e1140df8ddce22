// The SCTP/DCCP classifier's rule file (TOML, docs/classify.md) and its
// translation into the cls_tables entries bpf/classify.bpf.c reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "umigame/classify.h"
#include "umigame/config.h"

namespace umigame {

struct ClassifyRule {
	umigame_cls_rule rule{}; // target (an ifindex) is resolved at load time
	std::string target_dev;  // redirect: the interface's name
	SourceLocation where;
};

struct ClassifyPort {
	std::string dev;
	uint32_t flags = 0; // per-flow statistics are asked for (flows = true)
	uint32_t cpus = 0; // redirect-cpu: CPUs 0..cpus-1; 0: every possible CPU
	std::vector<ClassifyRule> rules;
	SourceLocation where;
};

struct ClassifyRules {
	std::vector<ClassifyPort> ports;
};

// Read and validate a rule file. Throws ConfigError naming file:line:column.
ClassifyRules load_classify_rules(const std::string &file);
// Same, from TOML text (tests and fuzzing); `name` is used in errors.
ClassifyRules parse_classify_rules(std::string_view text, const std::string &name);

// One line for `classify show`: "drop sctp chunk init src 10.0.0.0/8".
std::string describe_rule(const umigame_cls_rule &r);

const char *cls_action_name(uint32_t action);
extern const char *const cls_reason_names[UMIGAME_CLS_REASON_COUNT];

} // namespace umigame
