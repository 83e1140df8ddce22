// The engine's Kernel on Linux: CHILD_SAs and policies through XFRM
// netlink, and inbound SAs also in umigame.ko when it is loaded (the XDP
// fast path decrypts them where `umigame esp` is attached).
//
// How the two inbound paths coexist (docs/ike.md): an inbound xfrm policy
// makes the kernel drop inner packets that did not pass through xfrm, which
// is what packets decrypted in XDP are. For a child with xdp = true, while
// the module is loaded, the "in" and "fwd" policies get an optional
// template ("level use"): packets xfrm decrypts still match it, packets
// the XDP program decrypted pass too. The XDP program drops unknown SPIs
// and failed ICVs itself, and a plaintext packet that matches the
// selectors is let in only by policy, as with "level use" anywhere.
#pragma once

#include <memory>

#include "umigame/iked/engine.h"
#include "umigame/xfrm.h"

namespace umigame {
class SaNetlink;
}

namespace umigame::iked {

class XfrmKernel : public Kernel {
public:
	XfrmKernel();
	~XfrmKernel() override;

	uint32_t allocate_spi(const Endpoint &local, const Endpoint &remote, uint32_t reqid) override;
	void add_inbound(const ChildSaSpec &spec) override;
	void add_outbound(const ChildSaSpec &spec) override;
	void add_policies(const ChildSaSpec &spec) override;
	void remove_policies(const ChildSaSpec &spec) override;
	void del_inbound(const ChildSaSpec &spec) override;
	void del_outbound(const ChildSaSpec &spec) override;
	void add_trap(const ConnectionConfig &, const ChildConfig &, uint32_t reqid) override;
	void remove_trap(const ConnectionConfig &, const ChildConfig &, uint32_t reqid) override;
	std::optional<Usage> inbound_usage(const ChildSaSpec &spec) override;

	// Whether umigame.ko holds our inbound SAs (for show).
	bool module_in_use() const { return module_ != nullptr; }

private:
	XfrmSa sa_for(const ChildSaSpec &spec, bool inbound) const;
	std::vector<XfrmPolicy> policies_for(const ChildSaSpec &spec) const;
	void module_add(const ChildSaSpec &spec);
	void module_del(const ChildSaSpec &spec);
	bool xdp_path(const ChildSaSpec &spec) const;
	void sync_fast_path();

	Xfrm xfrm_;
	std::unique_ptr<SaNetlink> module_;
	std::map<uint32_t, uint32_t> module_ids_; // inbound SPI -> module SA id
};

} // namespace umigame::iked
