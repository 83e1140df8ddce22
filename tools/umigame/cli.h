// Subcommands of the `umigame` command line.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace umigame::cli {

struct UsageError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

struct Globals {
	std::optional<std::string> pin_dir;
};

int raguard(const Globals &globals, std::vector<std::string> args);

} // namespace umigame::cli
