// Rekey collisions (RFC 7296 §2.8.1, §2.8.2, §2.25), one test per situation
// strongSwan's unit tests name (src/libcharon/tests/suites/test_child_rekey.c
// and test_ike_rekey.c; their names and situations, none of their code).
// Each test drives one exact delivery order, forces who holds the lowest
// nonce (Engine::nonce_first_octets) and checks the end state: one IKE SA
// and at most one CHILD_SA pair per side, SPIs and keys pairwise, nothing
// else in either fake kernel, the outbound SAs in (traffic flows now, not
// after a timer), and the survivor still rekeys. Each runs with either
// side of the IKE SA as "A" (strongSwan's loops over initiator/responder).
//
// A and B are the two peers; "Ni(A)" is the nonce A sends in its own rekey
// request, "Nr(A)" the one in its answer to B's.
//
// CHILD_SA (test_child_rekey.c)              here (ChildCollision.*)
// collision                                  Crossing: 4 lowest nonces
// collision_multi_ke                         not covered: no RFC 9370
//                                            multiple key exchanges here
// collision_mixed                            not covered: likewise
// collision_delayed_response                 DelayedResponse: 4 nonces
// collision_delayed_response_delete          DelayedResponseDelete: 4 nonces;
//                                            where B won we keep A's SA as
//                                            one pair (A no longer knows
//                                            it lost), strongSwan none
// collision_delayed_response_multi_ke        not covered: no multiple KE
// collision_delayed_request                  DelayedRequest: 3 nonces x 2
//                                            orders (CHILD_SA_NOT_FOUND
//                                            where strongSwan answers
//                                            TEMPORARY_FAILURE)
// collision_delayed_request_more             DelayedRequestMore: 3 nonces
// collision_delayed_request_more_delete      DelayedRequestMoreDelete
// collision_delayed_request_multi_ke         not covered: no multiple KE
// collision_ke_invalid                       KeInvalidDuringCollision: A
//                                            retries with the group named
//                                            (§1.3), by then B's rekey has
//                                            settled it
// collision_ke_invalid_delayed_retry         in part, same test: the retry
//                                            meets the old SA gone
//                                            (CHILD_SA_NOT_FOUND)
// collision_responder_incorrect_delete       ResponderIncorrectDelete (the
//                                            stray Delete made by expiring
//                                            the old SA on the loser)
// collision_delete                           Delete
// collision_delete_multi_ke                  not covered: no multiple KE
// collision_delete_drop_delete               DeleteDropDelete
// collision_delete_drop_rekey                DeleteDropRekey
// collision_delete_delayed_response          DeleteDelayedResponse
// collision_ike_rekey                        IkeRekey
// collision_ike_delete                       IkeDelete
//
// IKE SA (test_ike_rekey.c)                  here (IkeCollision.*)
// collision                                  Crossing: 4 lowest nonces
// collision_multi_ke, collision_mixed        not covered: no multiple KE
// collision_ke_invalid                       not covered: an IKE SA rekey
// collision_ke_invalid_delayed_retry         offers the group in use, which
//                                            the peer chose, so no
//                                            INVALID_KE_PAYLOAD arises
//                                            (and none would be retried)
// collision_delayed_response                 DelayedResponse: 4 nonces
// collision_delayed_response_multi_ke        not covered: no multiple KE
// collision_dropped_request                  DroppedRequest: 3 nonces
// collision_delayed_request                  DelayedRequest: 3 nonces
// collision_delayed_request_and_delete       DelayedRequestAndDelete
// collision_delayed_request_multi_ke         not covered: no multiple KE
// collision_delete                           Delete
// collision_delete_multi_ke                  not covered: no multiple KE
// collision_delete_drop_delete               DeleteDropDelete
#include <algorithm>
#include <deque>

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

// The inbound SPI the side's kernel handed out last: the SA its latest
// request or answer makes (the fake kernel counts up).
uint32_t newest_spi(Side &s)
{
	return s.kernel.allocated.empty() ? 0 : *s.kernel.allocated.rbegin();
}

// Where the lowest of the four nonces of a CHILD_SA or IKE SA collision
// is; the first octet of each side's nonces, in the order the side makes
// them (its own request first, then its answer).
struct Lowest {
	const char *name;
	std::deque<uint8_t> a, b;
	// §2.8.1/§2.8.2: the SA made with the lowest nonce goes; true when
	// that is B's, so A's survives.
	bool a_survives;
};

