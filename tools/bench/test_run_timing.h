// What the XDP benches that time programs with BPF_PROG_TEST_RUN share:
// ns per run of a frame (the kernel times `repeat` runs), and the median
// they report over rounds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <bpf/bpf.h>
#include <linux/bpf.h>

namespace umigame::bench {

// ns per run of prog_fd on `frame` arriving on ingress_ifindex; the verdict
// of the last run in *verdict. Exits on a test-run failure: a bench that
// cannot run has nothing to report.
//
// live: BPF_F_TEST_XDP_LIVE_FRAMES, the frames then go on as the verdict
// says (XDP_PASS: an skb each, up the ingress port's stack, in batches of
// 64), and the time per run includes that; *verdict is not set then.
inline double ns_per_run(int prog_fd, const std::vector<uint8_t> &frame, uint32_t repeat, uint32_t ingress_ifindex,
			 uint32_t *verdict, bool live = false)
{
	xdp_md md{};
	md.data_end = uint32_t(frame.size());
	md.ingress_ifindex = ingress_ifindex;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = uint32_t(frame.size()),
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = int(repeat),
		    .flags = live ? BPF_F_TEST_XDP_LIVE_FRAMES : 0U, .batch_size = live ? 64U : 0U);
	if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
		std::perror("BPF_PROG_TEST_RUN");
		std::exit(1);
	}
	if (!live)
		*verdict = opts.retval;
	return double(opts.duration);
}

inline double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	size_t n = v.size();
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A bench's own directory on bpffs for its pins, removed when it ends.
struct ScratchPinDir {
	std::string path;
	explicit ScratchPinDir(const std::string &name)
		: path("/sys/fs/bpf/" + name + "-" + std::to_string(getpid()))
	{
		std::filesystem::create_directories(path);
	}
	~ScratchPinDir()
	{
		std::error_code ec;
		std::filesystem::remove_all(path, ec);
	}
	ScratchPinDir(const ScratchPinDir &) = delete;
	ScratchPinDir &operator=(const ScratchPinDir &) = delete;
};

} // namespace umigame::bench
