#include "umigame/config.h"

#include <gtest/gtest.h>

using namespace umigame;

namespace {
toml::table parse(std::string_view text)
{
	return toml::parse(text, std::string_view("test.toml"));
}

std::string error_of(const std::function<void()> &fn)
{
	try {
		fn();
	} catch (const ConfigError &e) {
		return e.what();
	}
	return "";
}
} // namespace

TEST(ConfigTable, UnknownKeyNamesFileAndLine)
{
	auto doc = parse("[a]\nknown = true\n\ntypo = 1\n");
	ConfigTable root(doc, "test.toml", "");
	auto a = root.table("a");
	ASSERT_TRUE(a);
	EXPECT_TRUE(a->boolean("known", false));
	EXPECT_EQ(error_of([&] { a->finish(); }), "test.toml:4:1: unknown key 'a.typo'");
}

TEST(ConfigTable, WrongTypeNamesValue)
{
	auto doc = parse("flag = \"yes\"\nlist = [\"a\", 2]\n");
	ConfigTable root(doc, "test.toml", "");
	EXPECT_EQ(error_of([&] { root.boolean("flag", false); }),
		  "test.toml:1:8: 'flag' must be true or false");
	EXPECT_EQ(error_of([&] { root.string_array("list"); }),
		  "test.toml:2:14: 'list' must hold only strings");
}

TEST(ConfigTable, ConvertReportsBadValue)
{
	auto doc = parse("addr = \"fe80::zz\"\n");
	ConfigTable root(doc, "test.toml", "");
	auto v = root.string("addr");
	ASSERT_TRUE(v);
	EXPECT_EQ(error_of([&] {
			  root.convert<int>(*v, [](const std::string &) { return std::optional<int>(); },
					    "address");
		  }),
		  "test.toml:1:8: invalid address 'fe80::zz'");
}

TEST(LoadTomlFile, SyntaxErrorHasLine)
{
	std::string path = ::testing::TempDir() + "/bad.toml";
	FILE *f = std::fopen(path.c_str(), "w");
	ASSERT_TRUE(f);
	std::fputs("[ok]\nx = 1\ny = = 2\n", f);
	std::fclose(f);
	auto msg = error_of([&] { load_toml_file(path); });
	EXPECT_NE(msg.find(path + ":3:"), std::string::npos) << msg;
}

TEST(LoadTomlFile, MissingFile)
{
	auto msg = error_of([] { load_toml_file("/nonexistent/umigame.toml"); });
	EXPECT_NE(msg.find("/nonexistent/umigame.toml"), std::string::npos) << msg;
}

TEST(ParseToml, RefusesControlCharacters)
{
	// Found by the policy fuzzer: toml++ 3.3 asserts on a NUL in a header.
	using namespace std::string_literals;
	const std::string text = "[ok]\nx = 1\n[\0\0]\n"s;
	EXPECT_EQ(error_of([&] { parse_toml(text, "t.toml"); }),
		  "t.toml:3:2: control character 0x00 is not allowed in TOML");
	EXPECT_NO_THROW(parse_toml("a = \"tab\there\"\r\n", "t.toml"));
}
