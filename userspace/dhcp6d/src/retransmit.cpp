#include "umigame/dhcp6d/retransmit.h"

#include <algorithm>
#include <memory>
#include <random>

namespace umigame::dhcp6d {

Retransmission::Retransmission(RetransmitParams params, std::function<double()> rand)
	: p_(params), rand_(std::move(rand))
{
	if (!rand_) {
		auto gen = std::make_shared<std::mt19937>(std::random_device{}());
		rand_ = [gen] { return std::uniform_real_distribution<double>(-0.1, 0.1)(*gen); };
	}
}

Seconds Retransmission::first(Seconds now)
{
	started_ = now;
	sent_ = 1;
	double r = rand_();
	// §15: "the first RT MUST be selected to be strictly greater than IRT
	// by choosing RAND to be strictly greater than 0" (Solicit).
	if (p_.first_rand_positive && r <= 0)
		r = -r > 0 ? -r : 0.05;
	rt_ = p_.irt + r * p_.irt;
	if (p_.mrt.count() > 0 && rt_ > p_.mrt)
		rt_ = p_.mrt + rand_() * p_.mrt;
	if (p_.mrd.count() > 0)
		rt_ = std::min(rt_, p_.mrd);
	return rt_;
}

std::optional<Seconds> Retransmission::next(Seconds now)
{
	if (p_.mrc && sent_ >= p_.mrc)
		return std::nullopt;
	const Seconds spent = now - started_;
	if (p_.mrd.count() > 0 && spent >= p_.mrd)
		return std::nullopt;
	// §15: RT = 2*RTprev + RAND*RTprev, then capped by MRT + RAND*MRT.
	rt_ = 2 * rt_ + rand_() * rt_;
	if (p_.mrt.count() > 0 && rt_ > p_.mrt)
		rt_ = p_.mrt + rand_() * p_.mrt;
	if (p_.mrd.count() > 0)
		rt_ = std::min(rt_, p_.mrd - spent);
	sent_++;
	return rt_;
}

uint16_t Retransmission::elapsed_centiseconds(Seconds now) const
{
	if (sent_ == 0)
		return 0;
	double cs = (now - started_).count() * 100;
	return cs >= 0xffff ? 0xffff : uint16_t(std::max(cs, 0.0));
}

} // namespace umigame::dhcp6d
