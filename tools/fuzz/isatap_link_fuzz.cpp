// libFuzzer target: reading a umigame-isatap link's RTM_NEWLINK answer
// (core's parse_link_message, then tools/umigame/isatap_link.cpp) must turn
// any buffer into a link, "not ours" or a runtime_error, never a crash, hang or sanitizer report; the
// PRL arguments, split from the same bytes, a link or a UsageError.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "isatap_link.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// Core's parser wants a 4-byte aligned message.
	std::vector<uint32_t> aligned((size + 3) / 4);
	if (size)
		std::memcpy(aligned.data(), data, size);
	try {
		(void)umigame::cli::isatap_of(
			umigame::parse_link_message({reinterpret_cast<const uint8_t *>(aligned.data()), size}));
	} catch (const std::runtime_error &) {
	}
	std::vector<std::string> args;
	std::string word;
	for (size_t i = 0; i < size && i < 512; i++) {
		if (data[i] == ' ') {
			args.push_back(word);
			word.clear();
		} else {
			word += char(data[i]);
		}
	}
	args.push_back(word);
	try {
		(void)umigame::cli::parse_prl_args(args);
	} catch (const umigame::cli::UsageError &) {
	}
	return 0;
}
