#include "esp.h"

#include "umigame/sa_netlink.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdexcept>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_pins.h"
#include "esp.skel.h"

namespace fs = std::filesystem;

namespace umigame {

const std::array<const char *, UMIGAME_ESP_REASON_COUNT> esp_reason_names = {
	"decrypted",   "to_xfrm",   "unknown_spi_pass", "not_linear",   "forwarded",   "unknown_spi",
	"replay",      "auth_failed", "malformed",      "expired",      "crypto_error", "bad_trailer",
};
static_assert(UMIGAME_ESP_BAD_TRAILER == 11 && UMIGAME_ESP_REASON_COUNT == 12,
	      "keep esp_reason_names in the order of enum umigame_esp_reason");

namespace {

constexpr const char *kModuleBtf = "/sys/kernel/btf/umigame";

// The ~16 KiB map value stays off the stack.
std::unique_ptr<umigame_esp_sa_value> new_value()
{
	return std::make_unique<umigame_esp_sa_value>();
}

umigame_esp_sa_key key_of(const EspSaBinding &b)
{
	umigame_esp_sa_key k{};
	k.spi = htonl(b.spi);
	k.family = b.family;
	k.encap_port = b.encap_port;
	std::memcpy(k.daddr, b.dst.data(), 16);
	return k;
}

} // namespace

// Every entry of esp_sas, read with its lock held. Keys are collected first
// so fn may delete entries.
void Esp::for_each_sa(
	const std::function<void(const umigame_esp_sa_key &, const umigame_esp_sa_value &)> &fn) const
{
	std::vector<umigame_esp_sa_key> keys;
	umigame_esp_sa_key key{}, next{};
	const void *prev = nullptr;
	while (bpf_map_get_next_key(sas_fd_, prev, &next) == 0) {
		keys.push_back(next);
		key = next;
		prev = &key;
	}
	auto value = new_value();
	for (const auto &k : keys)
		if (bpf_map_lookup_elem_flags(sas_fd_, &k, value.get(), BPF_F_LOCK) == 0)
			fn(k, *value);
}

std::string Esp::default_pin_dir()
{
	return bpf_pin_root() + "/esp";
}

bool Esp::module_present()
{
	return access(kModuleBtf, F_OK) == 0;
}

Esp::Esp(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}

Esp::~Esp()
{
	for (int *fd : {&prog_fd_, &sas_fd_, &counters_fd_, &stats_fd_, &config_fd_, &fwd_ports_fd_})
		close_fd(*fd);
}

std::string Esp::link_path(uint32_t ifindex) const
{
	return xdp_link_pin_path(pin_dir_, ifindex);
}

bool Esp::open(bool create)
{
	require_bpffs();
	const std::string prog_path = pin_dir_ + "/prog";
	if (access(prog_path.c_str(), F_OK) != 0) {
		if (!create)
			return false;
		create_pin_dir(pin_dir_);
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir_.c_str());
		struct esp *skel = esp__open_opts(&opts);
		if (!skel)
			fail_errno("cannot open the ESP BPF object", errno);
		// Without the module's BTF the kfunc cannot resolve: the program
		// then leaves decryption to the kernel's xfrm (bpf/esp.bpf.c).
		skel->rodata->have_module = module_present();
		int err = esp__load(skel);
		if (!err)
			err = bpf_program__pin(skel->progs.umigame_esp, prog_path.c_str());
		if (!err)
			err = bpf_map__pin(skel->maps.rodata, (pin_dir_ + "/esp_rodata").c_str());
		esp__destroy(skel);
		if (err)
			fail_errno("cannot load the ESP program (see the verifier log above)", -err);
	}
	prog_fd_ = get_pinned(prog_path);
	sas_fd_ = get_pinned(pin_dir_ + "/esp_sas");
	counters_fd_ = get_pinned(pin_dir_ + "/esp_sa_counters");
	stats_fd_ = get_pinned(pin_dir_ + "/esp_stats");
	config_fd_ = get_pinned(pin_dir_ + "/esp_config");
	// Absent from a program pinned by a build before XDP forwarding.
	fwd_ports_fd_ = bpf_obj_get((pin_dir_ + "/esp_fwd_ports").c_str());
	return true;
}

std::string Esp::attach(const std::string &dev, bool allow_generic)
{
	unsigned ifindex = if_nametoindex(dev.c_str());
	if (!ifindex)
		throw std::runtime_error("no interface named '" + dev + "'");
	const std::string link = link_path(ifindex);
	if (access(link.c_str(), F_OK) == 0)
		return "already attached to " + dev;
	std::string mode;
	try {
		mode = attach_xdp_link(prog_fd_, ifindex, dev, allow_generic, link, "the ESP program");
	} catch (...) {
		unpin_all_if_unused();
		throw;
	}
	std::string what = "attached to " + dev + " (" + mode + " XDP)";
	if (!module_present())
		what += "; umigame.ko is not loaded: ESP is checked, then left to the kernel's xfrm";
	return what;
}

