package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/rules/ports"
)

// Explanation says why a rule did or did not fire: how many events it
// looked at, which conditions turned events away, each group's best window
// count against the threshold, how the port was worked out, and what the
// port table says.
type Explanation struct {
	Rule      string   `json:"rule"`
	Title     string   `json:"title"`
	Origin    string   `json:"origin"`
	Threshold int      `json:"threshold"`
	Window    Span     `json:"window"`
	GroupBy   []string `json:"group_by"`
	// Events is how many events the analysis saw in all.
	Events int `json:"events"`
	// Identified events matched the channel, provider and event ID of the
	// rule's match section (corroborating events are not counted here).
	Identified int `json:"identified"`
	// Matched events passed every condition (level, data, message, error).
	Matched int `json:"matched"`
	// Corroborating events matched the rule's corroborate section; they
	// count only in a group Matched events opened.
	Corroborating int      `json:"corroborating,omitempty"`
	Rejected      []Reason `json:"rejected,omitempty"`
	// Samples are a few rejected events with the reason.
	Samples []string           `json:"rejected_samples,omitempty"`
	Groups  []GroupExplanation `json:"groups"`
	// Conclusion is the answer in one sentence.
	Conclusion string `json:"conclusion"`
}

// Reason counts events turned away for one reason.
type Reason struct {
	Why   string `json:"why"`
	Count int    `json:"count"`
}

// GroupExplanation is one group of occurrences.
type GroupExplanation struct {
	Host        string      `json:"host"`
	Service     string      `json:"service,omitempty"`
	Ports       []string    `json:"ports"`
	PortSource  string      `json:"port_source"`
	Count       int         `json:"count"`
	Companions  int         `json:"companions,omitempty"`
	Best        int         `json:"best_window_count"`
	BestAt      time.Time   `json:"best_window_start"`
	Fired       bool        `json:"fired"`
	NotConflict bool        `json:"not_a_conflict,omitempty"`
	First       time.Time   `json:"first"`
	Last        time.Time   `json:"last"`
	Verdict     Verdict     `json:"verdict"`
	Checks      []PortCheck `json:"lookup,omitempty"`
}

// Explain reports on one rule of the analysis.
func (a *Analysis) Explain(id string, in Inputs) (*Explanation, error) {
	var st *ruleState
	for _, s := range a.states {
		if s.rule.ID == id {
			st = s
		}
	}
	if st == nil {
		return nil, fmt.Errorf("no enabled rule %q", id)
	}
	r := st.rule
	x := &Explanation{
		Rule: r.ID, Title: r.Title, Origin: r.Origin,
		Threshold: r.Threshold, Window: Span(r.Window), GroupBy: r.GroupBy,
		Events: a.events, Identified: st.identified, Matched: st.matched, Corroborating: st.corrobs,
		Samples: st.samples, Groups: []GroupExplanation{},
	}
	for why, n := range st.rejected {
		x.Rejected = append(x.Rejected, Reason{why, n})
	}
	sort.Slice(x.Rejected, func(i, j int) bool {
		if x.Rejected[i].Count != x.Rejected[j].Count {
			return x.Rejected[i].Count > x.Rejected[j].Count
		}
		return x.Rejected[i].Why < x.Rejected[j].Why
	})
	fired := 0
	for _, g := range st.groups() {
		first, last := g.occs[0], g.occs[len(g.occs)-1]
		ge := GroupExplanation{
			Host:        first.host,
			Service:     first.x.service,
			PortSource:  first.x.from,
			Count:       len(g.occs),
			Best:        g.best,
			BestAt:      g.bestAt.UTC(),
			Fired:       g.best >= r.Threshold,
			NotConflict: first.class == classNotConflict,
			First:       first.ev.Time.UTC(),
			Last:        last.ev.Time.UTC(),
			Ports:       []string{},
		}
		for _, o := range g.occs {
			ge.Companions += len(o.companions)
		}
		if ge.PortSource == "" {
			ge.PortSource = first.x.note
		}
		needed := neededPorts(g)
		for _, p := range needed {
			ge.Ports = append(ge.Ports, p.String())
		}
		switch {
		case ge.NotConflict:
			ge.Verdict = VerdictNotConflict
		case len(needed) == 0:
			ge.Verdict = VerdictUnknown
		default:
			exp := expectation{rule: r, known: knownService(g), source: first.ev.SourceName(), service: first.x.service}
			ge.Verdict, ge.Checks, _ = judge(needed, in.Snapshot, exp)
		}
		if ge.Fired {
			fired++
		}
		x.Groups = append(x.Groups, ge)
	}
	x.Conclusion = conclude(x, fired)
	return x, nil
}

func conclude(x *Explanation, fired int) string {
	switch {
	case x.Identified == 0:
		return fmt.Sprintf("did not fire: none of the %s events is from the rule's channel, provider and event IDs", ports.FormatCount(x.Events))
	case x.Matched == 0:
		why := "its conditions"
		if len(x.Rejected) > 0 {
			why = x.Rejected[0].Why
		}
		return fmt.Sprintf("did not fire: %s the right provider and ID but none passed the conditions (mostly: %s)", countHad(x.Identified), why)
	case fired == 0:
		best := 0
		for _, g := range x.Groups {
			best = max(best, g.Best)
		}
		return fmt.Sprintf("did not fire: the most failures in one %s window was %d, below the threshold of %d", humanDuration(time.Duration(x.Window)), best, x.Threshold)
	}
	var parts []string
	for _, g := range x.Groups {
		if g.Fired {
			parts = append(parts, fmt.Sprintf("%s %s: %d in one window (threshold %d), verdict %s", g.Host, strings.Join(g.Ports, ","), g.Best, x.Threshold, g.Verdict))
		}
	}
	return fmt.Sprintf("fired for %d group(s): %s", fired, strings.Join(parts, "; "))
}

// countHad is "1 event had" or "N events had".
func countHad(n int) string {
	if n == 1 {
		return "1 event had"
	}
	return ports.FormatCount(n) + " events had"
}
