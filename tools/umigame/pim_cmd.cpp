// `umigame pim …`: umigame.ko's PIM Register devices (docs/pim-register.md).
// Arguments in pim_args.cpp, the netlink work in libumigame-ipsec's
// pim_netlink.cpp; here only what gets printed.
#include <cinttypes>
#include <cstdio>
#include <net/if.h>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "pim_args.h"
#include "umigame/pim_netlink.h"

namespace umigame::cli {

namespace {

using json = nlohmann::json;

std::string addr(const Ipv6Bytes &b)
{
	Ipv6Address a;
	a.bytes = b;
	return a.str();
}

uint32_t ifindex_of(const std::string &dev)
{
	unsigned i = if_nametoindex(dev.c_str());
	if (!i)
		throw std::runtime_error("no interface named '" + dev + "'");
	return i;
}

json device_json(const PimDevice &d)
{
	json ranges = json::array();
	for (const auto &r : d.ranges)
		ranges.push_back({{"group", addr(r.group) + "/" + std::to_string(r.prefix_len)}, {"rp", addr(r.rp)}});
	return {{"dev", d.name},
		{"ifindex", d.ifindex},
		{"source", d.source == Ipv6Bytes{} ? json(nullptr) : json(addr(d.source))},
		{"rate", d.rate},
		{"border", (d.flags & UMIGAME_PIM_F_BORDER) != 0},
		{"ranges", ranges},
		{"counters",
		 {{"registers", d.registers},
		  {"null_registers", d.null_registers},
		  {"bytes", d.bytes},
		  {"drop_no_rp", d.drop_no_rp},
		  {"drop_rate", d.drop_rate},
		  {"drop_too_big", d.drop_too_big},
		  {"drop_no_route", d.drop_no_route},
		  {"drop_bad", d.drop_bad}}}};
}

void print_device(const PimDevice &d)
{
	std::printf("%s (ifindex %" PRIu32 "): source %s, rate %s, border %s\n", d.name.c_str(), d.ifindex,
		    d.source == Ipv6Bytes{} ? "from the route" : addr(d.source).c_str(),
		    d.rate ? (std::to_string(d.rate) + "/s").c_str() : "unlimited",
		    (d.flags & UMIGAME_PIM_F_BORDER) ? "on" : "off");
	for (const auto &r : d.ranges)
		std::printf("  %s/%u -> RP %s\n", addr(r.group).c_str(), r.prefix_len, addr(r.rp).c_str());
	if (d.ranges.empty())
		std::printf("  no group ranges: every packet is dropped (drop_no_rp)\n");
	std::printf("  sent %" PRIu64 " Registers, %" PRIu64 " Null-Registers, %" PRIu64 " bytes\n", d.registers,
		    d.null_registers, d.bytes);
	std::printf("  dropped: no RP %" PRIu64 ", rate %" PRIu64 ", too big %" PRIu64 ", no route %" PRIu64
		    ", bad %" PRIu64 "\n",
		    d.drop_no_rp, d.drop_rate, d.drop_too_big, d.drop_no_route, d.drop_bad);
}

} // namespace

int pim(const Globals &, std::vector<std::string> args)
{
	PimCommand c = parse_pim_args(args);
	PimNetlink nl;
	switch (c.action) {
	case PimCommand::Action::Set: {
		std::optional<Ipv6Bytes> source;
		if (c.source)
			source = c.source->bytes;
		std::optional<uint32_t> flags;
		const uint32_t ifindex = ifindex_of(c.dev);
		if (c.border) {
			uint32_t now = nl.get(ifindex).flags;
			flags = *c.border ? now | UMIGAME_PIM_F_BORDER : now & ~UMIGAME_PIM_F_BORDER;
		}
		nl.set(ifindex, source, c.rate, flags);
		return 0;
	}
	case PimCommand::Action::RpAdd:
		nl.rp_add(ifindex_of(c.dev), c.range->address.bytes, c.range->length, c.rp->bytes);
		return 0;
	case PimCommand::Action::RpDel:
		nl.rp_del(ifindex_of(c.dev), c.range->address.bytes, c.range->length);
		return 0;
	case PimCommand::Action::Show: {
		std::vector<PimDevice> devs;
		if (!c.dev.empty())
			devs.push_back(nl.get(ifindex_of(c.dev)));
		else
			devs = nl.dump();
		if (c.json) {
			json j = json::array();
			for (const auto &d : devs)
				j.push_back(device_json(d));
			std::printf("%s\n", j.dump(2).c_str());
		} else if (devs.empty()) {
			std::printf("no " UMIGAME_PIM_KIND " devices (ip link add NAME type " UMIGAME_PIM_KIND ")\n");
		} else {
			for (const auto &d : devs)
				print_device(d);
		}
		return 0;
	}
	}
	return 0;
}

} // namespace umigame::cli
