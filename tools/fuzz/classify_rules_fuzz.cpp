// libFuzzer target: the classifier's rule parser must turn any text into
// rules or a ConfigError, never a crash, hang or sanitizer report; every
// rule it accepts must describe itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "classify_rules.h"
#include "umigame/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string_view text(reinterpret_cast<const char *>(data), size);
	try {
		auto rules = umigame::parse_classify_rules(text, "fuzz.toml");
		for (const auto &p : rules.ports)
			for (const auto &r : p.rules)
				(void)umigame::describe_rule(r.rule);
	} catch (const umigame::ConfigError &) {
	}
	return 0;
}
