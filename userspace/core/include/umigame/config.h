// Config loading for every umigame program: TOML files, and errors that name
// file:line:column. A ConfigTable records which keys were read, so finish()
// can refuse keys nobody understood instead of silently ignoring a typo.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace umigame {

struct SourceLocation {
	std::string file;
	uint32_t line = 0;
	uint32_t column = 0;

	std::string str() const;
};

class ConfigError : public std::runtime_error {
public:
	ConfigError(SourceLocation where, const std::string &message);
	const SourceLocation &where() const { return where_; }
	const std::string &message() const { return message_; }

private:
	SourceLocation where_;
	std::string message_;
};

template <typename T> struct Located {
	T value;
	SourceLocation where;
};

class ConfigTable {
public:
	ConfigTable(const toml::table &table, std::string file, std::string path);

	// Each getter throws ConfigError (at the value) when the key holds the
	// wrong type; an absent key gives std::nullopt / the fallback.
	std::optional<Located<std::string>> string(const std::string &key);
	bool boolean(const std::string &key, bool fallback);
	std::optional<Located<int64_t>> integer(const std::string &key);
	std::vector<Located<std::string>> string_array(const std::string &key);
	bool has(const std::string &key) const { return table_.contains(key); }
	std::optional<ConfigTable> table(const std::string &key);
	std::vector<ConfigTable> table_array(const std::string &key);

	// Convert a string value, turning a parse failure into an error there.
	template <typename T, typename Parse>
	T convert(const Located<std::string> &v, Parse parse, const std::string &what) const
	{
		auto out = parse(v.value);
		if (!out)
			throw ConfigError(v.where, "invalid " + what + " '" + v.value + "'");
		return *out;
	}

	[[noreturn]] void fail(const std::string &message) const;
	SourceLocation where() const;
	const std::string &path() const { return path_; }

	// Refuse every key that no getter asked for.
	void finish() const;

private:
	SourceLocation locate(const toml::node &node) const;
	std::string key_name(const std::string &key) const;

	const toml::table &table_;
	std::string file_;
	std::string path_;
	std::set<std::string> read_;
};

// Parse TOML text; syntax errors become ConfigError with name:line:column.
// Control characters TOML forbids (NUL and friends) are refused before
// toml++ sees them: its 3.3 parser asserts on some of them.
// The returned table must outlive every ConfigTable made from it.
toml::table parse_toml(std::string_view text, const std::string &name);

// Read a file and parse_toml() it.
toml::table load_toml_file(const std::string &file);

struct RunAs; // umigame/daemon.h

// The [daemon] keys every daemon's configuration shares: `user` and
// `group` (into run_as, keeping `keep`; `group` alone is refused) and
// `control_socket` (an absolute path). Errors name file:line:column.
void read_daemon_keys(ConfigTable &daemon, std::optional<RunAs> &run_as, std::string &control_socket,
		      std::vector<int> keep);

} // namespace umigame
