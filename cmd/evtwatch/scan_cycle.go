package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/rules"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// scanner runs scan cycles over the configured sources:
//
//  1. read every source from its saved position (nothing is saved yet);
//  2. correlate the new events, together with the recent events carried
//     over from earlier runs, so a pattern that spans runs is seen;
//  3. hand the findings to notify (throttle, resolve, queue in the outbox);
//  4. commit: ONE atomic state write holds the new positions, the carried
//     events and the outbox together;
//  5. deliver the outbox, saving the state after every message.
//
// A crash before 4 leaves the old positions and the old outbox: the next
// run reads the same events and queues the same alerts (none was sent). A
// crash after 4 leaves the alerts queued: the next run sends them. A crash
// during 5, after a server accepted a message and before the state write
// that removes it from the outbox, makes the next run send that one message
// again with the same Message-ID (see notify/email): the only duplicate
// possible, at most one per crash, and receivers can drop it by its ID.
type scanner struct {
	cfg       scanConfig
	notifyCfg notify.Config
	channels  []notify.Channel
	engine    *rules.Engine
	filter    ruleFilter
	store     *state.Store
	st        *state.State // as last committed
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	log       *slog.Logger
	snapshot  func(context.Context) (*ports.Snapshot, *ports.Facts, error)
	follow    bool
	channelsS []*channelSource // live channel sources, kept open in watch
	// unreadable holds the sources the last cycle could not read, with the
	// error: watch logs a source that stays unreadable once, not every
	// interval, and says when it can be read again.
	unreadable map[string]unreadableSource
}

type unreadableSource struct {
	err   string
	named bool // the ID is a source key, not an error text
}

// cycleResult is what one cycle did.
type cycleResult struct {
	Sources int // event-log sources read (or that could not be read)
	// NotLogs counts the files in the configured paths that are not event
	// logs (captures, notes): skipped, and not counted in Sources.
	NotLogs  int
	Events   int // new events read
	Relevant int // of which the rules could use
	Findings int
	Added    notify.AddResult
	Flush    notify.FlushReport
	Problems []error // damaged input, unreadable sources
	Warnings []string
	Snapshot string // where port ownership came from, "" if not needed
}

// carried is the rule engine's memory between runs, kept in the state
// file: the recent events the rules could use, so a failure repeating every
// ten minutes is a pattern even when each run sees one occurrence. The
// engine drops events it has already seen (same record), so carried and
// re-read events never count twice.
type carried struct {
	Version int          `json:"version"`
	Events  []evtx.Event `json:"events"`
}

const carriedVersion = 1

// maxCarried bounds the carried events, and so the state file.
const maxCarried = 5000

