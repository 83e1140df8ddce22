// umigame dhcp6 show|reload: talks to umigame-dhcp6d over its control socket
// (docs/dhcp6.md). The daemon answers in JSON; --json prints it as it is,
// otherwise it is laid out for people: scalars as "key: value", lists of
// records (leases, pools, interfaces) as aligned tables.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "umigame/control_socket.h"

namespace umigame::cli {

namespace {

using nlohmann::json;

constexpr const char *kDefaultSocket = "/run/umigame/dhcp6d.sock";

std::string scalar_text(const json &v)
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

bool is_table(const json &v)
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

json ask(const std::string &socket, const std::string &command)
{
	json reply = control_request(socket, json{{"cmd", command}});
	if (!reply.value("ok", false))
		throw std::runtime_error(reply.value("error", std::string("the daemon refused '" + command + "'")));
	reply.erase("ok");
	return reply;
}

} // namespace

int dhcp6(const Globals &, std::vector<std::string> args)
{
	if (args.empty())
		throw UsageError("dhcp6: show [--json] | reload  (--socket PATH)");
	const std::string sub = args.front();
	args.erase(args.begin());
	const char *env = std::getenv("UMIGAME_DHCP6D_SOCKET");
	std::string socket = env && *env ? env : kDefaultSocket;
	bool as_json = false;
	for (size_t i = 0; i < args.size(); i++) {
		if (args[i] == "--json")
			as_json = true;
		else if (args[i] == "--socket" && i + 1 < args.size())
			socket = args[++i];
		else
			throw UsageError("dhcp6 " + sub + ": unexpected '" + args[i] + "'");
	}
	if (sub == "show") {
		json state = ask(socket, "show");
		if (as_json) {
			std::printf("%s\n", state.dump(2).c_str());
			return 0;
		}
		for (const char *role : {"client", "server"}) {
			if (!state.contains(role) || state[role].is_null())
				continue;
			std::printf("%s:\n", std::string(role) == "client" ? "requesting router (client)"
									 : "delegating router (server)");
			print_object(state[role], "  ");
		}
		return 0;
	}
	if (sub == "reload") {
		json reply = ask(socket, "reload");
		if (as_json)
			std::printf("%s\n", reply.dump(2).c_str());
		else
			std::printf("reloaded %s\n", reply.value("config", std::string("the configuration")).c_str());
		return 0;
	}
	throw UsageError("dhcp6: unknown subcommand '" + sub + "' (show, reload)");
}

} // namespace umigame::cli
