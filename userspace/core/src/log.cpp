#include "umigame/log.h"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace umigame::log {

namespace {
std::string program = "umigame";
Level max_level = Level::info;

// systemd sets JOURNAL_STREAM when stderr is connected to the journal; then
// the "<N>" prefix carries the priority and the journal adds the rest.
bool stderr_is_journal()
{
	static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
	return journal;
}

const char *level_name(Level level)
{
	switch (level) {
	case Level::error: return "error";
	case Level::warning: return "warning";
	case Level::notice: return "notice";
	case Level::info: return "info";
	case Level::debug: return "debug";
	}
	return "?";
}
} // namespace

void set_program(std::string name) { program = std::move(name); }
void set_max_level(Level level) { max_level = level; }

void write(Level level, const std::string &message)
{
	if (level > max_level)
		return;
	if (stderr_is_journal())
		std::fprintf(stderr, "<%d>%s\n", static_cast<int>(level), message.c_str());
	else
		std::fprintf(stderr, "%s: %s: %s\n", program.c_str(), level_name(level),
			     message.c_str());
}

} // namespace umigame::log