const Lowest kFour[] = {
	{"Ni(A) lowest", {0x00, 0xff}, {0xff, 0xff}, false},
	{"Nr(A) lowest", {0xff, 0x00}, {0xff, 0xff}, true},
	{"Ni(B) lowest", {0xff, 0xff}, {0x00, 0xff}, true},
	{"Nr(B) lowest", {0xff, 0xff}, {0xff, 0x00}, false},
};
// Where only A answers (B never sees A's request in time).
const Lowest kThree[] = {
	{"Ni(A) lowest", {0x00, 0xff}, {0xff}, false},
	{"Nr(A) lowest", {0xff, 0x00}, {0xff}, false},
	{"Ni(B) lowest", {0xff, 0xff}, {0x00}, false},
};

// One case: a fresh pair, A and B chosen, nonces forced.
struct Case {
	explicit Case(bool a_is_right, const Lowest *lowest = nullptr, ConnOptions o = {})
		: a(a_is_right ? q.right : q.left), b(a_is_right ? q.left : q.right)
	{
		q.establish(o);
		EXPECT_TRUE(q.left.established());
		EXPECT_TRUE(q.right.established());
		old_a = children_of(a).at(0);
		old_b = children_of(b).at(0);
		ike_i = q.left.sa()->spi_i();
		ike_r = q.left.sa()->spi_r();
		if (lowest) {
			a.engine->nonce_first_octets = lowest->a;
			b.engine->nonce_first_octets = lowest->b;
		}
	}
	Pair q;
	Side &a, &b;
	ChildView old_a, old_b;
	uint64_t ike_i = 0, ike_r = 0;

	void deliver(Side &from) { ASSERT_TRUE(q.deliver_one(from)) << from.name << " has nothing in flight"; }
	void deliver_second(Side &from)
	{
		ASSERT_EQ(from.env.outbox.size(), 2u) << from.name << " in flight";
		q.deliver_nth(from, 1);
	}
	// The installed CHILD_SA of `s` that is neither of `not_these`.
	uint32_t other_child(Side &s, std::initializer_list<uint32_t> not_these)
	{
		for (const auto &c : children_of(s))
			if (c.state == ChildSa::State::installed && std::find(not_these.begin(), not_these.end(),
									      c.spi_in) == not_these.end())
				return c.spi_in;
		ADD_FAILURE() << s.name << ": no such CHILD_SA";
		return 0;
	}
	// A hard expiry: the side deletes the CHILD_SA and sends the Delete.
	void expire(Side &s, uint32_t spi_in) { s.engine->expire(spi_in, s.address, true); }
	bool gone(Side &s, uint32_t spi_in) { return !s.kernel.inbound.contains(spi_in); }
};

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
	EXPECT_NE(l[0]->initiator(), r[0]->initiator());
	EXPECT_EQ(p.left.engine->ike_sa_count(), 1u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 1u);
}

// One IKE SA, one installed CHILD_SA pair with both outbound SAs in the
// kernel (§2.8: the rekeyed SA replaces the old one), keys pairwise, no
// other SA or policy in either kernel.
void expect_one_pair(Pair &p)
{
	expect_one_ike_sa(p);
	auto l = children_of(p.left), r = children_of(p.right);
	ASSERT_EQ(l.size(), 1u) << "left CHILD_SAs";
	ASSERT_EQ(r.size(), 1u) << "right CHILD_SAs";
	EXPECT_EQ(l[0].spi_in, r[0].spi_out);
	EXPECT_EQ(l[0].spi_out, r[0].spi_in);
	EXPECT_EQ(l[0].state, ChildSa::State::installed);
	EXPECT_EQ(r[0].state, ChildSa::State::installed);
	EXPECT_TRUE(p.left.kernel.outbound.contains(l[0].spi_out)) << "left does not send on its CHILD_SA";
	EXPECT_TRUE(p.right.kernel.outbound.contains(r[0].spi_out)) << "right does not send on its CHILD_SA";
	for (Side *s : {&p.left, &p.right}) {
		EXPECT_EQ(s->kernel.inbound.size(), 1u) << s->name << " inbound SAs";
		EXPECT_EQ(s->kernel.outbound.size(), 1u) << s->name << " outbound SAs";
		EXPECT_EQ(s->kernel.policies.size(), 1u) << s->name << " policies";
	}
	p.expect_sas_paired();
}

