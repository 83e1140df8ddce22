// `umigame sa …`: the ESP SAs in umigame.ko. Arguments in sa_args.cpp, the
// netlink work in sa_netlink.cpp; here only what gets printed. Nothing here
// can print a key: EspSa, what SA_GET reports, has none.
#include <cinttypes>
#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "sa_args.h"
#include "umigame/sa_netlink.h"

namespace umigame::cli {

namespace {

using json = nlohmann::json;

std::string hex32(uint32_t v)
{
	char buf[16];
	std::snprintf(buf, sizeof(buf), "0x%08" PRIx32, v);
	return buf;
}

json sa_json(const EspSa &sa)
{
	json j = {
		{"id", sa.id},
		{"spi", sa.spi},
		{"spi_hex", hex32(sa.spi)},
		{"family", sa_family_name(sa.family)},
		{"src", address_str(sa.family, sa.src)},
		{"dst", address_str(sa.family, sa.dst)},
		{"mode", sa_mode_name(sa.mode)},
		{"encap_port", sa.encap_port},
		{"suite", sa_suite_name(sa.suite)},
		{"key_bits", sa.key_bits},
		{"icv_bits", sa.icv_len * 8},
		{"iv_len", sa.iv_len},
		{"replay_window", sa.replay_window},
		{"replay_start", sa.replay_start},
		{"flags", (sa.flags & UMIGAME_ESP_F_ESN) ? json::array({"esn"}) : json::array()},
		{"limits", {{"byte_hard", sa.life_bytes}, {"packet_hard", sa.life_packets}}},
		{"counters",
		 {{"bytes", sa.used_bytes},
		  {"packets", sa.used_packets},
		  {"auth_failures", sa.auth_failures},
		  {"replay_drops", sa.replay_drops}}},
		{"expired", sa.expired},
		{"crypto", {{"driver", sa.crypto_driver}, {"simd_driver", sa.crypto_simd_driver}}},
	};
	if (sa.suite == UMIGAME_ESP_SUITE_AES_GCM) {
		j["aead"] = "rfc4106(gcm(aes))";
	} else if (sa.suite == UMIGAME_ESP_SUITE_AES_CBC_SHA256) {
		j["enc"] = "cbc(aes)";
		j["auth"] = "hmac(sha256)";
	}
	return j;
}

std::string limit_str(uint64_t v)
{
	return v ? std::to_string(v) : "unlimited";
}

void print_sa(const EspSa &sa)
{
	std::printf("sa %" PRIu32 ": spi %s %s %s -> %s mode %s", sa.id, hex32(sa.spi).c_str(),
		    sa_family_name(sa.family), address_str(sa.family, sa.src).c_str(),
		    address_str(sa.family, sa.dst).c_str(), sa_mode_name(sa.mode));
	if (sa.encap_port)
		std::printf(" encap-port %u", sa.encap_port);
	std::printf("%s\n", sa.expired ? " EXPIRED" : "");
	if (sa.suite == UMIGAME_ESP_SUITE_AES_GCM)
		std::printf("  aead rfc4106(gcm(aes)), %u-bit key, %u-bit ICV\n", sa.key_bits,
			    sa.icv_len * 8);
	else if (sa.suite == UMIGAME_ESP_SUITE_AES_CBC_SHA256)
		std::printf("  enc cbc(aes), %u-bit key; auth hmac(sha256), %u-bit ICV\n",
			    sa.key_bits, sa.icv_len * 8);
	else
		std::printf("  suite %u\n", sa.suite);
	if (!sa.crypto_simd_driver.empty())
		std::printf("  crypto %s, %s when the FPU is busy\n", sa.crypto_simd_driver.c_str(),
			    sa.crypto_driver.c_str());
	else if (!sa.crypto_driver.empty())
		std::printf("  crypto %s\n", sa.crypto_driver.c_str());
	std::printf("  replay-window %" PRIu32 "%s", sa.replay_window,
		    (sa.flags & UMIGAME_ESP_F_ESN) ? ", flag esn" : "");
	if (sa.replay_start)
		std::printf(", starting after %" PRIu64, sa.replay_start);
	std::printf("\n  limit byte-hard %s packet-hard %s\n", limit_str(sa.life_bytes).c_str(),
		    limit_str(sa.life_packets).c_str());
	std::printf("  used %" PRIu64 " bytes, %" PRIu64 " packets; %" PRIu64
		    " auth failures, %" PRIu64 " replay drops\n",
		    sa.used_bytes, sa.used_packets, sa.auth_failures, sa.replay_drops);
}

// The XDP program finds SAs through its own map: keep it in step with the
// module (nothing to do when the program is not loaded).
void sync_after(const Globals &g, const std::string &done)
{
	try {
		sync_esp_sas(g);
	} catch (const std::exception &e) {
		throw std::runtime_error(done + ", but the ESP program's SA map was not updated: " +
					 e.what());
	}
}

} // namespace

int sa(const Globals &g, std::vector<std::string> args)
{
	SaCommand c = parse_sa_args(args);
	SaNetlink nl;
	switch (c.action) {
	case SaCommand::Action::Add: {
		uint32_t id = nl.add(c.params);
		sync_after(g, "SA " + std::to_string(id) + " added");
		if (c.json)
			std::printf("%s\n", json{{"id", id}}.dump().c_str());
		else
			std::printf("%" PRIu32 "\n", id);
		return 0;
	}
	case SaCommand::Action::Del:
		nl.del(*c.id);
		sync_after(g, "SA " + std::to_string(*c.id) + " deleted");
		return 0;
	case SaCommand::Action::Flush:
		nl.flush();
		sync_after(g, "SAs flushed");
		return 0;
	case SaCommand::Action::Show: {
		std::vector<EspSa> sas;
		if (c.id)
			sas.push_back(nl.get(*c.id));
		else
			sas = nl.dump();
		if (c.json) {
			json j = {{"sas", json::array()}};
			for (const auto &sa : sas)
				j["sas"].push_back(sa_json(sa));
			std::printf("%s\n", j.dump(2).c_str());
			return 0;
		}
		if (sas.empty())
			std::printf("no SAs\n");
		for (const auto &sa : sas)
			print_sa(sa);
		return 0;
	}
	}
	return 0;
}

} // namespace umigame::cli
