// umigame isatap prl|show: the Potential Router List of a umigame-isatap
// link (docs/isatap.md), which iproute2 cannot set (it sends no
// IFLA_INFO_DATA for a kind it does not know).
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "isatap_link.h"
#include "umigame/isatap.h"

namespace umigame::cli {

namespace {

Link link_of(Rtnetlink &rt, const std::string &dev)
{
	auto link = rt.link(dev);
	if (!link)
		throw std::runtime_error("isatap: no link " + dev);
	return *link;
}

void print_link(const std::string &dev, const IsatapLink &link, bool as_json)
{
	if (as_json) {
		nlohmann::json prl = nlohmann::json::array();
		for (const auto &r : link.prl)
			prl.push_back({{"addr", r.address},
				       {"lifetime", r.lifetime},
				       {"state", r.state},
				       {"router_lifetime", r.router_lifetime},
				       {"rs_sent", r.rs_sent},
				       {"ra_received", r.ra_received}});
		std::printf("%s\n", nlohmann::json{{"dev", dev}, {"local", link.local}, {"prl", prl}}.dump().c_str());
		return;
	}
	std::printf("%s: local %s\n", dev.c_str(), link.local.c_str());
	for (const auto &r : link.prl)
		std::printf("  router %s %s lifetime %s router-lifetime %us rs %u ra %u\n", r.address.c_str(),
			    r.state.c_str(), r.lifetime ? (std::to_string(r.lifetime) + "s").c_str() : "forever",
			    r.router_lifetime, r.rs_sent, r.ra_received);
	if (link.prl.empty())
		std::printf("  prl empty\n");
}

} // namespace

int isatap(const Globals &, std::vector<std::string> args)
{
	const char *usage = "isatap: prl DEV [A.B.C.D [lifetime SECS] ...] | show DEV [--json]";
	if (args.size() < 2)
		throw UsageError(usage);
	const std::string sub = args[0], dev = args[1];
	Rtnetlink rt;
	if (sub == "prl") {
		auto prl = parse_prl_args({args.begin() + 2, args.end()});
		auto m = isatap_prl_request(link_of(rt, dev).index, prl);
		rt.socket().request(m, "setting " + dev + "'s potential router list");
		return 0;
	}
	if (sub == "show" && (args.size() == 2 || (args.size() == 3 && args[2] == "--json"))) {
		auto link = isatap_of(link_of(rt, dev));
		if (!link)
			throw std::runtime_error("isatap: " + dev + " is not a " UMIGAME_ISATAP_KIND " link");
		print_link(dev, *link, args.size() == 3);
		return 0;
	}
	throw UsageError(usage);
}

} // namespace umigame::cli