// cycle runs one scan cycle. It returns an error only when the cycle could
// not commit (state not writable) or was interrupted; damaged input and
// unreadable sources are in the result and the rest goes on.
func (sc *scanner) cycle(ctx context.Context) (cycleResult, error) {
	var res cycleResult
	now := sc.now()
	next := sc.st.Clone()
	committed := false
	defer func() {
		if !committed {
			// Open subscriptions have moved past events this cycle did not
			// commit: reopen them from the committed positions next time.
			for _, ch := range sc.channelsS {
				ch.close()
			}
		}
	}()

	// Read.
	failing := map[string]unreadableSource{}
	srcs, errs := sc.sources()
	for _, err := range errs {
		sc.problem(&res, failing, "", err)
	}
	res.Sources = len(srcs) + len(errs)
	rc := readContext{lookback: now.Add(-sc.cfg.Lookback.Std()), now: now, keep: sc.engine.Relevant, keepHeader: sc.engine.KeepHeader, log: sc.log}
	var fresh []*evtx.Event
	for _, src := range srcs {
		out, err := src.read(ctx, next.Source(src.key()), rc)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if errors.Is(err, evtx.ErrUnknownFormat) {
			sc.log.Debug("skipped: not an event log", "source", src.key())
			res.Sources--
			res.NotLogs++
			continue
		}
		if err != nil {
			sc.problem(&res, failing, src.key(), err)
			if out.pos == nil {
				continue // position unchanged: read again next time
			}
		}
		for _, w := range out.warnings {
			sc.log.Warn(w)
			res.Warnings = append(res.Warnings, w)
		}
		for _, p := range out.problems {
			sc.log.Error("input damaged", "source", src.key(), "problem", p)
			res.Problems = append(res.Problems, p)
		}
		res.Events += out.read
		fresh = append(fresh, out.events...)
		next.SetSource(src.key(), out.pos)
	}
	for id, u := range sc.unreadable {
		if _, ok := failing[id]; !ok && u.named {
			sc.log.Info("source readable again", "source", id)
		}
	}
	sc.unreadable = failing
	res.Relevant = len(fresh)
	pruneFilePositions(next, now)

	// Correlate.
	carry := decodeCarried(next.Rules, sc.log)
	analysis := sc.engine.NewAnalysis()
	for i := range carry.Events {
		analysis.Add(&carry.Events[i])
	}
	for _, ev := range fresh {
		analysis.Add(ev)
	}
	var findings []rules.Finding
	if pre := analysis.Result(rules.Inputs{}); len(pre.Findings) > 0 {
		snap, facts, desc := sc.takeSnapshot(ctx)
		res.Snapshot = desc
		findings = analysis.Result(rules.Inputs{Snapshot: snap, Facts: facts}).Findings
	}
	res.Findings = len(findings)
	next.Rules = encodeCarried(carry, fresh, now, sc.filter.horizon)

	// Hand over to notify.
	ns, err := decodeNotifyState(next.Notify)
	if err != nil {
		sc.log.Warn("notify state in the state file unusable; starting with an empty outbox", "err", err)
		ns = notify.NewState()
	}
	d, err := notify.NewDispatcher(sc.notifyCfg, sc.channels, ns, sc.log, notify.WithDispatchClock(sc.now, sc.sleep))
	if err != nil {
		return res, err
	}
	res.Added = d.Add(findings...)
	if next.Notify, err = json.Marshal(ns); err != nil {
		return res, fmt.Errorf("encode notify state: %w", err)
	}

	// Commit: positions, carried events and outbox in one atomic write.
	if err := sc.store.Save(next); err != nil {
		return res, err
	}
	sc.st = next
	committed = true

	// Deliver, saving after every change so a sent message leaves the
	// outbox durably before the next one goes.
	checkpoint := func() error {
		b, err := json.Marshal(ns)
		if err != nil {
			return err
		}
		next.Notify = b
		return sc.store.Save(next)
	}
	res.Flush, err = d.Flush(ctx, checkpoint)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, err
	}
	return res, nil
}

// problem records a source that could not be read (the run is partial)
// and logs it at error level, so that --quiet, which prints only errors,
// still says why a run was partial. In watch, a source still unreadable
// for the same reason as in the previous cycle was logged then: its
// repeats go to debug, so an unplugged share is not an error every
// interval.
func (sc *scanner) problem(res *cycleResult, failing map[string]unreadableSource, key string, err error) {
	u := unreadableSource{err: err.Error(), named: key != ""}
	id := key
	if id == "" {
		id = u.err
	}
	failing[id] = u
	level := slog.LevelError
	if sc.unreadable[id] == u {
		level = slog.LevelDebug
	}
	if key == "" {
		sc.log.Log(context.Background(), level, "source unreadable", "err", err)
		res.Problems = append(res.Problems, err)
		return
	}
	sc.log.Log(context.Background(), level, "source unreadable", "source", key, "err", err)
	res.Problems = append(res.Problems, fmt.Errorf("%s: %w", key, err))
}

// sources lists this cycle's sources: channels (kept across watch cycles)
// and files, re-expanded every cycle so new files in a folder are read.
// A file reached through two configured paths is read once.
func (sc *scanner) sources() ([]source, []error) {
	var out []source
	var errs []error
	for _, ch := range sc.channelsS {
		out = append(out, ch)
	}
	seen := map[string]bool{}
	for _, s := range sc.cfg.Sources {
		if s.Path == "" {
			continue
		}
		files, err := expandFileSources(s.Path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			if id := f.identity(); !seen[id] {
				seen[id] = true
				out = append(out, f)
			}
		}
	}
	return out, errs
}

// takeSnapshot gets the port table for the verdicts. Without one the
// findings still go out, with the verdict "unknown".
func (sc *scanner) takeSnapshot(ctx context.Context) (*ports.Snapshot, *ports.Facts, string) {
	snap, facts, err := sc.snapshot(ctx)
	if err != nil {
		sc.log.Warn("no port table: findings are reported without a culprit", "err", err)
		return nil, nil, ""
	}
	if snap == nil {
		return nil, facts, ""
	}
	return snap, facts, snap.Source
}

