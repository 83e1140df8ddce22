// Replies of the daemons' control sockets, for people: see daemon_reply.h.
#include "daemon_reply.h"

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "cli.h"
#include "umigame/control_socket.h"

namespace umigame::cli {

using nlohmann::json;

DaemonArgs daemon_args(const std::string &daemon, std::vector<std::string> args, const char *env_var,
		       const char *default_socket, const std::string &usage, bool allow_names)
{
	if (args.empty())
		throw UsageError(usage);
	DaemonArgs out;
	out.sub = args.front();
	const char *env = std::getenv(env_var);
	out.socket = env && *env ? env : default_socket;
	for (size_t i = 1; i < args.size(); i++) {
		if (args[i] == "--json")
			out.json = true;
		else if (args[i] == "--socket" && i + 1 < args.size())
			out.socket = args[++i];
		else if (allow_names && !args[i].empty() && args[i][0] != '-')
			out.names.push_back(args[i]);
		else
			throw UsageError(daemon + " " + out.sub + ": unexpected '" + args[i] + "'");
	}
	return out;
}

static std::string scalar_text(const json &v)
{
	if (v.is_string())
		return v.get<std::string>();
	if (v.is_null())
		return "-";
	if (v.is_array()) {
		// A list inside a table cell: records separated by "; ".
		std::string s;
		for (const auto &e : v)
			s += (s.empty() ? "" : (e.is_object() ? "; " : ", ")) + scalar_text(e);
		return s.empty() ? "-" : s;
	}
	if (v.is_object()) {
		std::string s;
		for (const auto &[key, value] : v.items())
			if (!value.is_null())
				s += (s.empty() ? "" : " ") + key + "=" + scalar_text(value);
		return s.empty() ? "-" : s;
	}
	if (v.is_number_float()) {
		char buf[32];
		std::snprintf(buf, sizeof(buf), "%.0f", v.get<double>());
		return buf;
	}
	return v.dump();
}

static bool is_table(const json &v)
{
	return v.is_array() && !v.empty() &&
	       std::all_of(v.begin(), v.end(), [](const json &e) { return e.is_object(); });
}

void print_table(const json &rows, const std::string &indent)
{
	std::vector<std::string> columns;
	for (const auto &row : rows)
		for (const auto &[key, _] : row.items())
			if (std::find(columns.begin(), columns.end(), key) == columns.end())
				columns.push_back(key);
	std::vector<std::vector<std::string>> cells;
	std::vector<size_t> width;
	for (const auto &c : columns)
		width.push_back(c.size());
	for (const auto &row : rows) {
		std::vector<std::string> line;
		for (size_t i = 0; i < columns.size(); i++) {
			line.push_back(row.contains(columns[i]) ? scalar_text(row[columns[i]]) : "-");
			width[i] = std::max(width[i], line.back().size());
		}
		cells.push_back(std::move(line));
	}
	auto print_line = [&](const std::vector<std::string> &line) {
		std::string s = indent;
		for (size_t i = 0; i < line.size(); i++) {
			s += line[i];
			if (i + 1 < line.size())
				s += std::string(width[i] - line[i].size() + 2, ' ');
		}
		std::printf("%s\n", s.c_str());
	};
	print_line(columns);
	for (const auto &line : cells)
		print_line(line);
}

void print_object(const json &object, const std::string &indent)
{
	for (const auto &[key, value] : object.items()) {
		if (value.is_object()) {
			std::printf("%s%s:\n", indent.c_str(), key.c_str());
			print_object(value, indent + "  ");
		} else if (is_table(value)) {
			std::printf("%s%s:\n", indent.c_str(), key.c_str());
			print_table(value, indent + "  ");
		} else if (value.is_array() && value.empty()) {
			std::printf("%s%s: none\n", indent.c_str(), key.c_str());
		} else {
			std::printf("%s%s: %s\n", indent.c_str(), key.c_str(), scalar_text(value).c_str());
		}
	}
}

json ask(const std::string &socket, const json &request)
{
	std::string command = request.value("cmd", std::string());
	json reply = control_request(socket, request);
	if (!reply.value("ok", false))
		throw std::runtime_error(reply.value("error", std::string("the daemon refused '" + command + "'")));
	reply.erase("ok");
	return reply;
}


json ask(const std::string &socket, const char *command)
{
	return ask(socket, json{{"cmd", command}});
}

} // namespace umigame::cli
