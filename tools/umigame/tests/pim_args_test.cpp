// `umigame pim` arguments: what each form sets, and the refusals.
#include <gtest/gtest.h>

#include "cli.h"
#include "pim_args.h"

using namespace umigame;
using namespace umigame::cli;

namespace {

TEST(PimArgs, Forms)
{
	auto c = parse_pim_args({"show", "--json"});
	EXPECT_EQ(c.action, PimCommand::Action::Show);
	EXPECT_TRUE(c.dev.empty());
	EXPECT_TRUE(c.json);

	c = parse_pim_args({"set", "preg0", "source", "2001:db8::1", "rate", "50", "border", "on"});
	EXPECT_EQ(c.action, PimCommand::Action::Set);
	EXPECT_EQ(c.dev, "preg0");
	EXPECT_EQ(c.source->str(), "2001:db8::1");
	EXPECT_EQ(*c.rate, 50u);
	EXPECT_TRUE(*c.border);

	c = parse_pim_args({"set", "preg0", "source", "::"}); // back to the route's choice
	EXPECT_EQ(*c.source, Ipv6Address{});

	c = parse_pim_args({"rp", "add", "preg0", "ff0e::/16", "2001:db8::2"});
	EXPECT_EQ(c.action, PimCommand::Action::RpAdd);
	EXPECT_EQ(c.range->str(), "ff0e::/16");
	EXPECT_EQ(c.rp->str(), "2001:db8::2");

	c = parse_pim_args({"rp", "del", "preg0", "ff05::77/128"});
	EXPECT_EQ(c.action, PimCommand::Action::RpDel);
	EXPECT_EQ(c.range->length, 128);
}

TEST(PimArgs, Refusals)
{
	const std::vector<std::vector<std::string>> bad = {
		{},
		{"frobnicate"},
		{"set", "preg0"},                             // nothing to set
		{"set", "preg0", "rate"},                     // no value
		{"set", "preg0", "rate", "-1"},
		{"set", "preg0", "rate", "10x"},
		{"set", "preg0", "border", "maybe"},
		{"set", "preg0", "source", "ff02::1"},        // multicast
		{"set", "preg0", "source", "fe80::1"},        // link-local
		{"set", "preg0", "colour", "red"},
		{"rp", "add", "preg0", "2001:db8::/32", "2001:db8::2"}, // not a group range
		{"rp", "add", "preg0", "ff0e::1/16", "2001:db8::2"},    // host bits
		{"rp", "add", "preg0", "ff00::/4", "2001:db8::2"},      // shorter than ff00::/8
		{"rp", "add", "preg0", "ff0e::/16", "::"},
		{"rp", "add", "preg0", "ff0e::/16"},
		{"rp", "del", "preg0", "ff0e::/16", "2001:db8::2"},
		{"rp", "move", "preg0", "ff0e::/16"},
	};
	for (const auto &args : bad)
		EXPECT_THROW(parse_pim_args(args), UsageError) << (args.empty() ? "(none)" : args[0]);
}

} // namespace