func decodeCarried(b json.RawMessage, log *slog.Logger) carried {
	var c carried
	if len(b) == 0 {
		return carried{Version: carriedVersion}
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Version != carriedVersion {
		log.Warn("carried-over events in the state file unusable; patterns spanning the previous runs may be missed", "err", err)
		return carried{Version: carriedVersion}
	}
	return c
}

// encodeCarried keeps the events that may still take part in a pattern:
// those within the longest rule window of now.
func encodeCarried(old carried, fresh []*evtx.Event, now time.Time, horizon time.Duration) json.RawMessage {
	cutoff := now.Add(-horizon)
	keep := make([]evtx.Event, 0, len(old.Events)+len(fresh))
	for _, ev := range old.Events {
		if !ev.Time.Before(cutoff) {
			keep = append(keep, ev)
		}
	}
	for _, ev := range fresh {
		if !ev.Time.Before(cutoff) {
			keep = append(keep, *ev)
		}
	}
	slices.SortStableFunc(keep, func(a, b evtx.Event) int { return a.Time.Compare(b.Time) })
	if len(keep) > maxCarried {
		keep = keep[len(keep)-maxCarried:]
	}
	b, err := json.Marshal(carried{Version: carriedVersion, Events: keep})
	if err != nil {
		return nil // plain data; cannot fail
	}
	return b
}

func decodeNotifyState(b json.RawMessage) (*notify.State, error) {
	if len(b) == 0 {
		return notify.NewState(), nil
	}
	return notify.DecodeState(b)
}

// ruleFilter is what the scan learns from the rules before reading: how to
// narrow a live query per channel, and how long events must be remembered.
// (Which events any rule could use is the engine's to say: Relevant and
// KeepHeader.)
type ruleFilter struct {
	matchers []identity
	horizon  time.Duration
}

// identity is the cheap part of a rule's match: channel, provider, event ID
// (rules.MatchSpec), as live queries (XPath) need it.
type identity struct {
	channels  []string
	providers []string // lower case, '*' wildcards
	raw       []string // as written, for live queries (XPath compares case)
	ids       [][2]int
}

func newRuleFilter(rs []*rules.Rule) ruleFilter {
	f := ruleFilter{horizon: time.Hour}
	for _, r := range rs {
		for _, m := range []*rules.MatchSpec{r.Spec.Match, r.Spec.Corroborate} {
			if m == nil {
				continue
			}
			id := identity{channels: m.Channel, raw: m.Provider}
			for _, p := range m.Provider {
				id.providers = append(id.providers, strings.ToLower(p))
			}
			for _, r := range m.EventID {
				id.ids = append(id.ids, [2]int{r.Lo, r.Hi})
			}
			f.matchers = append(f.matchers, id)
		}
		// The window, plus slack for events that lend their port to a later
		// one (needs.borrow) and for clocks that disagree a little.
		if h := r.Window + r.Spec.Needs.Borrow.D + time.Hour; h > f.horizon {
			f.horizon = h
		}
	}
	return f
}

// forChannel narrows a live query to the rules that can match events of
// channel: their event IDs and providers, when every one of them names
// some (a rule without IDs could use any event of the channel).
func (f ruleFilter) forChannel(channel string) channelFilter {
	var out channelFilter
	anyID, anyProvider := false, false
	for _, m := range f.matchers {
		if len(m.channels) > 0 && !slices.ContainsFunc(m.channels, func(c string) bool { return strings.EqualFold(c, channel) }) {
			continue
		}
		if len(m.ids) == 0 {
			anyID = true
		}
		for _, r := range m.ids {
			for id := r[0]; id <= r[1] && id <= 0xffff; id++ {
				out.EventIDs = append(out.EventIDs, uint16(id))
			}
		}
		if len(m.providers) == 0 || slices.ContainsFunc(m.providers, func(p string) bool { return strings.Contains(p, "*") }) {
			anyProvider = true
		}
		out.Providers = append(out.Providers, m.raw...)
	}
	if anyID {
		out.EventIDs = nil
	}
	if anyProvider {
		out.Providers = nil
	}
	slices.Sort(out.EventIDs)
	out.EventIDs = slices.Compact(out.EventIDs)
	slices.Sort(out.Providers)
	out.Providers = slices.Compact(out.Providers)
	return out
}