// The survivor is no husk: both sides rekey it again, in turn.
void expect_still_rekeys(Pair &p)
{
	for (Side *s : {&p.left, &p.right}) {
		s->engine->rekey_child("site", "net");
		p.deliver_all();
		expect_one_pair(p);
	}
}

// One IKE SA, no CHILD_SA, nothing in the kernels; a new CHILD_SA can
// still be made on it.
void expect_no_child(Pair &p)
{
	expect_one_ike_sa(p);
	EXPECT_TRUE(children_of(p.left).empty()) << "left keeps a CHILD_SA";
	EXPECT_TRUE(children_of(p.right).empty()) << "right keeps a CHILD_SA";
	p.expect_kernels_empty();
	p.left.engine->up("site");
	p.deliver_all();
	expect_one_pair(p);
}

// No IKE SA on either side and nothing in either kernel.
void expect_nothing(Pair &p)
{
	p.run_until([&] { return p.left.engine->ike_sa_count() + p.right.engine->ike_sa_count() == 0; }, 3s);
	EXPECT_EQ(p.left.engine->ike_sa_count(), 0u);
	EXPECT_EQ(p.right.engine->ike_sa_count(), 0u);
	p.expect_kernels_empty();
}

// Runs the body with A = left (the IKE SA's initiator), then A = right.
#define FOR_EACH_ROLE(var) \
	for (bool var : {false, true}) \
		if (::testing::ScopedTrace role_trace(__FILE__, __LINE__, \
						      var ? "A = right (IKE responder)" : "A = left (IKE initiator)"); \
		    true)

// ---------------------------------------------------------------------------
// CHILD_SA collisions.

TEST(ChildCollision, Crossing)
{
	// RFC 7296 §2.8.1: both rekey, the requests cross; "the SA created
	// with the lowest of the four nonces" is deleted by its creator and the
	// old SA by the other side.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kFour) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		c.a.engine->rekey_child("site", "net");
		uint32_t sa_a = newest_spi(c.a);
		c.b.engine->rekey_child("site", "net");
		uint32_t sa_b = newest_spi(c.b);
		c.deliver(c.a); // A's request -> B
		c.deliver(c.b); // B's request -> A
		c.q.deliver_all();
		expect_one_pair(c.q);
		if (n.a_survives)
			EXPECT_EQ(children_of(c.a).at(0).spi_in, sa_a);
		else
			EXPECT_EQ(children_of(c.b).at(0).spi_in, sa_b);
		EXPECT_EQ(c.q.left.counters().collisions + c.q.right.counters().collisions, 2u);
		expect_still_rekeys(c.q);
	}
}

// Both requests cross and A's answer reaches B, whose rekey completes: B
// sends its Delete (of the old SA when it won, of its own SA when it
// lost), held or not behind B's answer to A.
void delayed_response_start(Case &c)
{
	c.a.engine->rekey_child("site", "net");
	c.b.engine->rekey_child("site", "net");
	c.deliver(c.a); // A's request -> B
	c.deliver(c.b); // B's request -> A
	c.deliver(c.a); // A's answer -> B: B's rekey completes
	ASSERT_EQ(c.b.env.outbox.size(), 2u); // B's answer to A, B's Delete
}

TEST(ChildCollision, DelayedResponse)
{
	// RFC 7296 §2.8.1: B's Delete overtakes its answer to A. A must take a
	// Delete of the old SA as "B won" and delete its own new SA once it
	// has it; a Delete of B's SA as "B lost".
	FOR_EACH_ROLE(flip)
	for (const auto &n : kFour) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		delayed_response_start(c);
		c.deliver_second(c.b); // B's Delete -> A
		c.q.deliver_all();     // then B's answer
		expect_one_pair(c.q);
		expect_still_rekeys(c.q);
	}
}

