// Logging for umigame programs: one line per message on stderr, with the
// syslog priority prefix (<N>) the journal understands when stderr is a
// journal stream, plain "level: " otherwise.
#pragma once

#include <string>

namespace umigame::log {

enum class Level { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void set_program(std::string name);
void set_max_level(Level level);
void write(Level level, const std::string &message);

inline void error(const std::string &m) { write(Level::error, m); }
inline void warning(const std::string &m) { write(Level::warning, m); }
inline void notice(const std::string &m) { write(Level::notice, m); }
inline void info(const std::string &m) { write(Level::info, m); }
inline void debug(const std::string &m) { write(Level::debug, m); }

} // namespace umigame::log
