package rules

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// Engine runs a rule set over events. It holds no state between analyses
// and is safe to share.
type Engine struct {
	rules []*Rule
}

// NewEngine returns an engine for the enabled rules of set.
func NewEngine(set *RuleSet) (*Engine, error) {
	e := &Engine{rules: set.Enabled()}
	if len(e.rules) == 0 {
		return nil, errors.New("no enabled rules")
	}
	return e, nil
}

// Rules returns the rules the engine runs.
func (e *Engine) Rules() []*Rule { return append([]*Rule(nil), e.rules...) }

// NewAnalysis starts an analysis: feed it events with Add in any order,
// then ask for the Result.
func (e *Engine) NewAnalysis() *Analysis {
	a := &Analysis{engine: e, seen: make(map[string]struct{})}
	for _, r := range e.rules {
		a.states = append(a.states, &ruleState{rule: r, rejected: map[string]int{}})
	}
	return a
}

// Analysis accumulates the events that matter to the rules. It keeps only
// matching events, so memory grows with the failures, not the logs.
type Analysis struct {
	engine *Engine
	states []*ruleState
	seen   map[string]struct{}
	events int
}

type ruleState struct {
	rule       *Rule
	identified int // channel, provider and ID of the match section matched
	matched    int // primary matches
	corrobs    int // corroborating matches
	rejected   map[string]int
	samples    []string // a few rejected events, for explain
	occs       []*occurrence
	corr       []*occurrence
}

// occurrence is one failure: an event, plus the events that borrowed its
// port (ActiveSync 3024 after 3015).
type occurrence struct {
	ev         *evtx.Event
	host       string
	hostKey    string
	sourceKey  string
	x          extraction
	class      errClass
	code       uint32
	hasCode    bool
	companions []*evtx.Event
}

// Events is how many events the analysis was given.
func (a *Analysis) Events() int { return a.events }

// Add offers one event to every rule. The event is copied if kept.
func (a *Analysis) Add(ev *evtx.Event) {
	if ev == nil {
		return
	}
	a.events++
	var kept *evtx.Event
	keep := func() *evtx.Event {
		if kept == nil {
			kept = cloneEvent(ev)
		}
		return kept
	}
	dupChecked := false
	for _, st := range a.states {
		r := st.rule
		primary := r.match != nil && r.match.identifies(ev)
		corrob := !primary && r.corroborate != nil && r.corroborate.identifies(ev)
		if !primary && !corrob {
			continue
		}
		if !dupChecked {
			dupChecked = true
			if a.duplicate(ev) {
				return
			}
		}
		m := r.match
		// Corroborating events are counted apart, so that explain's
		// identified = matched + rejected holds for the match section.
		reject := st.reject
		if corrob {
			m = r.corroborate
			reject = func(why string, ev *evtx.Event) { st.reject("corroborating event: "+why, ev) }
		} else {
			st.identified++
		}
		if ev.Err != "" {
			reject("partly decoded record: "+clip(ev.Err, 60), ev)
			continue
		}
		if ev.Time.IsZero() {
			reject("no event time", ev)
			continue
		}
		if ok, why := m.refine(ev, r.messages); !ok {
			reject(why, ev)
			continue
		}
		o := &occurrence{
			host:      ev.Computer,
			hostKey:   strings.ToUpper(strings.TrimSpace(ev.Computer)),
			sourceKey: strings.ToLower(ev.SourceName()),
		}
		if r.errs != nil && !corrob {
			class, code, has, why := r.errs.classify(ev, r.messages)
			if class == classSkip {
				st.reject(why, ev)
				continue
			}
			o.class, o.code, o.hasCode = class, code, has
		}
		if corrob {
			st.corrobs++
		} else {
			st.matched++
		}
		o.ev = keep()
		o.x = r.needs.extract(o.ev, r.messages, ports.LookupService)
		if corrob {
			st.corr = append(st.corr, o)
		} else {
			st.occs = append(st.occs, o)
		}
	}
}

