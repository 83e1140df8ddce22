// RFC 8415 §15 retransmission, with a scripted RAND.
#include "umigame/dhcp6d/retransmit.h"

#include <vector>

#include <gtest/gtest.h>

namespace umigame::dhcp6d {
namespace {

std::function<double()> always(double r)
{
	return [r] { return r; };
}

// Drive an exchange that never gets an answer: the waits, in order.
std::vector<double> waits(RetransmitParams p, std::function<double()> rand)
{
	Retransmission rt(p, std::move(rand));
	std::vector<double> out;
	Seconds now{100};
	Seconds wait = rt.first(now);
	for (;;) {
		out.push_back(wait.count());
		now += wait;
		auto next = rt.next(now);
		if (!next)
			return out;
		wait = *next;
	}
}

void expect_near(const std::vector<double> &got, const std::vector<double> &want)
{
	ASSERT_EQ(got.size(), want.size());
	for (size_t i = 0; i < got.size(); i++)
		EXPECT_NEAR(got[i], want[i], 1e-9) << "wait " << i;
}

// §15 + §7.6: Request doubles from REQ_TIMEOUT 1 s up to REQ_MAX_RT 30 s
// and gives up after REQ_MAX_RC 10 transmissions.
TEST(Retransmit, RequestDoublesCapsAndStopsAfterTenTransmissions)
{
	expect_near(waits(rfc8415::request(), always(0)), {1, 2, 4, 8, 16, 30, 30, 30, 30, 30});
}

// §15: RT = 2*RTprev + RAND*RTprev; beyond MRT, RT = MRT + RAND*MRT.
TEST(Retransmit, RandScalesEveryStep)
{
	auto got = waits(rfc8415::request(), always(0.1));
	ASSERT_EQ(got.size(), 10u);
	EXPECT_NEAR(got[0], 1.1, 1e-9);
	EXPECT_NEAR(got[1], 2 * 1.1 + 0.11, 1e-9);
	EXPECT_NEAR(got.back(), 30 + 3, 1e-9);
	got = waits(rfc8415::request(), always(-0.1));
	EXPECT_NEAR(got[0], 0.9, 1e-9);
	EXPECT_NEAR(got[1], 2 * 0.9 - 0.09, 1e-9);
}

// §15: the first RT of a Solicit is strictly greater than IRT.
TEST(Retransmit, FirstSolicitWaitIsAboveIrt)
{
	for (double r : {-0.1, -0.05, 0.0, 0.05, 0.1}) {
		Retransmission rt(rfc8415::solicit(), always(r));
		Seconds first = rt.first(Seconds(0));
		EXPECT_GT(first.count(), 1.0) << "RAND " << r;
		EXPECT_LE(first.count(), 1.1) << "RAND " << r;
	}
	Retransmission real(rfc8415::solicit()); // the default random source
	for (int i = 0; i < 1000; i++) {
		double first = real.first(Seconds(0)).count();
		ASSERT_GT(first, 1.0);
		ASSERT_LE(first, 1.1);
	}
}

// §7.6 + §18.2.3: Confirm gives up after CNF_MAX_RD 10 s; the last wait is
// cut so the exchange ends exactly then.
TEST(Retransmit, ConfirmEndsAtItsMaximumDuration)
{
	expect_near(waits(rfc8415::confirm(), always(0)), {1, 2, 4, 3});
}

// Solicit has no MRC or MRD: it goes on, at SOL_MAX_RT.
TEST(Retransmit, SolicitNeverGivesUp)
{
	Retransmission rt(rfc8415::solicit(), always(0));
	Seconds now{0};
	Seconds wait = rt.first(now);
	for (int i = 0; i < 100; i++) {
		now += wait;
		auto next = rt.next(now);
		ASSERT_TRUE(next);
		wait = *next;
	}
	EXPECT_NEAR(wait.count(), 3600, 1e-9);
	EXPECT_EQ(rt.transmissions(), 101u);
}

// Release and Decline: REL_MAX_RC / DEC_MAX_RC 4 transmissions (§7.6).
TEST(Retransmit, ReleaseStopsAfterFourTransmissions)
{
	expect_near(waits(rfc8415::release(), always(0)), {1, 2, 4, 8});
}

// §21.9: hundredths of a second since the first transmission, 0xffff
// when that does not fit.
TEST(Retransmit, ElapsedTime)
{
	Retransmission rt(rfc8415::request(), always(0));
	EXPECT_EQ(rt.elapsed_centiseconds(Seconds(5)), 0) << "nothing sent yet";
	rt.first(Seconds(10));
	EXPECT_EQ(rt.elapsed_centiseconds(Seconds(10)), 0);
	EXPECT_EQ(rt.elapsed_centiseconds(Seconds(11.5)), 150);
	EXPECT_EQ(rt.elapsed_centiseconds(Seconds(10 + 655.34)), 65534);
	EXPECT_EQ(rt.elapsed_centiseconds(Seconds(10 + 1000)), 0xffff);
}

} // namespace
} // namespace umigame::dhcp6d