void Esp::detach(const std::string &dev)
{
	unsigned ifindex = if_nametoindex(dev.c_str());
	if (!ifindex && !dev.empty() && dev.find_first_not_of("0123456789") == std::string::npos)
		ifindex = unsigned(std::stoul(dev)); // a port whose interface is gone
	if (!ifindex)
		throw std::runtime_error("no interface named '" + dev + "'");
	const std::string link = link_path(ifindex);
	if (unlink(link.c_str()) != 0) {
		if (errno == ENOENT)
			throw std::runtime_error("the ESP program is not attached to " + dev);
		fail_errno("cannot remove " + link, errno);
	}
	unpin_all_if_unused();
}

std::vector<EspPort> Esp::ports() const
{
	std::vector<EspPort> out;
	std::error_code ec;
	for (const auto &entry : fs::directory_iterator(pin_dir_, ec)) {
		std::string name = entry.path().filename();
		if (name.rfind("link_", 0) != 0)
			continue;
		EspPort p;
		p.ifindex = uint32_t(std::stoul(name.substr(5)));
		char buf[IF_NAMESIZE] = {};
		if (if_indextoname(p.ifindex, buf))
			p.dev = buf;
		out.push_back(p);
	}
	std::sort(out.begin(), out.end(),
		  [](const EspPort &a, const EspPort &b) { return a.ifindex < b.ifindex; });
	return out;
}

// The program holds a reference on umigame.ko through its kfunc: once no
// port uses it, unpin everything so `rmmod umigame` works.
void Esp::unpin_all_if_unused()
{
	if (!ports().empty())
		return;
	remove_pin_dir(pin_dir_);
}

umigame_esp_config Esp::config() const
{
	uint32_t zero = 0;
	umigame_esp_config cfg{};
	if (bpf_map_lookup_elem(config_fd_, &zero, &cfg) != 0)
		fail_errno("cannot read the ESP program's settings", errno);
	return cfg;
}

void Esp::set_config(const umigame_esp_config &cfg, const char *what)
{
	uint32_t zero = 0;
	if (bpf_map_update_elem(config_fd_, &zero, &cfg, BPF_ANY) != 0)
		fail_errno(std::string("cannot set ") + what, errno);
}

void Esp::set_drop_unknown_spi(bool drop)
{
	umigame_esp_config cfg = config();
	cfg.drop_unknown_spi = drop ? 1 : 0;
	set_config(cfg, "the unknown-SPI policy");
}

std::vector<uint32_t> Esp::forward_ports() const
{
	std::vector<uint32_t> out;
	if (fwd_ports_fd_ < 0)
		return out;
	uint32_t key = 0, next = 0;
	const void *prev = nullptr;
	while (bpf_map_get_next_key(fwd_ports_fd_, prev, &next) == 0) {
		out.push_back(next);
		key = next;
		prev = &key;
	}
	std::sort(out.begin(), out.end());
	return out;
}

void Esp::set_forward_ports(const std::vector<std::string> &devs)
{
	if (fwd_ports_fd_ < 0)
		throw std::runtime_error("the ESP program pinned in " + pin_dir_ +
					 " predates XDP forwarding: detach it from every port and "
					 "attach it again");
	// Every name first: a typo changes nothing.
	std::vector<uint32_t> wanted;
	for (const auto &dev : devs) {
		unsigned ifindex = if_nametoindex(dev.c_str());
		if (!ifindex)
			throw std::runtime_error("no interface named '" + dev + "'");
		wanted.push_back(ifindex);
	}
	if (wanted.size() > UMIGAME_ESP_MAX_FWD_PORTS)
		throw std::runtime_error("at most " + std::to_string(UMIGAME_ESP_MAX_FWD_PORTS) +
					 " forwarding ports");
	// Off first, so no packet is judged against a half-changed set.
	umigame_esp_config cfg = config();
	cfg.xdp_forward = 0;
	set_config(cfg, "XDP forwarding");
	for (uint32_t ifindex : forward_ports())
		if (std::find(wanted.begin(), wanted.end(), ifindex) == wanted.end())
			bpf_map_delete_elem(fwd_ports_fd_, &ifindex);
	for (size_t i = 0; i < wanted.size(); i++) {
		uint32_t ifindex = wanted[i];
		if (bpf_map_update_elem(fwd_ports_fd_, &ifindex, &ifindex, BPF_ANY) != 0)
			fail_errno("cannot add " + devs[i] + " to the XDP forwarding ports", errno);
	}
	if (!wanted.empty()) {
		cfg.xdp_forward = 1;
		set_config(cfg, "XDP forwarding");
	}
}