TEST(ChildCollision, DelayedResponseDelete)
{
	// RFC 7296 §2.8.1, §1.4.1: as above, and B then deletes the surviving
	// SA too, all before its answer reaches A. Nothing of the CHILD_SA may
	// be left on either side.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kFour) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		c.a.engine->rekey_child("site", "net");
		c.b.engine->rekey_child("site", "net");
		uint32_t sa_b_at_b = newest_spi(c.b);
		c.deliver(c.a); // A's request -> B
		uint32_t sa_a_at_b = newest_spi(c.b);
		c.deliver(c.b); // B's request -> A
		c.deliver(c.a); // A's answer -> B
		c.deliver_second(c.b); // B's Delete -> A
		c.deliver(c.a);        // its answer -> B
		ASSERT_EQ(c.b.env.outbox.size(), 1u); // B's answer to A, still held
		uint32_t survivor_at_b = n.a_survives ? sa_a_at_b : sa_b_at_b;
		ASSERT_TRUE(c.b.kernel.inbound.contains(survivor_at_b));
		c.expire(c.b, survivor_at_b);
		c.deliver_second(c.b); // B's Delete of the survivor -> A
		c.q.deliver_all();     // B's answer last
		if (n.a_survives) {
			expect_no_child(c.q);
			continue;
		}
		// B won, but A learns of B's SA only from Deletes: when B's answer
		// comes, A no longer knows it lost and keeps its own SA, which B
		// still holds too (it waits for A to delete it). strongSwan
		// deletes it; we end with that one consistent pair.
		expect_one_pair(c.q);
		EXPECT_EQ(children_of(c.b).at(0).spi_in, sa_a_at_b);
		expect_still_rekeys(c.q);
	}
}

// B's request reaches A and A's answer reaches B before A's request does:
// B rekeys without noticing the collision and deletes the old SA.
void delayed_request_start(Case &c)
{
	c.a.engine->rekey_child("site", "net");
	c.b.engine->rekey_child("site", "net");
	c.deliver(c.b);        // B's request -> A (A notices)
	c.deliver_second(c.a); // A's answer overtakes A's request
	ASSERT_EQ(c.b.env.outbox.size(), 1u); // B's Delete of the old SA
}

TEST(ChildCollision, DelayedRequest)
{
	// RFC 7296 §2.8.1, §2.25: A's request then names an SA B is deleting:
	// CHILD_SA_NOT_FOUND (strongSwan: TEMPORARY_FAILURE); A drops its
	// rekey whether the answer comes before or after B's Delete.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kThree)
		for (bool answer_first : {false, true}) {
			SCOPED_TRACE(std::string(n.name) + (answer_first ? ", answer before Delete" : ", Delete first"));
			Case c(flip, &n);
			delayed_request_start(c);
			uint32_t sa_b = children_of(c.b).back().spi_in;
			if (answer_first) {
				c.deliver(c.a);        // A's request -> B
				c.deliver_second(c.b); // CHILD_SA_NOT_FOUND -> A
			} else {
				c.deliver(c.b); // B's Delete -> A
				c.deliver(c.a); // A's request -> B
			}
			c.q.deliver_all();
			expect_one_pair(c.q);
			EXPECT_EQ(children_of(c.b).at(0).spi_in, sa_b);
			expect_still_rekeys(c.q);
		}
}

TEST(ChildCollision, DelayedRequestMore)
{
	// RFC 7296 §2.25: A's request arrives only after B's Delete exchange
	// ended: B knows no such SA (CHILD_SA_NOT_FOUND), A drops its rekey.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kThree) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		delayed_request_start(c);
		c.deliver(c.b);        // B's Delete -> A
		c.deliver_second(c.a); // its answer -> B, overtaking A's request
		EXPECT_TRUE(c.gone(c.b, c.old_b.spi_in));
		c.deliver(c.a); // A's request, at last
		c.q.deliver_all();
		expect_one_pair(c.q);
		expect_still_rekeys(c.q);
	}
}

TEST(ChildCollision, DelayedRequestMoreDelete)
{
	// RFC 7296 §2.25, §1.4.1: as above, and B deletes the new SA as well
	// before A's request arrives: nothing is left, and A's late rekey
	// creates nothing.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kThree) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		delayed_request_start(c);
		c.deliver(c.b);        // B's Delete of the old SA -> A
		c.deliver_second(c.a); // its answer -> B
		c.expire(c.b, c.other_child(c.b, {c.old_b.spi_in}));
		c.deliver(c.b);        // B's Delete of the new SA -> A
		c.deliver_second(c.a); // its answer -> B
		c.deliver(c.a);        // A's request, at last
		c.q.deliver_all();
		expect_no_child(c.q);
	}
}

