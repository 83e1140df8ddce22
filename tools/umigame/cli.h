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
int esp(const Globals &globals, std::vector<std::string> args);
// The SCTP/DCCP classifier: attach, detach, rules load|check, show, flows.
int classify(const Globals &globals, std::vector<std::string> args);

// Bring the pinned ESP program's SA map in step with umigame.ko's SAs; does
// nothing when the program is not loaded. `sa add|del|flush` call it.
void sync_esp_sas(const Globals &globals);
int sa(const Globals &globals, std::vector<std::string> args);

// umigame-dhcp6d's control socket: show, reload.
int dhcp6(const Globals &globals, std::vector<std::string> args);
// umigame-iked's control socket: show, sas, up, down, rekey, reload.
int ike(const Globals &globals, std::vector<std::string> args);
// umigame-mldproxy's control socket: show, reload.
int mld(const Globals &globals, std::vector<std::string> args);
// umigame.ko's ISATAP links over rtnetlink: prl, show.
int isatap(const Globals &globals, std::vector<std::string> args);
// umigame.ko's PIM Register devices over generic netlink: show, set, rp.
int pim(const Globals &globals, std::vector<std::string> args);

} // namespace umigame::cli
