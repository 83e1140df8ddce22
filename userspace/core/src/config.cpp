#include "umigame/config.h"
#include "umigame/daemon.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace umigame {

std::string SourceLocation::str() const
{
	std::string s = file.empty() ? "<config>" : file;
	if (line)
		s += ":" + std::to_string(line);
	if (column)
		s += ":" + std::to_string(column);
	return s;
}

ConfigError::ConfigError(SourceLocation where, const std::string &message)
	: std::runtime_error(where.str() + ": " + message), where_(std::move(where)),
	  message_(message)
{
}

ConfigTable::ConfigTable(const toml::table &table, std::string file, std::string path)
	: table_(table), file_(std::move(file)), path_(std::move(path))
{
}

SourceLocation ConfigTable::locate(const toml::node &node) const
{
	const auto &src = node.source();
	return SourceLocation{file_, src.begin.line, src.begin.column};
}

SourceLocation ConfigTable::where() const
{
	return locate(table_);
}

std::string ConfigTable::key_name(const std::string &key) const
{
	return path_.empty() ? key : path_ + "." + key;
}

void ConfigTable::fail(const std::string &message) const
{
	throw ConfigError(where(), message);
}

std::optional<Located<std::string>> ConfigTable::string(const std::string &key)
{
	read_.insert(key);
	const toml::node *node = table_.get(key);
	if (!node)
		return std::nullopt;
	if (!node->is_string())
		throw ConfigError(locate(*node), "'" + key_name(key) + "' must be a string");
	return Located<std::string>{**node->as_string(), locate(*node)};
}

bool ConfigTable::boolean(const std::string &key, bool fallback)
{
	read_.insert(key);
	const toml::node *node = table_.get(key);
	if (!node)
		return fallback;
	if (!node->is_boolean())
		throw ConfigError(locate(*node),
				  "'" + key_name(key) + "' must be true or false");
	return **node->as_boolean();
}

std::optional<Located<int64_t>> ConfigTable::integer(const std::string &key)
{
	read_.insert(key);
	const toml::node *node = table_.get(key);
	if (!node)
		return std::nullopt;
	if (!node->is_integer())
		throw ConfigError(locate(*node), "'" + key_name(key) + "' must be an integer");
	return Located<int64_t>{**node->as_integer(), locate(*node)};
}

std::vector<Located<std::string>> ConfigTable::string_array(const std::string &key)
{
	read_.insert(key);
	std::vector<Located<std::string>> out;
	const toml::node *node = table_.get(key);
	if (!node)
		return out;
	const toml::array *arr = node->as_array();
	if (!arr)
		throw ConfigError(locate(*node),
				  "'" + key_name(key) + "' must be an array of strings");
	for (const toml::node &elem : *arr) {
		if (!elem.is_string())
			throw ConfigError(locate(elem),
					  "'" + key_name(key) + "' must hold only strings");
		out.push_back({**elem.as_string(), locate(elem)});
	}
	return out;
}

std::optional<ConfigTable> ConfigTable::table(const std::string &key)
{
	read_.insert(key);
	const toml::node *node = table_.get(key);
	if (!node)
		return std::nullopt;
	if (!node->is_table())
		throw ConfigError(locate(*node), "'" + key_name(key) + "' must be a table");
	return ConfigTable(*node->as_table(), file_, key_name(key));
}

std::vector<ConfigTable> ConfigTable::table_array(const std::string &key)
{
	read_.insert(key);
	std::vector<ConfigTable> out;
	const toml::node *node = table_.get(key);
	if (!node)
		return out;
	const toml::array *arr = node->as_array();
	if (!arr || !arr->is_array_of_tables())
		throw ConfigError(locate(*node), "'" + key_name(key) +
							 "' must be an array of tables ([[" +
							 key_name(key) + "]])");
	for (const toml::node &elem : *arr)
		out.emplace_back(*elem.as_table(), file_, key_name(key));
	return out;
}

void ConfigTable::finish() const
{
	for (const auto &[key, node] : table_) {
		std::string name(key.str());
		if (!read_.count(name)) {
			const auto &src = key.source();
			SourceLocation at = src.begin.line ? SourceLocation{file_, src.begin.line,
									    src.begin.column}
							   : locate(node);
			throw ConfigError(at, "unknown key '" + key_name(name) + "'");
		}
	}
}

toml::table parse_toml(std::string_view text, const std::string &name)
{
	uint32_t line = 1, column = 1;
	for (unsigned char c : text) {
		// TOML 1.0: control characters other than tab (and the newline
		// pair) may appear nowhere, not even in comments or strings.
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
			char hex[8];
			std::snprintf(hex, sizeof(hex), "0x%02x", c);
			throw ConfigError(SourceLocation{name, line, column},
					  std::string("control character ") + hex +
						  " is not allowed in TOML");
		}
		if (c == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
	}
	try {
		return toml::parse(text, std::string_view(name));
	} catch (const toml::parse_error &err) {
		const auto &src = err.source();
		throw ConfigError(SourceLocation{name, src.begin.line, src.begin.column},
				  std::string(err.description()));
	}
}

toml::table load_toml_file(const std::string &file)
{
	std::ifstream in(file, std::ios::binary);
	if (!in)
		throw ConfigError(SourceLocation{file, 0, 0},
				  std::string("cannot read: ") + std::strerror(errno));
	std::stringstream buf;
	buf << in.rdbuf();
	return parse_toml(buf.str(), file);
}

void read_daemon_keys(ConfigTable &daemon, std::optional<RunAs> &run_as, std::string &control_socket,
		      std::vector<int> keep)
{
	if (auto user = daemon.string("user")) {
		RunAs r;
		r.user = user->value;
		if (auto group = daemon.string("group"))
			r.group = group->value;
		r.keep_capabilities = std::move(keep);
		run_as = r;
	} else if (daemon.has("group")) {
		daemon.fail("'group' needs 'user'");
	}
	if (auto path = daemon.string("control_socket")) {
		if (path->value.empty() || path->value[0] != '/')
			throw ConfigError(path->where, "control_socket must be an absolute path");
		control_socket = path->value;
	}
}

} // namespace umigame