// duplicate reports an event already seen (the same log given twice, or
// an .evtx and its XML export side by side).
func (a *Analysis) duplicate(ev *evtx.Event) bool {
	if ev.RecordID == 0 {
		return false
	}
	key := strings.ToUpper(ev.Computer) + "\x00" + strings.ToLower(ev.Channel) + "\x00" + strings.ToLower(ev.SourceName()) + "\x00" +
		strconv.Itoa(int(ev.EventID)) + "\x00" + strconv.FormatUint(ev.RecordID, 10) + "\x00" + strconv.FormatInt(ev.Time.Unix(), 10)
	if _, ok := a.seen[key]; ok {
		return true
	}
	a.seen[key] = struct{}{}
	return false
}

const maxRejectSamples = 5

func (st *ruleState) reject(why string, ev *evtx.Event) {
	st.rejected[why]++
	if len(st.samples) < maxRejectSamples {
		st.samples = append(st.samples, fmt.Sprintf("%s %s %d record %d: %s", ev.Time.UTC().Format(time.RFC3339), ev.SourceName(), ev.EventID, ev.RecordID, why))
	}
}

func cloneEvent(ev *evtx.Event) *evtx.Event {
	c := *ev
	c.Data = append([]evtx.Data(nil), ev.Data...)
	c.Binary = append([]byte(nil), ev.Binary...)
	return &c
}

// group is a set of occurrences that share a rule's group key.
type group struct {
	rule   *Rule
	key    string
	occs   []*occurrence
	best   int       // most occurrences within one window
	bestAt time.Time // start of that window
}

// groups resolves borrowed and fixed ports and groups one rule's
// occurrences. Corroborating events join existing groups only.
func (st *ruleState) groups() []*group {
	r := st.rule
	occs := resolvePorts(r, st.occs)
	byKey := map[string]*group{}
	var order []string
	for _, o := range occs {
		k := groupKey(r, o)
		g, ok := byKey[k]
		if !ok {
			g = &group{rule: r, key: k}
			byKey[k] = g
			order = append(order, k)
		}
		g.occs = append(g.occs, o)
	}
	for _, o := range resolvePorts(r, st.corr) {
		if g, ok := byKey[groupKey(r, o)]; ok {
			g.occs = append(g.occs, o)
		}
	}
	out := make([]*group, 0, len(order))
	for _, k := range order {
		g := byKey[k]
		sort.SliceStable(g.occs, func(i, j int) bool { return g.occs[i].ev.Time.Before(g.occs[j].ev.Time) })
		g.best, g.bestAt = bestWindow(g.occs, r.Window)
		out = append(out, g)
	}
	return out
}

// resolvePorts applies needs.borrow and needs.ports to the occurrences
// whose own event gave no port (or only the service table's guess), and
// returns the occurrences that still stand on their own.
//
// It works on copies, so the analysis can be asked for results again after
// more events.
func resolvePorts(r *Rule, in []*occurrence) []*occurrence {
	occs := make([]*occurrence, len(in))
	for i, o := range in {
		c := *o
		c.companions = nil
		c.x.ports = slices.Clone(o.x.ports)
		occs[i] = &c
	}
	sort.SliceStable(occs, func(i, j int) bool { return occs[i].ev.Time.Before(occs[j].ev.Time) })
	if r.needs.borrow > 0 {
		var lenders []*occurrence
		for _, o := range occs {
			if len(o.x.ports) > 0 && !strings.HasPrefix(o.x.from, "service table") {
				lenders = append(lenders, o)
			}
		}
		var kept []*occurrence
		for _, o := range occs {
			if len(o.x.ports) > 0 && !strings.HasPrefix(o.x.from, "service table") {
				kept = append(kept, o)
				continue
			}
			if l := nearestLender(lenders, o, r.needs.borrow); l != nil {
				l.companions = append(l.companions, o.ev)
				continue
			}
			kept = append(kept, o)
		}
		occs = kept
	}
	for _, o := range occs {
		if len(o.x.ports) == 0 && len(r.needs.ports) > 0 {
			o.x.ports = append([]ports.PortSpec(nil), r.needs.ports...)
			if o.x.note != "" {
				o.x.from = "the rule's ports (" + o.x.note + ")"
			} else {
				o.x.from = "the rule's ports"
			}
		}
	}
	return occs
}

