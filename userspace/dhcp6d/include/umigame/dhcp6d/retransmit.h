// RFC 8415 §15: when a client sends a message again, and when it gives up.
//
// Each message type has an initial timeout (IRT), a ceiling (MRT), and a
// limit on attempts (MRC) and/or total time (MRD), 0 meaning none (§7.6 has
// the values). Every timeout carries a random factor RAND in [-0.1, +0.1]
// so that clients started together by a power cut do not stay in step.
// Kept apart from the client's state machine so it can be tested exactly
// (the random source is injectable).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace umigame::dhcp6d {

using Seconds = std::chrono::duration<double>;

struct RetransmitParams {
	Seconds irt{0}; // initial retransmission time
	Seconds mrt{0}; // maximum retransmission time, 0 = none
	uint32_t mrc = 0; // maximum transmissions, 0 = none
	Seconds mrd{0}; // maximum duration of the exchange, 0 = none
	// §15: the first RT of a Solicit must be strictly greater than IRT.
	bool first_rand_positive = false;
};

// §7.6 (the MRT of Solicit and Information-request may be changed by the
// server's SOL_MAX_RT / INF_MAX_RT options, §21.24-§21.25). Renew's MRD is
// the time left until T2, Rebind's until the leases' valid lifetimes end:
// the caller sets those.
namespace rfc8415 {
inline RetransmitParams solicit() { return {Seconds(1), Seconds(3600), 0, Seconds(0), true}; }
inline RetransmitParams request() { return {Seconds(1), Seconds(30), 10, Seconds(0), false}; }
inline RetransmitParams confirm() { return {Seconds(1), Seconds(4), 0, Seconds(10), false}; }
inline RetransmitParams renew() { return {Seconds(10), Seconds(600), 0, Seconds(0), false}; }
inline RetransmitParams rebind() { return {Seconds(10), Seconds(600), 0, Seconds(0), false}; }
inline RetransmitParams information_request() { return {Seconds(1), Seconds(3600), 0, Seconds(0), false}; }
inline RetransmitParams release() { return {Seconds(1), Seconds(0), 4, Seconds(0), false}; }
inline RetransmitParams decline() { return {Seconds(1), Seconds(0), 4, Seconds(0), false}; }
// §18.2.1: the first Solicit waits a random time up to SOL_MAX_DELAY.
inline constexpr Seconds kSolMaxDelay{1};
} // namespace rfc8415

class Retransmission {
public:
	// rand() must return values uniformly in [-0.1, 0.1]; by default a
	// seeded std::mt19937 does.
	explicit Retransmission(RetransmitParams params, std::function<double()> rand = {});

	// The message was sent for the first time at `now`: how long to wait
	// for an answer before sending it again.
	Seconds first(Seconds now);
	// The wait ran out at `now`: the next wait, or nullopt when MRC or MRD
	// says to give up. A wait that would run past MRD is cut to end at it.
	std::optional<Seconds> next(Seconds now);

	// §21.24/§21.25: a server's SOL_MAX_RT/INF_MAX_RT applies from the
	// next retransmission of the exchange in progress.
	void set_mrt(Seconds mrt) { p_.mrt = mrt; }

	uint32_t transmissions() const { return sent_; }
	// §21.9 Elapsed Time: hundredths of a second since the first
	// transmission, 0xffff once that no longer fits.
	uint16_t elapsed_centiseconds(Seconds now) const;

private:
	RetransmitParams p_;
	std::function<double()> rand_;
	Seconds started_{0}, rt_{0};
	uint32_t sent_ = 0;
};

} // namespace umigame::dhcp6d