TEST(ChildCollision, KeInvalidDuringCollision)
{
	// RFC 7296 §1.3, §2.8.1: both rekey with PFS, but B does not take A's
	// group and answers INVALID_KE_PAYLOAD. A retries with the group named,
	// but B's own rekey, in a group A accepts, has replaced the SA by then:
	// one pair must be left, B's.
	FOR_EACH_ROLE(flip)
	for (bool b_first : {false, true}) {
		SCOPED_TRACE(b_first ? "B's request first" : "A's request first");
		ConnOptions a_opt;
		a_opt.esp_proposals = "\"aes128gcm16-ecp256\", \"aes128gcm16-ecp384\"";
		ConnOptions b_opt = a_opt.mirrored();
		b_opt.esp_proposals = "\"aes128gcm16-ecp384\"";
		Pair q;
		Side &a = flip ? q.right : q.left, &b = flip ? q.left : q.right;
		a.configure((flip ? a_opt.mirrored() : a_opt).toml());
		b.configure((flip ? b_opt.mirrored() : b_opt).toml());
		q.left.engine->up("site");
		q.deliver_all();
		ASSERT_TRUE(q.left.established());
		a.engine->rekey_child("site", "net");
		b.engine->rekey_child("site", "net");
		uint32_t sa_b = newest_spi(b);
		q.deliver_one(b_first ? b : a);
		q.deliver_one(b_first ? a : b);
		q.deliver_all();
		expect_one_pair(q);
		EXPECT_EQ(children_of(b).at(0).spi_in, sa_b);
		EXPECT_EQ(q.left.kernel.inbound.begin()->second.algorithms.dh, ike::dh::ECP_384);
		expect_still_rekeys(q);
	}
}

TEST(ChildCollision, ResponderIncorrectDelete)
{
	// RFC 7296 §2.8.1: B lost the collision and deletes its own SA, but
	// then also sends a Delete for the old SA (as a faulty peer might),
	// and that reaches A before B's answer. A's SA must survive on both
	// sides.
	static const Lowest b_loses{"Ni(B) lowest", {0xff, 0xff}, {0x00, 0xff}, true};
	FOR_EACH_ROLE(flip)
	{
		Case c(flip, &b_loses);
		c.a.engine->rekey_child("site", "net");
		uint32_t sa_a = newest_spi(c.a);
		c.b.engine->rekey_child("site", "net");
		c.deliver(c.a);        // A's request -> B
		c.deliver(c.b);        // B's request -> A
		c.deliver(c.a);        // A's answer -> B: B lost
		c.deliver_second(c.b); // B's Delete of its own SA -> A
		c.deliver(c.a);        // its answer -> B
		c.expire(c.b, c.old_b.spi_in);
		c.deliver_second(c.b); // the stray Delete of the old SA -> A
		c.q.deliver_all();     // B's answer to A last
		expect_one_pair(c.q);
		EXPECT_EQ(children_of(c.a).at(0).spi_in, sa_a);
		expect_still_rekeys(c.q);
	}
}

TEST(ChildCollision, Delete)
{
	// RFC 7296 §2.25, §1.4.1: A rekeys the CHILD_SA B deletes; the
	// requests cross. B answers CHILD_SA_NOT_FOUND (strongSwan:
	// TEMPORARY_FAILURE), A takes the Delete: nothing is left.
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_child("site", "net");
		c.expire(c.b, c.old_b.spi_in);
		c.deliver(c.a); // A's rekey -> B
		c.deliver(c.b); // B's Delete -> A
		c.q.deliver_all();
		expect_no_child(c.q);
	}
}

TEST(ChildCollision, DeleteDropDelete)
{
	// RFC 7296 §2.25: B's Delete is held back: A hears "not found" for its
	// rekey before it learns of the Delete, then takes the Delete.
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_child("site", "net");
		c.expire(c.b, c.old_b.spi_in);
		c.deliver(c.a);        // A's rekey -> B
		c.deliver_second(c.b); // B's answer overtakes its Delete
		c.q.deliver_all();
		expect_no_child(c.q);
	}
}

