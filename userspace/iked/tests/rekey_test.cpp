// CHILD_SA and IKE SA rekeying (RFC 7296 §1.3.2, §1.3.3, §2.8, §2.18) and
// the collisions of §2.8.1/§2.8.2 in every delivery order that matters:
// requests crossing, a response overtaking the peer's request, a Delete
// of the old SA crossing a rekey, the answers CHILD_SA_NOT_FOUND and
// TEMPORARY_FAILURE (§2.25).
#include <random>

#include "harness.h"

namespace umigame::iked::test {
namespace {

struct ChildView {
	uint32_t spi_in = 0, spi_out = 0;
	ChildSa::State state{};
};

std::vector<ChildView> children_of(Side &s)
{
	std::vector<ChildView> out;
	for (const IkeSa *sa : s.engine->ike_sas("site"))
		for (const auto &c : sa->children())
			out.push_back({c->spec.spi_in, c->spec.spi_out, c->state});
	return out;
}

// Exactly one installed CHILD_SA each side, the two halves of one pair
// (RFC 7296 §2.8: the rekeyed SA replaces the old one), nothing else in
// either kernel.
void expect_one_pair(Pair &p)
{
	p.loop.run_once(0ms);
	auto l = children_of(p.left), r = children_of(p.right);
	ASSERT_EQ(l.size(), 1u) << "left CHILD_SAs";
	ASSERT_EQ(r.size(), 1u) << "right CHILD_SAs";
	EXPECT_EQ(l[0].spi_in, r[0].spi_out);
	EXPECT_EQ(l[0].spi_out, r[0].spi_in);
	EXPECT_EQ(l[0].state, ChildSa::State::installed);
	EXPECT_EQ(r[0].state, ChildSa::State::installed);
	for (Side *s : {&p.left, &p.right}) {
		EXPECT_EQ(s->kernel.inbound.size(), 1u) << s->name << " inbound SAs";
		EXPECT_EQ(s->kernel.outbound.size(), 1u) << s->name << " outbound SAs";
		EXPECT_EQ(s->kernel.policies.size(), 1u) << s->name << " policies";
	}
	p.expect_sas_paired();
}

// One established IKE SA each side, the same one.
void expect_one_ike_sa(Pair &p)
{
	p.loop.run_once(0ms);
	auto l = p.left.engine->ike_sas("site"), r = p.right.engine->ike_sas("site");
	ASSERT_EQ(l.size(), 1u) << "left IKE SAs";
	ASSERT_EQ(r.size(), 1u) << "right IKE SAs";
	EXPECT_EQ(l[0]->state(), IkeSa::State::established);
	EXPECT_EQ(r[0]->state(), IkeSa::State::established);
	EXPECT_EQ(l[0]->spi_i(), r[0]->spi_i());
	EXPECT_EQ(l[0]->spi_r(), r[0]->spi_r());
	EXPECT_EQ(p.left.engine->ike_sa_count(), 1u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 1u);
}

class Rekey : public ::testing::Test {
protected:
	void up(ConnOptions o = {})
	{
		p.establish(o);
		ASSERT_TRUE(p.left.established());
		ASSERT_TRUE(p.right.established());
		expect_one_pair(p);
		old_left = children_of(p.left).at(0);
	}
	Pair p;
	ChildView old_left;
};

TEST_F(Rekey, ChildFromInitiator)
{
	// RFC 7296 §1.3.3: CREATE_CHILD_SA with REKEY_SA, then §2.8: the old
	// pair is deleted with an INFORMATIONAL exchange.
	up();
	p.left.engine->rekey_child("site", "net");
	p.deliver_all();
	expect_one_pair(p);
	EXPECT_NE(children_of(p.left)[0].spi_in, old_left.spi_in);
	EXPECT_FALSE(p.left.kernel.inbound.contains(old_left.spi_in));
	EXPECT_FALSE(p.right.kernel.inbound.contains(old_left.spi_out));
	EXPECT_EQ(p.left.counters().child_rekeys, 1u);
	EXPECT_EQ(p.right.counters().child_rekeys, 1u);
}

TEST_F(Rekey, ChildFromResponder)
{
	// RFC 7296 §2.8: either end may rekey.
	up();
	p.right.engine->rekey_child("site", "net");
	p.deliver_all();
	expect_one_pair(p);
	EXPECT_NE(children_of(p.left)[0].spi_in, old_left.spi_in);
}

TEST_F(Rekey, ChildWithPfs)
{
	// RFC 7296 §1.3.1: the IKE_AUTH CHILD_SA has no KE (the offer leaves the
	// group out); §1.3.3: the rekey carries KE payloads of the group.
	ConnOptions o;
	o.esp_proposals = "\"aes128gcm16-ecp256\"";
	up(o);
	EXPECT_EQ(p.left.kernel.inbound.begin()->second.algorithms.dh, 0);
	for (Side *s : {&p.left, &p.right}) {
		s->engine->rekey_child("site", "net");
		p.deliver_all();
		expect_one_pair(p);
	}
	EXPECT_EQ(p.left.kernel.inbound.begin()->second.algorithms.dh, ike::dh::ECP_256);
	EXPECT_NE(children_of(p.left)[0].spi_in, old_left.spi_in);
	EXPECT_EQ(p.left.counters().child_rekeys, 2u);
}

TEST_F(Rekey, ChildCbcRepeatedly)
{
	// RFC 7296 §2.8: a rekeyed SA is rekeyed again like any other.
	ConnOptions o;
	o.esp_proposals = "\"aes256-sha384\"";
	up(o);
	for (int i = 0; i < 4; i++) {
		(i % 2 ? p.right : p.left).engine->rekey_child("site", "net");
		p.deliver_all();
		expect_one_pair(p);
	}
}

TEST_F(Rekey, IkeSaFromEitherSide)
{
	// RFC 7296 §1.3.2 / §2.18: the new IKE SA takes the children over, the
	// old one is deleted on both sides; the new one works (a child rekey
	// over it).
	up();
	for (Side *s : {&p.left, &p.right}) {
		SCOPED_TRACE(s->name + " rekeys the IKE SA");
		uint64_t old_i = p.left.sa()->spi_i(), old_r = p.left.sa()->spi_r();
		s->engine->rekey_ike("site");
		p.deliver_all();
		expect_one_ike_sa(p);
		expect_one_pair(p);
		const IkeSa *now = p.left.engine->ike_sas("site").at(0);
		EXPECT_NE(now->spi_i(), old_i);
		EXPECT_NE(now->spi_r(), old_r);
		// §2.18: the initiator of the rekey is the new SA's initiator.
		EXPECT_EQ(now->initiator(), s == &p.left);
		EXPECT_EQ(children_of(p.left)[0].spi_in, old_left.spi_in); // children kept as they are
		s->engine->rekey_child("site", "net");
		p.deliver_all();
		expect_one_pair(p);
		old_left = children_of(p.left)[0];
	}
	EXPECT_EQ(p.left.counters().ike_rekeys, 2u);
	// And the new SA can be deleted cleanly.
	p.left.engine->down("site");
	p.deliver_all();
	EXPECT_EQ(p.left.engine->ike_sa_count() + p.right.engine->ike_sa_count(), 0u);
	p.expect_kernels_empty();
}

TEST_F(Rekey, SimultaneousChildRekeyRequestsCross)
{
	// RFC 7296 §2.8.1: both requests cross; each side answers the other's,
	// then the SA made with the lowest nonce is deleted by its creator and
	// the old one by the other side. Nonces are random: repeat so both
	// outcomes occur.
	for (int i = 0; i < 8; i++) {
		SCOPED_TRACE("round " + std::to_string(i));
		Pair q;
		q.establish(ConnOptions{});
		q.left.engine->rekey_child("site", "net");
		q.right.engine->rekey_child("site", "net");
		q.deliver_one(q.left);  // left's request
		q.deliver_one(q.right); // right's request (its response to left is behind it)
		q.deliver_all();
		expect_one_pair(q);
		EXPECT_EQ(q.left.counters().collisions + q.right.counters().collisions, 2u);
	}
}

TEST_F(Rekey, SimultaneousChildRekeyResponseOvertakesRequest)
{
	// RFC 7296 §2.8.1: right's answer to left reaches left before right's
	// own request does: left completes a normal rekey and deletes the old
	// SA; right's request then names an SA being deleted
	// (CHILD_SA_NOT_FOUND, §2.25) and the Delete settles it.
	for (int order = 0; order < 2; order++) {
		SCOPED_TRACE(order ? "Delete reaches right first" : "right's request reaches left first");
		Pair q;
		q.establish(ConnOptions{});
		q.left.engine->rekey_child("site", "net");
		q.right.engine->rekey_child("site", "net");
		q.deliver_one(q.left); // left's request
		ASSERT_EQ(q.right.env.outbox.size(), 2u);
		q.deliver_nth(q.right, 1); // right's response overtakes its request
		ASSERT_EQ(q.left.env.outbox.size(), 1u); // left's Delete of the old SA
		if (order) {
			q.deliver_one(q.left);  // Delete -> right
			q.deliver_one(q.right); // right's request -> left
		} else {
			q.deliver_one(q.right); // right's request -> left
			q.deliver_one(q.left);  // Delete -> right
		}
		q.deliver_all();
		expect_one_pair(q);
	}
}

TEST_F(Rekey, SimultaneousChildRekeyDeleteOvertakesResponse)
{
	// RFC 7296 §2.8.1: both rekey; right completes first and its Delete
	// (of the old SA when it won, of its redundant SA when it lost)
	// reaches left before right's answer to left's request. Either way one
	// pair is left. Nonces are random: repeat so both outcomes occur.
	for (int i = 0; i < 8; i++) {
		SCOPED_TRACE("round " + std::to_string(i));
		Pair q;
		q.establish(ConnOptions{});
		q.left.engine->rekey_child("site", "net");
		q.right.engine->rekey_child("site", "net");
		q.deliver_one(q.left);  // left's request -> right
		q.deliver_one(q.right); // right's request -> left
		q.deliver_one(q.left);  // left's answer -> right: right's rekey done
		ASSERT_EQ(q.right.env.outbox.size(), 2u);
		q.deliver_nth(q.right, 1); // right's Delete overtakes its answer
		q.deliver_all();
		expect_one_pair(q);
	}
}

TEST_F(Rekey, ChildRekeyCrossesDeleteOfTheSameSa)
{
	// RFC 7296 §2.25: a rekey of an SA the peer is deleting gets
	// CHILD_SA_NOT_FOUND; the Delete leaves nothing behind (§1.4.1).
	for (int order = 0; order < 2; order++) {
		SCOPED_TRACE(order ? "Delete first" : "rekey first");
		Pair q;
		q.establish(ConnOptions{});
		auto r = children_of(q.right).at(0);
		q.left.engine->rekey_child("site", "net");
		q.right.engine->expire(r.spi_in, q.right.address, true); // hard expiry: Delete
		ASSERT_EQ(q.right.env.outbox.size(), 1u);
		if (order) {
			q.deliver_one(q.right);
			q.deliver_one(q.left);
		} else {
			q.deliver_one(q.left);
			q.deliver_one(q.right);
		}
		q.deliver_all();
		q.loop.run_once(0ms);
		EXPECT_TRUE(children_of(q.left).empty());
		EXPECT_TRUE(children_of(q.right).empty());
		EXPECT_TRUE(q.left.established());
		EXPECT_TRUE(q.right.established());
		q.expect_kernels_empty();
		// The IKE SA still makes children.
		q.left.engine->up("site");
		q.deliver_all();
		expect_one_pair(q);
	}
}

TEST_F(Rekey, ChildRekeyDuringIkeRekeyIsRetried)
{
	// RFC 7296 §2.25: while a side rekeys the IKE SA it answers a CHILD_SA
	// rekey with TEMPORARY_FAILURE; the child must stay usable (and
	// rekeyable) on the new IKE SA.
	up();
	p.left.engine->rekey_ike("site");
	p.right.engine->rekey_child("site", "net");
	p.deliver_one(p.right); // the child rekey reaches left mid IKE rekey
	p.deliver_all();
	expect_one_ike_sa(p);
	expect_one_pair(p);
	p.right.engine->rekey_child("site", "net");
	p.deliver_all();
	expect_one_pair(p);
	EXPECT_NE(children_of(p.left)[0].spi_in, old_left.spi_in);
}

TEST_F(Rekey, SimultaneousIkeRekey)
{
	// RFC 7296 §2.8.2: both rekey the IKE SA at once; the new SA made with
	// the lowest nonce is deleted by its initiator, the old one goes, and
	// one IKE SA is left on each side with the children.
	for (int i = 0; i < 8; i++) {
		SCOPED_TRACE("round " + std::to_string(i));
		Pair q;
		q.establish(ConnOptions{});
		auto before = children_of(q.left).at(0);
		q.left.engine->rekey_ike("site");
		q.right.engine->rekey_ike("site");
		q.deliver_one(q.left);
		q.deliver_one(q.right);
		q.deliver_all();
		expect_one_ike_sa(q);
		expect_one_pair(q);
		EXPECT_EQ(children_of(q.left).at(0).spi_in, before.spi_in);
		// The survivor works.
		q.left.engine->rekey_child("site", "net");
		q.deliver_all();
		expect_one_pair(q);
	}
}

TEST_F(Rekey, SimultaneousIkeRekeyResponseOvertakesRequest)
{
	// RFC 7296 §2.8.2 / §2.25: left sees right's answer before right's own
	// request, so only right notices the collision.
	Pair q;
	q.establish(ConnOptions{});
	q.left.engine->rekey_ike("site");
	q.right.engine->rekey_ike("site");
	q.deliver_one(q.left);
	ASSERT_EQ(q.right.env.outbox.size(), 2u);
	q.deliver_nth(q.right, 1);
	q.deliver_all();
	expect_one_ike_sa(q);
	expect_one_pair(q);
}

// Any delivery order UDP may produce: at every step a random datagram in
// flight is delivered. Whatever the order, the end state is one IKE SA and
// one CHILD_SA pair each side, nothing leaked (§2.8.1, §2.8.2, §2.25).
// Returns the order taken ("L0 R1 ...": side and index in its outbox).
std::string random_schedule(Pair &q, std::mt19937 &rng)
{
	std::string taken;
	for (int step = 0; step < 200; step++) {
		size_t l = q.left.env.outbox.size(), r = q.right.env.outbox.size();
		if (!l && !r)
			break;
		size_t pick = std::uniform_int_distribution<size_t>(0, l + r - 1)(rng);
		bool from_left = pick < l;
		size_t index = from_left ? pick : pick - l;
		taken += (from_left ? " L" : " R") + std::to_string(index);
		q.deliver_nth(from_left ? q.left : q.right, index);
		q.loop.run_once(0ms);
	}
	q.deliver_all();
	return taken;
}

TEST_F(Rekey, CollisionsInRandomOrders)
{
	std::mt19937 rng(7296);
	for (int i = 0; i < 40; i++) {
		int kind = i % 4;
		SCOPED_TRACE("round " + std::to_string(i) + " kind " + std::to_string(kind));
		Pair q;
		q.establish(ConnOptions{});
		switch (kind) {
		case 0: // both rekey the child
			q.left.engine->rekey_child("site", "net");
			q.right.engine->rekey_child("site", "net");
			break;
		case 1: // both rekey the IKE SA
			q.left.engine->rekey_ike("site");
			q.right.engine->rekey_ike("site");
			break;
		case 2: // one rekeys the IKE SA, the other the child
			q.left.engine->rekey_ike("site");
			q.right.engine->rekey_child("site", "net");
			break;
		case 3:
			q.left.engine->rekey_child("site", "net");
			q.right.engine->rekey_ike("site");
			break;
		}
		SCOPED_TRACE("delivery order" + random_schedule(q, rng));
		// §2.8.2: a redundant IKE SA whose creator never learnt it lost is
		// deleted by the winner after a while.
		q.run_until([&] { return q.left.engine->ike_sa_count() == 1 && q.right.engine->ike_sa_count() == 1; },
			    5s);
		expect_one_ike_sa(q);
		expect_one_pair(q);
		if (HasFailure())
			return;
	}
}

} // namespace
} // namespace umigame::iked::test
