#include "umigame/mld/engine.h"

#include <algorithm>

namespace umigame::mld {

namespace {

using Set = std::set<Ipv6Address>;

Set minus(const Set &a, const Set &b)
{
	Set out;
	std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
	return out;
}

Set intersect(const Set &a, const Set &b)
{
	Set out;
	std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
	return out;
}

Set unite(const Set &a, const Set &b)
{
	Set out = a;
	out.insert(b.begin(), b.end());
	return out;
}

// Groups worth proxying: multicast with a scope wider than link-local
// (RFC 4291 §2.7); ff02::/16 and narrower never leave the link.
bool proxied_group(const Ipv6Address &g)
{
	return g.is_multicast() && (g.bytes[1] & 0x0f) > 2;
}

std::vector<Ipv6Address> list(const Set &s)
{
	return {s.begin(), s.end()};
}

int64_t ms_left(TimePoint t, TimePoint now)
{
	return t > now ? std::chrono::duration_cast<Millis>(t - now).count() : 0;
}

} // namespace

Engine::Engine(EngineConfig config, Output &out, std::function<uint32_t(uint32_t)> random)
	: config_(std::move(config)), out_(out), random_(std::move(random)),
	  upstream_robustness_(config_.upstream.robustness)
{
	for (const auto &c : config_.downstream) {
		Downstream d;
		d.config = c;
		d.robustness = c.robustness;
		d.query_interval = c.query_interval;
		downstream_.push_back(std::move(d));
	}
}

bool Engine::reconfigure(const EngineConfig &config)
{
	if (config.upstream.ifindex != config_.upstream.ifindex || config.downstream.size() != downstream_.size())
		return false;
	for (size_t i = 0; i < downstream_.size(); i++)
		if (config.downstream[i].ifindex != downstream_[i].config.ifindex)
			return false;
	config_ = config;
	for (size_t i = 0; i < downstream_.size(); i++) {
		auto &d = downstream_[i];
		d.config = config.downstream[i];
		if (d.is_querier) {
			d.robustness = d.config.robustness;
			d.query_interval = d.config.query_interval;
		}
	}
	return true;
}

Engine::Downstream *Engine::downstream(uint32_t ifindex)
{
	for (auto &d : downstream_)
		if (d.config.ifindex == ifindex)
			return &d;
	return nullptr;
}

const Engine::Downstream *Engine::downstream(uint32_t ifindex) const
{
	return const_cast<Engine *>(this)->downstream(ifindex);
}

// §9.4 Multicast Address Listening Interval.
Millis Engine::mali(const Downstream &d) const
{
	return d.robustness * d.query_interval + d.config.query_response_interval;
}

// §9.14 Last Listener Query Time = LLQI × LLQC (LLQC = RV, §9.9).
Millis Engine::llqt(const Downstream &d) const
{
	return d.config.last_listener_query_interval * d.robustness;
}

void Engine::soon(TimePoint t)
{
	next_deadline_ = std::min(next_deadline_, t);
}

void Engine::start(TimePoint now)
{
	for (auto &d : downstream_) {
		// §7.6: Startup Query Count (= RV, §9.7) general queries, Startup
		// Query Interval (QI / 4, §9.6) apart.
		d.startup_left = d.robustness;
		d.next_general_query = now;
		soon(now);
	}
}

void Engine::set_address(uint32_t ifindex, const Ipv6Address &address)
{
	if (auto *d = downstream(ifindex)) {
		d->address = address;
		if (d->is_querier)
			d->querier_address = address;
	}
}

void Engine::send_general_query(Downstream &d, TimePoint now)
{
	V2Query q;
	q.max_resp_code = encode_max_resp_code(uint32_t(d.config.query_response_interval.count()));
	q.qrv = uint8_t(d.config.robustness > 7 ? 0 : d.config.robustness); // §5.1.8
	q.qqic = encode_qqic(uint32_t(d.config.query_interval.count() / 1000));
	out_.send(d.config.ifindex, kAllNodes, q.serialize());
	d.counters.queries_sent++;
	Millis interval = d.config.query_interval;
	if (d.startup_left > 0 && --d.startup_left > 0)
		interval = d.config.query_interval / 4;
	d.next_general_query = now + interval;
	soon(d.next_general_query);
}

void Engine::receive(uint32_t ifindex, const Ipv6Address &source, const Message &m, TimePoint now)
{
	bool is_query = std::holds_alternative<V2Query>(m) ||
			(std::holds_alternative<V1Message>(m) && std::get<V1Message>(m).type == kTypeQuery);
	if (ifindex == config_.upstream.ifindex) {
		if (!is_query)
			return; // other hosts' reports: nothing for a host to do (MLDv2 has no suppression)
		upstream_counters_.queries_received++;
		if (!source.is_link_local()) { // §5.1.14
			upstream_counters_.ignored_not_link_local++;
			return;
		}
		upstream_query(m, now);
		return;
	}
	Downstream *d = downstream(ifindex);
	if (!d)
		return;
	if (is_query) {
		d->counters.queries_received++;
		if (!source.is_link_local()) { // §5.1.14
			d->counters.ignored_not_link_local++;
			return;
		}
		query_received(*d, source, m, now);
		return;
	}
	d->counters.reports_received++;
	// §5.2.13: a Report from :: or a non-link-local source is discarded.
	if (!source.is_link_local()) {
		d->counters.ignored_not_link_local++;
		return;
	}
	if (auto *v1 = std::get_if<V1Message>(&m)) {
		// §8.3.2: an MLDv1 Report is IS_EX({}), a Done is TO_IN({}).
		Record r;
		r.address = v1->address;
		if (v1->type == kTypeV1Report) {
			d->counters.v1_reports++;
			r.type = RecordType::mode_is_exclude;
		} else {
			d->counters.v1_dones++;
			r.type = RecordType::change_to_include;
		}
		record(*d, r, true, now);
		return;
	}
	for (const auto &r : std::get<V2Report>(m).records) {
		d->counters.records++;
		record(*d, r, false, now);
	}
}

void Engine::query_received(Downstream &d, const Ipv6Address &source, const Message &m, TimePoint now)
{
	// §7.6.2: the lowest address is the querier. A query from a lower
	// address silences us until Other Querier Present Timeout (§9.5:
	// RV × QI + QRI / 2) passes without one.
	bool lower = d.address == Ipv6Address{} || source < d.address;
	if (!lower)
		return;
	if (d.is_querier || source <= d.querier_address || now >= d.other_querier_present) {
		d.is_querier = false;
		d.querier_address = source;
		d.startup_left = 0;
	}
	if (source != d.querier_address)
		return;
	if (auto *q = std::get_if<V2Query>(&m)) {
		// §5.1.8, §5.1.9: non-queriers adopt the querier's robustness and
		// query interval.
		if (q->qrv)
			d.robustness = q->qrv;
		if (q->query_interval_s())
			d.query_interval = Millis(q->query_interval_s() * 1000);
	}
	d.other_querier_present = now + d.robustness * d.query_interval + d.config.query_response_interval / 2;
	soon(d.other_querier_present);
	// §7.6.3.2 (router-side processing): a specific query without S
	// lowers the timers it names to LLQT, on every router of the link.
	auto *q = std::get_if<V2Query>(&m);
	if (!q || q->general() || q->suppress)
		return;
	auto it = d.groups.find(q->address);
	if (it == d.groups.end())
		return;
	TimePoint lowered = now + llqt(d);
	if (q->sources.empty()) {
		if (it->second.mode == FilterMode::exclude)
			it->second.filter_timer = std::min(it->second.filter_timer, lowered);
	} else {
		for (const auto &s : q->sources) {
			auto st = it->second.sources.find(s);
			if (st != it->second.sources.end() && st->second > now)
				st->second = std::min(st->second, lowered);
		}
	}
	soon(lowered);
}

void Engine::record(Downstream &d, const Record &r, bool v1, TimePoint now)
{
	if (!proxied_group(r.address)) {
		d.counters.ignored_group++;
		return;
	}
	auto it = d.groups.find(r.address);
	if (it == d.groups.end()) {
		// A record that asks for nothing on a group we do not track changes
		// nothing (INCLUDE({}) stays INCLUDE({})).
		bool empty_include = r.sources.empty() && (r.type == RecordType::mode_is_include ||
							  r.type == RecordType::change_to_include ||
							  r.type == RecordType::allow_new_sources);
		if (r.type == RecordType::block_old_sources || empty_include)
			return;
		if (d.groups.size() >= d.config.max_groups) {
			d.counters.refused_limits++;
			return;
		}
		it = d.groups.emplace(r.address, GroupState{}).first;
	}
	GroupState &gs = it->second;
	Set b(r.sources.begin(), r.sources.end());
	if (b.size() > d.config.max_sources) {
		d.counters.refused_limits++;
		b = Set(b.begin(), std::next(b.begin(), ptrdiff_t(d.config.max_sources)));
	}
	RecordType type = r.type;
	if (v1)
		gs.v1_host_present = now + mali(d); // §8.3.2, §9.12 Older Version Host Present Timeout
	if (gs.v1_host_present > now && !v1) {
		// §8.3.2: with MLDv1 hosts on the group, BLOCK is ignored and TO_EX
		// counts as TO_EX({}).
		if (type == RecordType::block_old_sources)
			return;
		if (type == RecordType::change_to_exclude)
			b.clear();
	}
	expire(gs, now);
	TimePoint m = now + mali(d);
	Set x, y; // INCLUDE: x is A. EXCLUDE: x requested (timer > 0), y excluded.
	for (const auto &[s, t] : gs.sources)
		(t > now ? x : y).insert(s);
	auto set_timers = [&](const Set &s, TimePoint t) {
		for (const auto &a : s)
			if (gs.sources.size() < d.config.max_sources || gs.sources.count(a))
				gs.sources[a] = t;
			else
				d.counters.refused_limits++;
	};
	auto keep_only = [&](const Set &keep) {
		std::erase_if(gs.sources, [&](const auto &e) { return !keep.count(e.first); });
	};
	std::optional<Set> query_sources_of;
	bool query_whole_group = false;
	if (gs.mode == FilterMode::include) {
		const Set &a = x;
		switch (type) {
		case RecordType::mode_is_include: // §7.4.1: INCLUDE(A+B), (B)=MALI
		case RecordType::allow_new_sources: // §7.4.2: INCLUDE(A+B), (B)=MALI
			set_timers(b, m);
			break;
		case RecordType::mode_is_exclude: // §7.4.1: EXCLUDE(A*B, B-A), (B-A)=0, Delete(A-B), FT=MALI
		case RecordType::change_to_exclude: // §7.4.2: same, and Send Q(MA, A*B)
			keep_only(intersect(a, b));
			set_timers(minus(b, a), TimePoint{});
			gs.mode = FilterMode::exclude;
			gs.filter_timer = m;
			if (type == RecordType::change_to_exclude)
				query_sources_of = intersect(a, b);
			break;
		case RecordType::change_to_include: // §7.4.2: INCLUDE(A+B), (B)=MALI, Send Q(MA, A-B)
			set_timers(b, m);
			query_sources_of = minus(a, b);
			break;
		case RecordType::block_old_sources: // §7.4.2: INCLUDE(A), Send Q(MA, A*B)
			query_sources_of = intersect(a, b);
			break;
		}
	} else {
		switch (type) {
		case RecordType::mode_is_include: // §7.4.1: EXCLUDE(X+A, Y-A), (A)=MALI
		case RecordType::allow_new_sources: // §7.4.2: the same
			set_timers(b, m);
			break;
		case RecordType::mode_is_exclude: // §7.4.1: EXCLUDE(A-Y, Y*A), (A-X-Y)=MALI, Delete(X-A), Delete(Y-A), FT=MALI
		case RecordType::change_to_exclude: { // §7.4.2: (A-X-Y)=FT, …, Send Q(MA, A-Y), FT=MALI
			Set fresh = minus(minus(b, x), y);
			TimePoint fresh_timer = type == RecordType::mode_is_exclude ? m : gs.filter_timer;
			keep_only(b);
			set_timers(fresh, fresh_timer);
			gs.filter_timer = m;
			if (type == RecordType::change_to_exclude)
				query_sources_of = minus(b, y);
			break;
		}
		case RecordType::change_to_include: // §7.4.2: EXCLUDE(X+A, Y-A), (A)=MALI, Send Q(MA, X-A), Send Q(MA)
			set_timers(b, m);
			query_sources_of = minus(x, b);
			query_whole_group = true;
			break;
		case RecordType::block_old_sources: // §7.4.2: EXCLUDE(X+(A-Y), Y), (A-X-Y)=FT, Send Q(MA, A-Y)
			set_timers(minus(minus(b, x), y), gs.filter_timer);
			query_sources_of = minus(b, y);
			break;
		}
	}
	bool ask = false;
	if (query_sources_of && !query_sources_of->empty())
		ask = query_sources(d, gs, *query_sources_of, now);
	if (query_whole_group)
		ask = query_group(d, gs, now) || ask;
	if (ask)
		send_specific_queries(d, r.address, gs, now);
	Ipv6Address g = r.address;
	if (expire(gs, now))
		d.groups.erase(g);
	else
		for (const auto &[s, t] : gs.sources)
			if (t > now)
				soon(t);
	if (auto f = d.groups.find(g); f != d.groups.end() && f->second.mode == FilterMode::exclude)
		soon(f->second.filter_timer);
	changed(g, now);
}

// §7.6.3.1: Q(MA). The querier lowers the filter timer to LLQT and asks
// LLQC times, LLQI apart; with fast leave the group's listener is gone now.
bool Engine::query_group(Downstream &d, GroupState &gs, TimePoint now)
{
	if (gs.mode != FilterMode::exclude)
		return false;
	if (d.config.fast_leave) {
		gs.filter_timer = now;
		return false;
	}
	if (!d.is_querier)
		return false; // the querier's own query lowers our timers (§7.6.3.2)
	gs.filter_timer = std::min(gs.filter_timer, now + llqt(d));
	gs.group_queries_left = d.robustness;
	return true;
}

// §7.6.3.2: Q(MA, A): the sources' timers lowered to LLQT, asked about LLQC
// times.
bool Engine::query_sources(Downstream &d, GroupState &gs, const Set &a, TimePoint now)
{
	if (d.config.fast_leave) {
		for (const auto &s : a)
			if (auto it = gs.sources.find(s); it != gs.sources.end() && it->second > now)
				it->second = now;
		return false;
	}
	if (!d.is_querier)
		return false;
	for (const auto &s : a) {
		auto it = gs.sources.find(s);
		if (it == gs.sources.end())
			continue;
		it->second = std::min(it->second, now + llqt(d));
		gs.source_queries_left[s] = d.robustness;
	}
	return !gs.source_queries_left.empty();
}

void Engine::send_specific_queries(Downstream &d, const Ipv6Address &g, GroupState &gs, TimePoint now)
{
	TimePoint threshold = now + llqt(d);
	V2Query q;
	q.max_resp_code = encode_max_resp_code(uint32_t(d.config.last_listener_query_interval.count()));
	q.address = g;
	q.qrv = uint8_t(d.config.robustness > 7 ? 0 : d.config.robustness);
	q.qqic = encode_qqic(uint32_t(d.config.query_interval.count() / 1000));
	if (gs.group_queries_left > 0) {
		gs.group_queries_left--;
		if (gs.v1_host_present > now) {
			// §8.3.2: MLDv1 hosts on the group get an MLDv1 query.
			V1Message v1{kTypeQuery, uint16_t(std::min<int64_t>(q.max_response_delay_ms(), 65535)), g};
			out_.send(d.config.ifindex, g, v1.serialize());
		} else {
			// §7.6.3.1: S set when a report has raised the filter timer
			// above LLQT since the first query.
			q.suppress = gs.filter_timer > threshold;
			out_.send(d.config.ifindex, g, q.serialize());
		}
		d.counters.queries_sent++;
	}
	if (!gs.source_queries_left.empty()) {
		// §7.6.3.2: two queries, sources whose timers are above LLQT (S
		// set) and those at or below it (S clear).
		V2Query above = q, below = q;
		above.suppress = true;
		for (auto it = gs.source_queries_left.begin(); it != gs.source_queries_left.end();) {
			auto st = gs.sources.find(it->first);
			if (st != gs.sources.end())
				(st->second > threshold ? above : below).sources.push_back(it->first);
			if (st == gs.sources.end() || --it->second == 0)
				it = gs.source_queries_left.erase(it);
			else
				++it;
		}
		for (auto *part : {&above, &below})
			if (!part->sources.empty()) {
				out_.send(d.config.ifindex, g, part->serialize());
				d.counters.queries_sent++;
			}
	}
	if (gs.group_queries_left > 0 || !gs.source_queries_left.empty()) {
		gs.next_specific_query = now + d.config.last_listener_query_interval;
		soon(gs.next_specific_query);
	}
}

// §7.2.3, §7.5: timers that ran out. INCLUDE forgets expired sources;
// EXCLUDE keeps them at 0; when the filter timer expires the group goes
// INCLUDE with its requested sources, or away when there are none.
bool Engine::expire(GroupState &gs, TimePoint now)
{
	if (gs.mode == FilterMode::exclude && gs.filter_timer <= now) {
		gs.mode = FilterMode::include;
		gs.group_queries_left = 0;
	}
	if (gs.mode == FilterMode::include)
		std::erase_if(gs.sources, [&](const auto &e) { return e.second <= now; });
	return gs.mode == FilterMode::include && gs.sources.empty();
}

bool Engine::wanted(uint32_t ifindex, const Ipv6Address &source, const Ipv6Address &group, TimePoint now) const
{
	const Downstream *d = downstream(ifindex);
	if (!d)
		return false;
	auto it = d->groups.find(group);
	if (it == d->groups.end())
		return false;
	const GroupState &gs = it->second;
	auto st = gs.sources.find(source);
	bool listed = st != gs.sources.end() && st->second > now;
	if (gs.mode == FilterMode::include)
		return listed;
	if (gs.filter_timer <= now)
		return listed;
	return st == gs.sources.end() || listed; // not in Y
}

std::set<Ipv6Address> Engine::named_sources(const Ipv6Address &group, TimePoint now) const
{
	Set out;
	for (const auto &d : downstream_)
		if (auto it = d.groups.find(group); it != d.groups.end())
			for (const auto &[s, t] : it->second.sources)
				if (t > now)
					out.insert(s);
	return out;
}

std::optional<Membership> Engine::interface_membership(uint32_t ifindex, const Ipv6Address &group,
						       TimePoint now) const
{
	const Downstream *d = downstream(ifindex);
	if (!d)
		return std::nullopt;
	auto it = d->groups.find(group);
	if (it == d->groups.end())
		return std::nullopt;
	const GroupState &gs = it->second;
	Membership m;
	bool exclude = gs.mode == FilterMode::exclude && gs.filter_timer > now;
	m.mode = exclude ? FilterMode::exclude : FilterMode::include;
	for (const auto &[s, t] : gs.sources)
		if (exclude ? t <= now : t > now)
			m.sources.insert(s);
	if (!exclude && m.sources.empty())
		return std::nullopt;
	return m;
}

// RFC 4605 §4.1 with the rules of RFC 3810 §4.2: any EXCLUDE makes the
// merge EXCLUDE, of the sources every EXCLUDE excludes and no INCLUDE asks
// for; otherwise INCLUDE of every source asked for.
Membership Engine::merge(const Ipv6Address &g, TimePoint now) const
{
	std::optional<Set> excluded;
	Set included;
	for (const auto &d : downstream_) {
		auto m = interface_membership(d.config.ifindex, g, now);
		if (!m)
			continue;
		if (m->mode == FilterMode::exclude)
			excluded = excluded ? intersect(*excluded, m->sources) : m->sources;
		else
			included = unite(included, m->sources);
	}
	if (excluded)
		return {FilterMode::exclude, minus(*excluded, included)};
	return {FilterMode::include, included};
}

std::map<Ipv6Address, Membership> Engine::merged(TimePoint now) const
{
	std::map<Ipv6Address, Membership> out;
	for (const auto &d : downstream_)
		for (const auto &[g, gs] : d.groups)
			if (!out.count(g)) {
				Membership m = merge(g, now);
				if (m.mode == FilterMode::exclude || !m.sources.empty())
					out[g] = m;
			}
	return out;
}

// The merged state of `g` may have changed: tell the daemon (forwarding)
// and upstream (RFC 3810 §6.1 state-change records).
void Engine::changed(const Ipv6Address &g, TimePoint now)
{
	out_.membership_changed(g);
	Membership now_m = merge(g, now);
	auto &ug = upstream_[g];
	const Membership &old = ug.reported;
	if (now_m == old) {
		if (ug.mode_left == 0 && ug.allow_left.empty() && ug.block_left.empty() &&
		    old == Membership{})
			upstream_.erase(g);
		return;
	}
	unsigned rv = upstream_robustness_;
	if (now_m.mode != old.mode || ug.mode_left > 0) {
		// §6.1: a filter-mode change is reported as TO_EX/TO_IN with the
		// whole new list, and pending source changes are dropped; while
		// one is pending, it carries the list as it is now.
		ug.mode_left = rv;
		ug.allow_left.clear();
		ug.block_left.clear();
	} else {
		bool inc = now_m.mode == FilterMode::include;
		Set allow = inc ? minus(now_m.sources, old.sources) : minus(old.sources, now_m.sources);
		Set block = inc ? minus(old.sources, now_m.sources) : minus(now_m.sources, old.sources);
		for (const auto &s : allow) {
			ug.allow_left[s] = rv;
			ug.block_left.erase(s);
		}
		for (const auto &s : block) {
			ug.block_left[s] = rv;
			ug.allow_left.erase(s);
		}
	}
	ug.reported = now_m;
	pending_.insert(g);
	next_state_change_ = now; // §6.1: at once
}

void Engine::send_state_changes(TimePoint now)
{
	next_state_change_ = TimePoint::max();
	if (!upstream_is_up_)
		return;
	std::vector<Record> records;
	bool v1 = v1_querier_present_ > now;
	bool more = false;
	for (auto p = pending_.begin(); p != pending_.end();) {
		auto it = upstream_.find(*p);
		if (it == upstream_.end()) {
			p = pending_.erase(p);
			continue;
		}
		const Ipv6Address &g = it->first;
		UpstreamGroup &ug = it->second;
		bool joined = ug.reported.mode == FilterMode::exclude || !ug.reported.sources.empty();
		if (v1 && (ug.mode_left || !ug.allow_left.empty() || !ug.block_left.empty())) {
			// §8.2.1: with an MLDv1 querier upstream, MLDv1 Report or Done.
			if (joined)
				out_.send(config_.upstream.ifindex, g, V1Message{kTypeV1Report, 0, g}.serialize());
			else
				out_.send(config_.upstream.ifindex, kAllRouters, V1Message{kTypeV1Done, 0, g}.serialize());
			ug.mode_left = ug.mode_left ? ug.mode_left - 1 : 0;
			ug.allow_left.clear();
			ug.block_left.clear();
		} else if (ug.mode_left > 0) {
			ug.mode_left--;
			records.push_back({ug.reported.mode == FilterMode::exclude ? RecordType::change_to_exclude
										    : RecordType::change_to_include,
					   g, list(ug.reported.sources), {}});
		} else {
			Record allow{RecordType::allow_new_sources, g, {}, {}};
			Record block{RecordType::block_old_sources, g, {}, {}};
			for (auto *m : {&ug.allow_left, &ug.block_left})
				for (auto s = m->begin(); s != m->end();) {
					(m == &ug.allow_left ? allow : block).sources.push_back(s->first);
					s = --s->second == 0 ? m->erase(s) : std::next(s);
				}
			for (auto *r : {&allow, &block})
				if (!r->sources.empty())
					records.push_back(*r);
		}
		bool pending = ug.mode_left || !ug.allow_left.empty() || !ug.block_left.empty();
		more = more || pending;
		if (!pending && !joined)
			upstream_.erase(it);
		p = pending ? std::next(p) : pending_.erase(p);
	}
	for (const auto &report : split_report(records)) {
		out_.send(config_.upstream.ifindex, kAllMldv2Routers, report.serialize());
		upstream_counters_.queries_sent++; // reports sent, on the upstream
	}
	if (more) {
		// §6.1: retransmissions at random within the Unsolicited Report Interval.
		next_state_change_ = now + Millis(1 + random_(uint32_t(config_.unsolicited_report_interval.count())));
	}
}

void Engine::upstream_query(const Message &m, TimePoint now)
{
	uint32_t delay_ms;
	Ipv6Address group;
	std::vector<Ipv6Address> sources;
	if (auto *v1 = std::get_if<V1Message>(&m)) {
		// §8.2.1: an MLDv1 querier upstream; Older Version Querier Present
		// Timeout is RV × QI + QRI (§9.12) with the querier's own delay.
		v1_querier_present_ = now + upstream_robustness_ * config_.upstream.query_interval +
				      Millis(v1->max_response_delay);
		delay_ms = v1->max_response_delay;
		group = v1->address;
	} else {
		const auto &q = std::get<V2Query>(m);
		if (q.qrv)
			upstream_robustness_ = q.qrv; // §5.1.8
		delay_ms = q.max_response_delay_ms();
		group = q.address;
		sources = q.sources;
	}
	TimePoint at = now + Millis(random_(delay_ms));
	// §6.2: a pending general response earlier than this one covers it.
	if (general_response_ && *general_response_ <= at)
		return;
	if (group == Ipv6Address{}) {
		general_response_ = at;
		group_responses_.clear();
	} else {
		auto &p = group_responses_[group];
		bool fresh = p.at == TimePoint{};
		if (fresh || at < p.at)
			p.at = at;
		if (sources.empty())
			p.whole_group = true, p.sources.clear();
		else if (!p.whole_group)
			p.sources.insert(sources.begin(), sources.end());
	}
	next_response_ = std::min(next_response_, at);
}

void Engine::send_current_state(const std::vector<Record> &records)
{
	if (!upstream_is_up_ || records.empty())
		return;
	for (const auto &report : split_report(records))
		out_.send(config_.upstream.ifindex, kAllMldv2Routers, report.serialize());
}

void Engine::upstream_up(TimePoint now)
{
	upstream_is_up_ = true;
	// Report everything as if it had just changed from nothing (§6.1).
	for (auto &[g, ug] : upstream_) {
		ug.mode_left = ug.reported.mode == FilterMode::exclude ? upstream_robustness_ : 0;
		ug.allow_left.clear();
		ug.block_left.clear();
		if (ug.reported.mode == FilterMode::include)
			for (const auto &s : ug.reported.sources)
				ug.allow_left[s] = upstream_robustness_;
		pending_.insert(g);
	}
	next_state_change_ = now;
}

void Engine::upstream_down()
{
	upstream_is_up_ = false;
}

void Engine::tick(TimePoint now)
{
	// The downstream timers need a scan of every group: only when one of
	// them is due, not for each upstream report or response.
	if (next_deadline_ <= now)
		scan_downstream(now);
	if (next_state_change_ <= now)
		send_state_changes(now);
	if (next_response_ <= now)
		send_responses(now);
}

void Engine::scan_downstream(TimePoint now)
{
	TimePoint next = TimePoint::max();
	auto later = [&](TimePoint t) {
		if (t > now)
			next = std::min(next, t);
	};
	for (auto &d : downstream_) {
		if (!d.is_querier && d.other_querier_present <= now) {
			// §7.6.2: the other querier is gone; we take over and ask at once.
			d.is_querier = true;
			d.querier_address = d.address;
			d.robustness = d.config.robustness;
			d.query_interval = d.config.query_interval;
			d.next_general_query = now;
		}
		if (!d.is_querier)
			later(d.other_querier_present);
		if (d.is_querier && d.next_general_query <= now && d.address != Ipv6Address{})
			send_general_query(d, now);
		if (d.is_querier)
			later(d.next_general_query);
		std::vector<Ipv6Address> changed_groups;
		for (auto it = d.groups.begin(); it != d.groups.end();) {
			GroupState &gs = it->second;
			if ((gs.group_queries_left || !gs.source_queries_left.empty()) && gs.next_specific_query <= now)
				send_specific_queries(d, it->first, gs, now);
			if (gs.group_queries_left || !gs.source_queries_left.empty())
				later(gs.next_specific_query);
			// A timer that ran out since the last tick changes what is
			// wanted: the filter timer (EXCLUDE goes INCLUDE), an INCLUDE
			// source (forgotten), an EXCLUDE source (moves to the excluded
			// list; its timer is set to the epoch so the move counts once).
			bool due = gs.mode == FilterMode::exclude && gs.filter_timer <= now;
			for (auto &[s, t] : gs.sources) {
				if (t > now) {
					later(t);
				} else if (gs.mode == FilterMode::include) {
					due = true;
				} else if (t != TimePoint{}) {
					t = TimePoint{};
					due = true;
				}
			}
			if (gs.mode == FilterMode::exclude)
				later(gs.filter_timer);
			Ipv6Address g = it->first;
			bool gone = due && expire(gs, now);
			if (gone)
				it = d.groups.erase(it);
			else
				++it;
			if (due)
				changed_groups.push_back(g);
		}
		for (const auto &g : changed_groups)
			changed(g, now);
	}
	next_deadline_ = next;
}

void Engine::send_responses(TimePoint now)
{
	TimePoint next = TimePoint::max();
	auto later = [&](TimePoint t) {
		if (t > now)
			next = std::min(next, t);
	};
	if (general_response_ && *general_response_ <= now) {
		general_response_.reset();
		std::vector<Record> records;
		for (const auto &[g, m] : merged(now))
			records.push_back({m.mode == FilterMode::exclude ? RecordType::mode_is_exclude
									 : RecordType::mode_is_include,
					   g, list(m.sources), {}});
		if (v1_querier_present_ > now)
			for (const auto &r : records)
				out_.send(config_.upstream.ifindex, r.address,
					  V1Message{kTypeV1Report, 0, r.address}.serialize());
		else
			send_current_state(records);
	}
	if (general_response_)
		later(*general_response_);
	std::vector<Record> records;
	for (auto it = group_responses_.begin(); it != group_responses_.end();) {
		if (it->second.at > now) {
			later(it->second.at);
			++it;
			continue;
		}
		Membership m = merge(it->first, now);
		bool joined = m.mode == FilterMode::exclude || !m.sources.empty();
		if (joined && v1_querier_present_ > now) {
			out_.send(config_.upstream.ifindex, it->first, V1Message{kTypeV1Report, 0, it->first}.serialize());
		} else if (joined && it->second.whole_group) {
			// §6.3: a group-specific query gets the group's current state.
			records.push_back({m.mode == FilterMode::exclude ? RecordType::mode_is_exclude
									 : RecordType::mode_is_include,
					   it->first, list(m.sources), {}});
		} else if (joined) {
			// §6.3: for a group-and-source-specific query, IS_IN of the
			// queried sources we want.
			Set want = m.mode == FilterMode::include ? intersect(m.sources, it->second.sources)
								 : minus(it->second.sources, m.sources);
			if (!want.empty())
				records.push_back({RecordType::mode_is_include, it->first, list(want), {}});
		}
		it = group_responses_.erase(it);
	}
	send_current_state(records);
	next_response_ = next;
}

bool Engine::querier(uint32_t ifindex) const
{
	const Downstream *d = downstream(ifindex);
	return d && d->is_querier;
}

const Counters *Engine::counters(uint32_t ifindex) const
{
	if (ifindex == config_.upstream.ifindex)
		return &upstream_counters_;
	const Downstream *d = downstream(ifindex);
	return d ? &d->counters : nullptr;
}

size_t Engine::group_count(uint32_t ifindex) const
{
	const Downstream *d = downstream(ifindex);
	return d ? d->groups.size() : 0;
}

namespace {

nlohmann::json counters_json(const Counters &c)
{
	return {{"queries_received", c.queries_received},
		{"queries_sent", c.queries_sent},
		{"reports_received", c.reports_received},
		{"records", c.records},
		{"v1_reports", c.v1_reports},
		{"v1_dones", c.v1_dones},
		{"ignored_not_link_local", c.ignored_not_link_local},
		{"ignored_group", c.ignored_group},
		{"refused_limits", c.refused_limits}};
}

nlohmann::json membership_json(const Membership &m)
{
	nlohmann::json sources = nlohmann::json::array();
	for (const auto &s : m.sources)
		sources.push_back(s.str());
	return {{"mode", m.mode == FilterMode::exclude ? "exclude" : "include"}, {"sources", sources}};
}

} // namespace

nlohmann::json Engine::show(TimePoint now, size_t max_groups) const
{
	nlohmann::json downstream = nlohmann::json::array();
	for (const auto &d : downstream_) {
		nlohmann::json groups = nlohmann::json::array();
		for (const auto &[g, gs] : d.groups) {
			if (groups.size() >= max_groups)
				break;
			nlohmann::json sources = nlohmann::json::array();
			for (const auto &[s, t] : gs.sources)
				sources.push_back({{"address", s.str()}, {"timer_ms", ms_left(t, now)}});
			bool exclude = gs.mode == FilterMode::exclude && gs.filter_timer > now;
			groups.push_back({{"group", g.str()},
					  {"mode", exclude ? "exclude" : "include"},
					  {"filter_timer_ms", exclude ? ms_left(gs.filter_timer, now) : 0},
					  {"mldv1_host_ms", ms_left(gs.v1_host_present, now)},
					  {"sources", sources}});
		}
		downstream.push_back({{"interface", d.config.name},
				      {"ifindex", d.config.ifindex},
				      {"address", d.address.str()},
				      {"querier", d.is_querier},
				      {"querier_address", d.querier_address.str()},
				      {"other_querier_present_ms", d.is_querier ? 0 : ms_left(d.other_querier_present, now)},
				      {"next_general_query_ms", d.is_querier ? ms_left(d.next_general_query, now) : 0},
				      {"robustness", d.robustness},
				      {"query_interval_ms", d.query_interval.count()},
				      {"fast_leave", d.config.fast_leave},
				      {"group_count", d.groups.size()},
				      {"groups", groups},
				      {"counters", counters_json(d.counters)}});
	}
	nlohmann::json merged_groups = nlohmann::json::array();
	for (const auto &[g, m] : merged(now)) {
		if (merged_groups.size() >= max_groups)
			break;
		auto j = membership_json(m);
		j["group"] = g.str();
		merged_groups.push_back(j);
	}
	return {{"upstream",
		 {{"interface", config_.upstream.name},
		  {"ifindex", config_.upstream.ifindex},
		  {"up", upstream_is_up_},
		  {"robustness", upstream_robustness_},
		  {"mldv1_querier_ms", ms_left(v1_querier_present_, now)},
		  {"groups", merged_groups},
		  {"counters", counters_json(upstream_counters_)}}},
		{"downstream", downstream}};
}

} // namespace umigame::mld
