#include "umigame/dhcp6d/daemon_config.h"

#include <linux/capability.h>

#include "umigame/config.h"

namespace umigame::dhcp6d {

namespace {

DaemonConfig parse_table(const toml::table &root, const std::string &name)
{
	DaemonConfig out;
	out.file = name;
	ConfigTable top(root, name, "");
	if (auto daemon = top.table("daemon")) {
		if (auto user = daemon->string("user")) {
			RunAs run_as;
			run_as.user = user->value;
			if (auto group = daemon->string("group"))
				run_as.group = group->value;
			// Sockets on 546/547, addresses, routes and address labels
			// through rtnetlink, and the raw ICMPv6 socket of the RA sender.
			run_as.keep_capabilities = {CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW};
			out.run_as = run_as;
		} else if (daemon->has("group")) {
			daemon->fail("'group' needs 'user'");
		}
		if (auto path = daemon->string("control_socket")) {
			if (path->value.empty() || path->value[0] != '/')
				throw ConfigError(path->where, "control_socket must be an absolute path");
			out.control_socket = path->value;
		}
		if (auto dir = daemon->string("state_dir")) {
			if (dir->value.empty() || dir->value[0] != '/')
				throw ConfigError(dir->where, "state_dir must be an absolute path");
			out.state_dir = dir->value;
		}
		daemon->finish();
	}
	if (auto client = top.table("client"))
		out.client = parse_client_config(*client);
	if (auto server = top.table("server"))
		out.server = parse_server_config(*server);
	if (auto firewall = top.table("firewall")) {
		if (!out.client)
			firewall->fail("[firewall] protects the LANs of a [client]: configure one");
		out.firewall = parse_firewall_config(*firewall);
	}
	top.finish();
	if (!out.client && !out.server)
		top.fail("nothing to do: configure [client], [server] or both");
	// RFC 7084 L-9: O = 1 when our own server answers the LAN's
	// Information-requests.
	if (out.client && !out.client->ra.other_config) {
		bool serves_lan = false;
		if (out.server)
			for (const Downstream &d : out.client->downstream)
				for (const std::string &i : out.server->interfaces)
					serves_lan |= d.interface == i;
		out.client->ra.other_config = serves_lan;
	}
	return out;
}

} // namespace

DaemonConfig parse_daemon_config(std::string_view text, const std::string &name)
{
	toml::table root = parse_toml(text, name);
	return parse_table(root, name);
}

DaemonConfig load_daemon_config(const std::string &file)
{
	toml::table root = load_toml_file(file);
	return parse_table(root, file);
}

} // namespace umigame::dhcp6d
