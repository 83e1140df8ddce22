// Run a pinned XDP program over frames with BPF_PROG_TEST_RUN, many per
// process (each exec costs a lot in the TCG guest):
//
//   xdp_run_frames PROG OUTDIR FILE...      one run per file, in order;
//       prints "NAME RETVAL" and writes OUTDIR/NAME.got (the buffer after
//       the run) for every frame the program passed
//   xdp_run_frames PROG --truncate FILE     every proper prefix of FILE from
//       14 bytes (the kernel refuses shorter test-run input);
//       prints "LEN RETVAL same|changed" (changed: the program passed a
//       buffer that differs from its input)
//
// Exit status 0 unless a run itself failed (an error, not a verdict).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <linux/bpf.h>

namespace {

using Bytes = std::vector<unsigned char>;

Bytes read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	return Bytes(std::istreambuf_iterator<char>(in), {});
}

bool run(int fd, const Bytes &in, Bytes &out, unsigned &retval)
{
	out.assign(in.size() + 512, 0);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
		    .data_size_in = unsigned(in.size()), .data_size_out = unsigned(out.size()),
		    .repeat = 1);
	if (bpf_prog_test_run_opts(fd, &opts) != 0) {
		std::fprintf(stderr, "BPF_PROG_TEST_RUN: %s\n", std::strerror(errno));
		return false;
	}
	out.resize(opts.data_size_out);
	retval = opts.retval;
	return true;
}

std::string base_name(const std::string &path)
{
	std::string b = path.substr(path.find_last_of('/') + 1);
	return b.substr(0, b.find('.'));
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 4) {
		std::fprintf(stderr, "usage: %s PROG OUTDIR FILE... | PROG --truncate FILE\n", argv[0]);
		return 2;
	}
	int fd = bpf_obj_get(argv[1]);
	if (fd < 0) {
		std::fprintf(stderr, "%s: %s\n", argv[1], std::strerror(errno));
		return 2;
	}
	Bytes out;
	unsigned retval = 0;
	if (std::string(argv[2]) == "--truncate") {
		Bytes full = read_file(argv[3]);
		for (size_t len = 14; len < full.size(); len++) {
			Bytes in(full.begin(), full.begin() + long(len));
			if (!run(fd, in, out, retval))
				return 1;
			bool same = out == in;
			std::printf("%zu %u %s\n", len, retval, same ? "same" : "changed");
		}
		return 0;
	}
	for (int i = 3; i < argc; i++) {
		Bytes in = read_file(argv[i]);
		if (!run(fd, in, out, retval))
			return 1;
		std::string name = base_name(argv[i]);
		std::printf("%s %u\n", name.c_str(), retval);
		if (retval == XDP_PASS) {
			std::ofstream got(std::string(argv[2]) + "/" + name + ".got", std::ios::binary);
			got.write(reinterpret_cast<const char *>(out.data()), long(out.size()));
		}
	}
	return 0;
}