void Esp::sync(const std::vector<EspSaBinding> &sas)
{
	// Drop entries whose SA is gone or changed its id.
	for_each_sa([&](const umigame_esp_sa_key &key, const umigame_esp_sa_value &value) {
		bool wanted = false;
		for (const auto &b : sas) {
			umigame_esp_sa_key k = key_of(b);
			wanted |= std::memcmp(&k, &key, sizeof(k)) == 0 && value.sa_id == b.sa_id;
		}
		if (!wanted)
			bpf_map_delete_elem(sas_fd_, &key);
	});

	for (const auto &b : sas) {
		if (b.sa_id >= UMIGAME_ESP_MAX_SAS)
			throw std::runtime_error("SA id " + std::to_string(b.sa_id) + " is beyond " +
						 std::to_string(UMIGAME_ESP_MAX_SAS - 1));
		umigame_esp_sa_key k = key_of(b);
		auto v = new_value();
		v->sa_id = b.sa_id;
		v->mode = b.mode;
		v->iv_len = b.iv_len;
		v->icv_len = b.icv_len;
		v->flags = b.flags;
		if (b.replay_window) {
			uint32_t rflags = (b.flags & UMIGAME_ESP_F_ESN) ? UMIGAME_REPLAY_F_ESN : 0;
			if (umigame_replay_init(&v->window, b.replay_window, rflags, b.replay_start))
				throw std::runtime_error("replay window " +
							 std::to_string(b.replay_window) +
							 " is not a power of two from 64 to 65536");
		}
		// BPF_NOEXIST: an SA already here keeps its window.
		if (bpf_map_update_elem(sas_fd_, &k, v.get(), BPF_NOEXIST) == 0) {
			uint32_t id = b.sa_id;
			std::vector<umigame_esp_sa_counters> zeros(libbpf_num_possible_cpus());
			bpf_map_update_elem(counters_fd_, &id, zeros.data(), BPF_ANY);
		} else if (errno != EEXIST) {
			fail_errno("cannot add SA " + std::to_string(b.sa_id) + " to the XDP program",
				   errno);
		}
	}
}

EspStats Esp::stats() const
{
	EspStats s;
	const int ncpu = libbpf_num_possible_cpus();
	std::vector<uint64_t> percpu(ncpu);
	for (uint32_t r = 0; r < UMIGAME_ESP_REASON_COUNT; r++)
		if (bpf_map_lookup_elem(stats_fd_, &r, percpu.data()) == 0)
			for (uint64_t v : percpu)
				s.reasons[r] += v;

	std::vector<umigame_esp_sa_counters> rows(ncpu);
	for_each_sa([&](const umigame_esp_sa_key &, const umigame_esp_sa_value &value) {
		EspStats::Sa sa{value.sa_id, {}, value.window.top};
		uint32_t id = value.sa_id;
		if (bpf_map_lookup_elem(counters_fd_, &id, rows.data()) == 0)
			for (const auto &c : rows) {
				sa.counters.packets += c.packets;
				sa.counters.bytes += c.bytes;
				sa.counters.replay_drops += c.replay_drops;
				sa.counters.auth_failures += c.auth_failures;
				sa.counters.errors += c.errors;
			}
		s.sas.push_back(sa);
	});
	std::sort(s.sas.begin(), s.sas.end(),
		  [](const EspStats::Sa &a, const EspStats::Sa &b) { return a.sa_id < b.sa_id; });

	// The whole .rodata section: have_module is its first (only) byte.
	s.have_module = pinned_rodata_flag(pin_dir_ + "/esp_rodata");
	s.ports = ports();
	if (config().xdp_forward)
		for (uint32_t ifindex : forward_ports()) {
			EspPort p;
			p.ifindex = ifindex;
			char buf[IF_NAMESIZE] = {};
			if (if_indextoname(ifindex, buf))
				p.dev = buf;
			s.forward_ports.push_back(p);
		}
	return s;
}

namespace {

EspSaBinding binding_of(const EspSa &sa)
{
	EspSaBinding b;
	b.sa_id = sa.id;
	b.spi = sa.spi;
	b.family = sa.family;
	b.encap_port = sa.encap_port;
	b.dst = sa.dst;
	b.mode = sa.mode;
	b.iv_len = sa.iv_len;
	b.icv_len = sa.icv_len;
	b.replay_window = sa.replay_window;
	b.flags = sa.flags;
	b.replay_start = sa.replay_start;
	return b;
}

} // namespace

void sync_from_module(Esp &esp)
{
	std::vector<EspSaBinding> bindings;
	if (Esp::module_present()) {
		SaNetlink nl;
		for (const EspSa &sa : nl.dump())
			bindings.push_back(binding_of(sa));
	}
	esp.sync(bindings);
}

bool sync_pinned_from_module()
{
	Esp esp(Esp::default_pin_dir());
	if (!esp.open(false))
		return false;
	sync_from_module(esp);
	return true;
}

} // namespace umigame