TEST(ChildCollision, DeleteDropRekey)
{
	// RFC 7296 §2.25: A's rekey is held back: A answers B's Delete first,
	// so when the rekey reaches B the SA is gone (CHILD_SA_NOT_FOUND).
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_child("site", "net");
		c.expire(c.b, c.old_b.spi_in);
		c.deliver(c.b);        // B's Delete -> A
		c.deliver_second(c.a); // A's answer overtakes A's rekey
		c.q.deliver_all();
		expect_no_child(c.q);
	}
}

TEST(ChildCollision, DeleteDelayedResponse)
{
	// RFC 7296 §1.4.1, §2.8: B answers A's rekey, then deletes the new SA;
	// the Delete reaches A before the answer, naming an SPI A does not
	// know yet. When the answer comes A must not keep an SA B no longer
	// has, and deletes the old one as after any rekey.
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_child("site", "net");
		c.deliver(c.a); // A's rekey -> B
		uint32_t fresh_at_b = newest_spi(c.b);
		c.expire(c.b, fresh_at_b);
		c.deliver_second(c.b); // B's Delete overtakes its answer
		c.q.deliver_all();
		expect_no_child(c.q);
	}
}

TEST(ChildCollision, IkeRekey)
{
	// RFC 7296 §2.25: A rekeys the CHILD_SA while B rekeys the IKE SA; each
	// answers the other TEMPORARY_FAILURE and nothing changes.
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_child("site", "net");
		c.b.engine->rekey_ike("site");
		c.deliver(c.a);
		c.deliver(c.b);
		c.q.deliver_all();
		expect_one_pair(c.q);
		EXPECT_EQ(children_of(c.a).at(0).spi_in, c.old_a.spi_in);
		EXPECT_EQ(c.q.left.sa()->spi_i(), c.ike_i);
		EXPECT_EQ(c.q.left.sa()->spi_r(), c.ike_r);
		expect_still_rekeys(c.q);
		c.b.engine->rekey_ike("site"); // and the IKE SA rekeys too
		c.q.deliver_all();
		expect_one_pair(c.q);
		EXPECT_NE(c.q.left.sa()->spi_i(), c.ike_i);
	}
}

TEST(ChildCollision, IkeDelete)
{
	// RFC 7296 §1.4.1, §2.25: A rekeys the CHILD_SA while B deletes the IKE
	// SA: B refuses the rekey, A takes the Delete, everything goes.
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_child("site", "net");
		c.b.engine->down("site");
		c.deliver(c.a); // A's rekey -> B
		c.deliver(c.b); // B's Delete -> A
		c.q.deliver_all();
		expect_nothing(c.q);
	}
}

// ---------------------------------------------------------------------------
// IKE SA collisions. The survivor of §2.8.2 is told apart by its
// initiator: the side whose rekey made it (§2.18).

void expect_ike_survivor(Case &c, bool a_survives)
{
	auto sas = c.a.engine->ike_sas("site");
	ASSERT_EQ(sas.size(), 1u);
	EXPECT_EQ(sas[0]->initiator(), a_survives) << "the wrong new IKE SA survived";
	// §2.18: the children move over unchanged.
	EXPECT_EQ(children_of(c.a).at(0).spi_in, c.old_a.spi_in);
}

void wait_for_one_ike_sa_each(Pair &q)
{
	// §2.8.2: a redundant SA whose creator never learnt it lost is deleted
	// by the winner after a while.
	q.run_until([&] { return q.left.engine->ike_sa_count() == 1 && q.right.engine->ike_sa_count() == 1; }, 5s);
}

TEST(IkeCollision, Crossing)
{
	// RFC 7296 §2.8.2: both rekey the IKE SA, the requests cross; the new
	// SA made with the lowest nonce is deleted by its initiator.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kFour) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		c.a.engine->rekey_ike("site");
		c.b.engine->rekey_ike("site");
		c.deliver(c.a);
		c.deliver(c.b);
		c.q.deliver_all();
		wait_for_one_ike_sa_each(c.q);
		expect_one_pair(c.q);
		expect_ike_survivor(c, n.a_survives);
		expect_still_rekeys(c.q);
	}
}

