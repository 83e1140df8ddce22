// umigame-dhcp6d: DHCPv6 prefix delegation, requesting router and/or
// delegating router (docs/dhcp6.md). This file only wires the pieces: the
// configuration, the two roles, the control socket, signals and systemd.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "umigame/control_socket.h"
#include "umigame/daemon.h"
#include "umigame/dhcp6d/daemon_config.h"
#include "umigame/log.h"

using namespace umigame;
using namespace umigame::dhcp6d;

namespace {

constexpr const char *kDefaultConfig = "/etc/umigame/dhcp6d.toml";

// The state directory belongs to the user we run as: the lease journal is
// compacted by writing a new file there and renaming it.
void prepare_state_dir(const DaemonConfig &config)
{
	if (::mkdir(config.state_dir.c_str(), 0700) != 0 && errno != EEXIST)
		throw std::runtime_error("cannot create " + config.state_dir + ": " + std::strerror(errno));
	if (!config.run_as)
		return;
	const passwd *pw = ::getpwnam(config.run_as->user.c_str());
	if (!pw)
		return; // drop_privileges() reports the unknown user
	gid_t gid = pw->pw_gid;
	if (!config.run_as->group.empty())
		if (const group *gr = ::getgrnam(config.run_as->group.c_str()))
			gid = gr->gr_gid;
	if (::chown(config.state_dir.c_str(), pw->pw_uid, gid) != 0)
		throw std::runtime_error("cannot chown " + config.state_dir + ": " + std::strerror(errno));
}

class Daemon {
public:
	explicit Daemon(DaemonConfig config) : config_(std::move(config)) {}

	int run()
	{
		prepare_state_dir(config_);
		start_roles(config_);
		ControlServerOptions options;
		options.path = config_.control_socket;
		options.mode = 0660;
		control_ = std::make_unique<ControlServer>(loop_, options);
		control_->add_command("show", [this](const nlohmann::json &, const ControlPeer &) {
			return show();
		});
		control_->add_command("reload", [this](const nlohmann::json &, const ControlPeer &) {
			if (!reload())
				throw ControlError(last_reload_error_);
			return nlohmann::json{{"config", config_.file}};
		});
		if (config_.run_as)
			drop_privileges(*config_.run_as);

		auto term = [this] { stop(); };
		SignalWatch sigterm = loop_.on_signal(SIGTERM, term);
		SignalWatch sigint = loop_.on_signal(SIGINT, term);
		SignalWatch sighup = loop_.on_signal(SIGHUP, [this] { reload(); });
		Timer watchdog = service::keep_watchdog_fed(loop_);

		log::notice("started: " + roles() + ", control socket " + config_.control_socket);
		service::notify_ready(roles());
		loop_.run();
		client_.reset();
		server_.reset();
		log::notice("stopped");
		return 0;
	}

private:
	std::string roles() const
	{
		std::string r;
		if (client_)
			r = "requesting router";
		if (server_)
			r += std::string(r.empty() ? "" : " and ") + "delegating router";
		return r;
	}

	void start_roles(const DaemonConfig &config)
	{
		if (config.server)
			server_ = std::make_unique<Server>(loop_, rtnl_, *config.server, config.state_dir);
		if (config.client)
			client_ = std::make_unique<Client>(loop_, rtnl_, *config.client, config.firewall, config.state_dir);
		connect_roles();
	}

	// Both roles in one daemon: the delegating router passes on what the
	// requesting router learned upstream (RFC 8910 captive portal).
	void connect_roles()
	{
		if (!client_) {
			if (server_)
				server_->set_upstream_captive_portal(std::nullopt);
			return;
		}
		client_->on_captive_portal([this](const std::optional<std::string> &uri) {
			if (server_)
				server_->set_upstream_captive_portal(uri);
		});
	}

	nlohmann::json show() const
	{
		nlohmann::json out;
		out["config"] = config_.file;
		out["client"] = client_ ? client_->status() : nlohmann::json(nullptr);
		out["server"] = server_ ? server_->status() : nlohmann::json(nullptr);
		return out;
	}

	// A bad file is refused whole and the running configuration stays.
	bool reload()
	{
		service::notify_reloading("reloading " + config_.file);
		bool ok = false;
		try {
			DaemonConfig next = load_daemon_config(config_.file);
			if (next.control_socket != config_.control_socket || next.state_dir != config_.state_dir ||
			    (next.run_as.has_value() != config_.run_as.has_value()) ||
			    (next.run_as && next.run_as->user != config_.run_as->user))
				log::warning("reload: [daemon] changes take effect at the next start");
			if (next.server && server_)
				server_->reconfigure(*next.server);
			else if (next.server)
				server_ = std::make_unique<Server>(loop_, rtnl_, *next.server, config_.state_dir);
			else
				server_.reset();
			if (next.client && client_) {
				client_->reconfigure(*next.client, next.firewall);
			} else if (next.client) {
				client_ = std::make_unique<Client>(loop_, rtnl_, *next.client, next.firewall, config_.state_dir);
			} else if (client_) {
				auto *leaving = client_.release();
				leaving->shutdown([this, leaving] {
					// Destroyed from the loop, outside its own callback.
					cleanup_ = loop_.after(std::chrono::milliseconds(0), [leaving] { delete leaving; });
				});
			}
			connect_roles();
			next.control_socket = config_.control_socket;
			next.state_dir = config_.state_dir;
			next.run_as = config_.run_as;
			config_ = std::move(next);
			log::notice("reloaded " + config_.file);
			ok = true;
		} catch (const std::exception &e) {
			last_reload_error_ = std::string("reload refused, configuration kept: ") + e.what();
			log::error(last_reload_error_);
		}
		service::notify_ready(roles());
		return ok;
	}

	void stop()
	{
		if (stopping_)
			return;
		stopping_ = true;
		service::notify_stopping("releasing leases");
		if (!client_) {
			loop_.stop();
			return;
		}
		client_->shutdown([this] { loop_.stop(); });
		// Release is bounded by its own retransmission limits; this is the
		// last resort should something upstream hang.
		stop_deadline_ = loop_.after(std::chrono::seconds(30), [this] {
			log::warning("shutdown took too long; stopping without waiting");
			loop_.stop();
		});
	}

	DaemonConfig config_;
	EventLoop loop_;
	Rtnetlink rtnl_;
	std::unique_ptr<Server> server_;
	std::unique_ptr<Client> client_;
	std::unique_ptr<ControlServer> control_;
	Timer cleanup_, stop_deadline_;
	std::string last_reload_error_;
	bool stopping_ = false;
};

} // namespace

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, "umigame-dhcp6d", kDefaultConfig, load_daemon_config,
			   [](DaemonConfig config) { return Daemon(std::move(config)).run(); });
}
