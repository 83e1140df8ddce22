// libFuzzer target: the RA guard policy parser must turn any text into a
// policy or a ConfigError, never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "raguard_policy.h"
#include "umigame/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::string_view text(reinterpret_cast<const char *>(data), size);
	try {
		umigame::parse_raguard_policy(text, "fuzz.toml");
	} catch (const umigame::ConfigError &) {
	}
	return 0;
}