TEST(IkeCollision, DelayedResponse)
{
	// RFC 7296 §2.8.2: B completes first and its Delete (of the old SA
	// when it won, of its own new SA when it lost) overtakes its answer to
	// A's request.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kFour) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		c.a.engine->rekey_ike("site");
		c.b.engine->rekey_ike("site");
		c.deliver(c.a); // A's request -> B
		c.deliver(c.b); // B's request -> A
		c.deliver(c.a); // A's answer -> B: B's rekey completes
		c.deliver_second(c.b); // B's Delete -> A, before B's answer
		c.q.deliver_all();
		wait_for_one_ike_sa_each(c.q);
		expect_one_pair(c.q);
		expect_ike_survivor(c, n.a_survives);
		expect_still_rekeys(c.q);
	}
}

// B's request reaches A and A's answer reaches B before A's request does:
// B completes a plain rekey and deletes the old IKE SA.
void ike_delayed_request_start(Case &c)
{
	c.a.engine->rekey_ike("site");
	c.b.engine->rekey_ike("site");
	c.deliver(c.b);        // B's request -> A (A notices)
	c.deliver_second(c.a); // A's answer overtakes A's request
	ASSERT_EQ(c.b.env.outbox.size(), 1u); // B's Delete of the old IKE SA
}

TEST(IkeCollision, DroppedRequest)
{
	// RFC 7296 §2.8.2: A's request is lost; B never sees a collision and
	// its SA is the one that stays, whatever the nonces say.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kThree) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		ike_delayed_request_start(c);
		ASSERT_TRUE(c.q.drop_one(c.a)); // A's request
		c.q.deliver_all();
		wait_for_one_ike_sa_each(c.q);
		expect_one_pair(c.q);
		expect_ike_survivor(c, false);
		expect_still_rekeys(c.q);
	}
}

TEST(IkeCollision, DelayedRequest)
{
	// RFC 7296 §2.8.2, §2.25: A's request reaches B while B deletes the old
	// SA (TEMPORARY_FAILURE); A takes B's Delete first, so the answer
	// comes to an SA that is gone.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kThree) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		ike_delayed_request_start(c);
		c.deliver(c.a); // A's request -> B (B: TEMPORARY_FAILURE)
		c.deliver(c.b); // B's Delete -> A
		c.q.deliver_all();
		wait_for_one_ike_sa_each(c.q);
		expect_one_pair(c.q);
		expect_ike_survivor(c, false);
		expect_still_rekeys(c.q);
	}
}

TEST(IkeCollision, DelayedRequestAndDelete)
{
	// RFC 7296 §2.8.2, §2.25: as above but the TEMPORARY_FAILURE reaches A
	// before B's Delete: A gives up its rekey, must not try again, and
	// follows the children to B's SA.
	FOR_EACH_ROLE(flip)
	for (const auto &n : kThree) {
		SCOPED_TRACE(n.name);
		Case c(flip, &n);
		ike_delayed_request_start(c);
		c.deliver(c.a);        // A's request -> B
		c.deliver_second(c.b); // TEMPORARY_FAILURE -> A, before the Delete
		c.q.deliver_all();
		wait_for_one_ike_sa_each(c.q);
		expect_one_pair(c.q);
		expect_ike_survivor(c, false);
		expect_still_rekeys(c.q);
	}
}

TEST(IkeCollision, Delete)
{
	// RFC 7296 §1.4.1, §2.25: A rekeys the IKE SA while B deletes it; the
	// requests cross. Everything goes on both sides.
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_ike("site");
		c.b.engine->down("site");
		c.deliver(c.a); // A's rekey -> B
		c.deliver(c.b); // B's Delete -> A
		c.q.deliver_all();
		expect_nothing(c.q);
	}
}

TEST(IkeCollision, DeleteDropDelete)
{
	// RFC 7296 §2.25: B's Delete is held back, so A first hears
	// TEMPORARY_FAILURE for its rekey, then takes the Delete.
	FOR_EACH_ROLE(flip)
	{
		Case c(flip);
		c.a.engine->rekey_ike("site");
		c.b.engine->down("site");
		c.deliver(c.a);        // A's rekey -> B
		c.deliver_second(c.b); // B's answer overtakes its Delete
		c.q.deliver_all();
		expect_nothing(c.q);
	}
}

} // namespace
} // namespace umigame::iked::test