func nearestLender(lenders []*occurrence, o *occurrence, within time.Duration) *occurrence {
	var best *occurrence
	var bestGap time.Duration
	for _, l := range lenders {
		if l.hostKey != o.hostKey || l.sourceKey != o.sourceKey {
			continue
		}
		gap := l.ev.Time.Sub(o.ev.Time)
		if gap < 0 {
			gap = -gap
		}
		if gap <= within && (best == nil || gap < bestGap) {
			best, bestGap = l, gap
		}
	}
	return best
}

func groupKey(r *Rule, o *occurrence) string {
	parts := make([]string, 0, len(r.GroupBy)+1)
	for _, g := range r.GroupBy {
		parts = append(parts, groupValue(g, o))
	}
	if o.class == classNotConflict {
		parts = append(parts, "not-a-conflict")
	}
	return strings.Join(parts, "\x00")
}

func groupValue(field string, o *occurrence) string {
	ev := o.ev
	switch field {
	case "host":
		return o.hostKey
	case "channel":
		return strings.ToLower(ev.Channel)
	case "provider", "source":
		return o.sourceKey
	case "event_id":
		return strconv.Itoa(int(ev.EventID))
	case "service":
		return strings.ToLower(o.x.service)
	case "port":
		return portList(o.x.ports)
	case "protocol":
		protos := make([]string, 0, len(o.x.ports))
		for _, p := range o.x.ports {
			if !slices.Contains(protos, string(p.Protocol)) {
				protos = append(protos, string(p.Protocol))
			}
		}
		return strings.Join(protos, ",")
	case "error":
		if o.hasCode {
			return strconv.FormatUint(uint64(o.code), 10)
		}
		return ""
	}
	if name, ok := strings.CutPrefix(field, "data."); ok {
		v, _ := ev.Field(name)
		return strings.ToLower(strings.TrimSpace(v))
	}
	if n, ok := strings.CutPrefix(field, "%"); ok {
		i, _ := strconv.Atoi(n)
		v, _ := ev.Insertion(i)
		return strings.ToLower(strings.TrimSpace(v))
	}
	return ""
}

// bestWindow returns the largest number of occurrences (sorted by time)
// that fall within one window [t, t+window], and where it starts. "N or
// more within the window" is best >= N; the window slides and never
// resets, so one analysis gives one answer per group.
func bestWindow(occs []*occurrence, window time.Duration) (int, time.Time) {
	best, at := 0, time.Time{}
	j := 0
	for i := range occs {
		for occs[i].ev.Time.Sub(occs[j].ev.Time) > window {
			j++
		}
		if n := i - j + 1; n > best {
			best, at = n, occs[j].ev.Time
		}
	}
	return best, at
}

// cadenceOf describes the gaps between consecutive occurrences.
func cadenceOf(occs []*occurrence) Cadence {
	if len(occs) < 2 {
		return Cadence{}
	}
	gaps := make([]time.Duration, 0, len(occs)-1)
	for i := 1; i < len(occs); i++ {
		gaps = append(gaps, occs[i].ev.Time.Sub(occs[i-1].ev.Time))
	}
	slices.Sort(gaps)
	median := gaps[len(gaps)/2]
	if len(gaps)%2 == 0 {
		median = (gaps[len(gaps)/2-1] + gaps[len(gaps)/2]) / 2
	}
	return Cadence{Median: median, Min: gaps[0], Max: gaps[len(gaps)-1]}
}
