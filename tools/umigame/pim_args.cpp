// `umigame pim …` arguments; see pim_args.h.
#include "pim_args.h"

#include <charconv>

#include "cli.h"

namespace umigame::cli {

namespace {

const char *kUsage = "pim show [DEV] [--json] | pim set DEV [source ADDR] [rate N] [border on|off] | "
		     "pim rp add DEV GROUP/LEN RP | pim rp del DEV GROUP/LEN";

Ipv6Address unicast(const std::string &what, const std::string &text, bool any_ok)
{
	auto a = Ipv6Address::parse(text);
	if (!a)
		throw UsageError(what + " '" + text + "' is not an IPv6 address");
	if (a->is_multicast() || a->is_link_local() || (!any_ok && *a == Ipv6Address{}))
		throw UsageError(what + " '" + text + "' must be a global unicast address");
	return *a;
}

Ipv6Prefix group_range(const std::string &text)
{
	auto p = Ipv6Prefix::parse(text);
	if (!p)
		throw UsageError("group range '" + text + "' is not GROUP/LEN (host bits zero)");
	if (p->length < 8 || !p->address.is_multicast())
		throw UsageError("group range '" + text + "' must lie within ff00::/8 (length 8 to 128)");
	return *p;
}

} // namespace

PimCommand parse_pim_args(const std::vector<std::string> &in)
{
	std::vector<std::string> args;
	PimCommand c;
	for (const auto &a : in) {
		if (a == "--json")
			c.json = true;
		else
			args.push_back(a);
	}
	if (args.empty())
		throw UsageError(std::string("pim needs a subcommand: ") + kUsage);
	const std::string sub = args[0];
	if (sub == "show") {
		if (args.size() > 2)
			throw UsageError(std::string("usage: ") + kUsage);
		if (args.size() == 2)
			c.dev = args[1];
		return c;
	}
	if (sub == "set") {
		c.action = PimCommand::Action::Set;
		if (args.size() < 2)
			throw UsageError("pim set needs a DEV");
		c.dev = args[1];
		for (size_t i = 2; i < args.size(); i += 2) {
			if (i + 1 >= args.size())
				throw UsageError("'" + args[i] + "' needs a value");
			const std::string &key = args[i], &value = args[i + 1];
			if (key == "source") {
				c.source = unicast("source", value, true);
			} else if (key == "rate") {
				uint32_t n = 0;
				auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
				if (ec != std::errc() || end != value.data() + value.size() || n > 10000000)
					throw UsageError("rate '" + value + "' must be Registers per second, 0 to "
											   "10000000 (0: no limit)");
				c.rate = n;
			} else if (key == "border") {
				if (value != "on" && value != "off")
					throw UsageError("border must be on or off, not '" + value + "'");
				c.border = value == "on";
			} else {
				throw UsageError("unknown pim set key '" + key + "' (source, rate, border)");
			}
		}
		if (!c.source && !c.rate && !c.border)
			throw UsageError("pim set " + c.dev + ": nothing to set (source, rate, border)");
		return c;
	}
	if (sub == "rp") {
		if (args.size() < 2 || (args[1] != "add" && args[1] != "del"))
			throw UsageError("pim rp needs add or del");
		const bool add = args[1] == "add";
		if (args.size() != (add ? 5u : 4u))
			throw UsageError(add ? "usage: pim rp add DEV GROUP/LEN RP" : "usage: pim rp del DEV GROUP/LEN");
		c.action = add ? PimCommand::Action::RpAdd : PimCommand::Action::RpDel;
		c.dev = args[2];
		c.range = group_range(args[3]);
		if (add)
			c.rp = unicast("RP", args[4], false);
		return c;
	}
	throw UsageError("unknown pim subcommand '" + sub + "' (" + kUsage + ")");
}

} // namespace umigame::cli
