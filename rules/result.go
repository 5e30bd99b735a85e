package rules

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// Result is what an analysis found.
type Result struct {
	// Findings are the groups that met their repeat condition, most
	// actionable first.
	Findings []Finding `json:"findings"`
	// Below are groups that did not: one-offs and coincidences, listed so
	// nothing is silently dropped.
	Below []BelowThreshold `json:"below_threshold"`
	// Snapshot is the port table the verdicts used, nil when none.
	Snapshot *SnapshotSummary `json:"snapshot,omitempty"`
}

// BelowThreshold is a group of failures that did not repeat enough to be
// called a pattern.
type BelowThreshold struct {
	Rule      string         `json:"rule"`
	Title     string         `json:"title"`
	Host      string         `json:"host"`
	Service   string         `json:"service,omitempty"`
	Protocol  ports.Protocol `json:"protocol,omitempty"`
	Port      uint16         `json:"port,omitempty"`
	Count     int            `json:"count"`
	Best      int            `json:"best_window_count"`
	Threshold int            `json:"threshold"`
	Window    Span           `json:"window"`
	First     time.Time      `json:"first"`
	Last      time.Time      `json:"last"`
	// Sample is the first event in one line.
	Sample string `json:"sample"`
}

// Span is a duration that reads as people write it in JSON ("1h", "30d").
type Span time.Duration

// String is the span as people write it: "90s", "1h30m", "1d", "2d3h".
func (s Span) String() string { return humanDuration(time.Duration(s)) }

// MarshalJSON writes the span as a string.
func (s Span) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.String())
}

// UnmarshalJSON reads a span string (or a nanosecond number).
func (s *Span) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("span: %w", err)
		}
		*s = Span(n)
		return nil
	}
	d, err := parseDuration(str)
	if err != nil {
		return err
	}
	*s = Span(d)
	return nil
}

// Inputs gives Result what it needs besides the events: the port table and
// the host settings read with it. Both may be nil.
type Inputs struct {
	Snapshot *ports.Snapshot
	Facts    *ports.Facts
}

// maxEvidence bounds the sample events a finding carries.
const maxEvidence = 6

// Result correlates what was added so far. It may be called more than once.
func (a *Analysis) Result(in Inputs) *Result {
	res := &Result{Findings: []Finding{}, Below: []BelowThreshold{}}
	if in.Snapshot != nil {
		res.Snapshot = &SnapshotSummary{Taken: in.Snapshot.Taken.UTC(), Source: in.Snapshot.Source}
	}
	var fired []*group
	for _, st := range a.states {
		for _, g := range st.groups() {
			if g.best >= g.rule.Threshold {
				res.Findings = append(res.Findings, a.finding(g, in))
				fired = append(fired, g)
				continue
			}
			res.Below = append(res.Below, below(g))
		}
	}
	// Advice comes last: the ports to keep out of a host's DNS socket pool
	// are those of all its pool findings, since a ReservedPorts or
	// SocketPoolExcludedPortRanges command replaces the whole list and two
	// findings' commands run one after the other would undo each other.
	poolPorts := map[string][]ports.PortRange{}
	for i, f := range res.Findings {
		if f.Culprit != nil && f.Culprit.PoolKind == "dns" {
			h := strings.ToUpper(f.Host)
			poolPorts[h] = ports.MergeRanges(append(poolPorts[h], reservePorts(f, knownService(fired[i]))...))
		}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		g := fired[i]
		f.Advice = advise(*f, g.rule, g.occs[0], in, knownService(g), poolPorts[strings.ToUpper(f.Host)])
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		fi, fj := res.Findings[i], res.Findings[j]
		if ri, rj := verdictRank(fi.Verdict), verdictRank(fj.Verdict); ri != rj {
			return ri < rj
		}
		if fi.Count != fj.Count {
			return fi.Count > fj.Count
		}
		return fi.Key < fj.Key
	})
	sort.SliceStable(res.Below, func(i, j int) bool {
		bi, bj := res.Below[i], res.Below[j]
		if !bi.First.Equal(bj.First) {
			return bi.First.Before(bj.First)
		}
		return bi.Rule < bj.Rule
	})
	return res
}

func verdictRank(v Verdict) int {
	switch v {
	case VerdictHeld:
		return 0
	case VerdictUnknown:
		return 1
	case VerdictFree:
		return 2
	case VerdictExpected:
		return 3
	}
	return 4
}

// groupTitle is the rule's title with {service}, {source} and {host}
// filled in from the group's events.
func groupTitle(g *group) string {
	first := g.occs[0]
	vals := map[string]string{"service": serviceLabel(g), "source": first.ev.SourceName(), "host": first.host}
	return g.rule.title.renderOr(vals, "a service")
}

func below(g *group) BelowThreshold {
	first, last := g.occs[0], g.occs[len(g.occs)-1]
	b := BelowThreshold{
		Rule:      g.rule.ID,
		Title:     groupTitle(g),
		Host:      first.host,
		Service:   first.x.service,
		Count:     len(g.occs),
		Best:      g.best,
		Threshold: g.rule.Threshold,
		Window:    Span(g.rule.Window),
		First:     first.ev.Time.UTC(),
		Last:      last.ev.Time.UTC(),
		Sample:    describeEvent(first.ev, g.rule.messages),
	}
	if len(first.x.ports) > 0 {
		b.Protocol, b.Port = first.x.ports[0].Protocol, first.x.ports[0].Port
	}
	return b
}

func (a *Analysis) finding(g *group, in Inputs) Finding {
	r := g.rule
	first, last := g.occs[0], g.occs[len(g.occs)-1]
	f := Finding{
		Rule:    r.ID,
		Title:   groupTitle(g),
		Host:    first.host,
		Service: first.x.service,
		First:   first.ev.Time.UTC(),
		Last:    last.ev.Time.UTC(),
		Count:   len(g.occs),
		Cadence: cadenceOf(g.occs),
		Source:  first.ev.SourceName(),
	}
	if f.Service == "" {
		for _, o := range g.occs {
			if o.x.service != "" {
				f.Service = o.x.service
				break
			}
		}
	}
	f.PortSource = first.x.from
	if first.hasCode {
		f.Error = codeName(first.code)
	}
	needed := neededPorts(g)
	known := knownService(g)
	_ = known

	switch {
	case first.class == classNotConflict:
		f.Verdict = VerdictNotConflict
		if len(needed) > 0 {
			f.Protocol, f.Port = needed[0].Protocol, needed[0].Port
		}
	case len(needed) == 0:
		f.Verdict = VerdictUnknown
		f.PortSource = first.x.note
		if f.PortSource == "" {
			f.PortSource = "the events do not say which port"
		}
	default:
		snap := in.Snapshot
		if other := otherHost(in.Facts, f.Host); other != "" && snap != nil {
			// A port table from another machine says nothing about this
			// one: no verdict rather than a wrong culprit.
			snap = nil
			f.Note = fmt.Sprintf("the port table is from %s, not %s", other, f.Host)
		}
		expected := expectation{rule: r, known: known, source: f.Source, service: f.Service}
		f.Verdict, f.Ports, f.Culprit = judge(needed, snap, expected)
		f.Protocol, f.Port = needed[0].Protocol, needed[0].Port
		for _, c := range f.Ports {
			if c.Verdict == f.Verdict {
				f.Protocol, f.Port = c.Protocol, c.Port
				break
			}
		}
	}
	if in.Snapshot != nil && f.Note == "" {
		f.Snapshot = &SnapshotSummary{Taken: in.Snapshot.Taken.UTC(), Source: in.Snapshot.Source}
	}
	f.Evidence = evidence(g)
	f.Key = findingKey(f)
	f.Summary = summary(f)
	return f
}

// otherHost returns the captures' host name when it is known and is not
// host (compared on the first DNS label, ignoring case), else "".
func otherHost(facts *ports.Facts, host string) string {
	if facts == nil || facts.Host == "" || host == "" {
		return ""
	}
	short := func(h string) string {
		h, _, _ = strings.Cut(strings.TrimSpace(h), ".")
		return strings.ToUpper(h)
	}
	if short(facts.Host) == short(host) {
		return ""
	}
	return facts.Host
}

// neededPorts is the union of the ports the group's occurrences need, in
// first-seen order.
func neededPorts(g *group) []ports.PortSpec {
	var out []ports.PortSpec
	for _, o := range g.occs {
		for _, p := range o.x.ports {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func knownService(g *group) *ports.ServicePorts {
	for _, o := range g.occs {
		if o.x.known != nil {
			return o.x.known
		}
	}
	return nil
}

func evidence(g *group) []evtx.Event {
	var out []evtx.Event
	add := func(o *occurrence) {
		if len(out) < maxEvidence {
			out = append(out, *o.ev)
		}
		for _, c := range o.companions {
			if len(out) < maxEvidence {
				out = append(out, *c)
			}
		}
	}
	n := len(g.occs)
	for i := 0; i < n && i < 3; i++ {
		add(g.occs[i])
	}
	if n > 3 {
		if len(out) >= maxEvidence {
			out = out[:maxEvidence-1]
		}
		out = append(out, *g.occs[n-1].ev)
	}
	for i := range out {
		out[i].Time = out[i].Time.UTC()
		if out[i].Data == nil {
			out[i].Data = []evtx.Data{}
		}
	}
	return out
}

func findingKey(f Finding) string {
	parts := []string{f.Rule, strings.ToUpper(f.Host)}
	if f.Port != 0 {
		parts = append(parts, fmt.Sprintf("%s/%d", f.Protocol, f.Port))
	} else {
		parts = append(parts, strings.ToLower(f.Service))
	}
	if f.Culprit != nil {
		parts = append(parts, strings.ToLower(f.Culprit.Image))
	} else {
		parts = append(parts, string(f.Verdict))
	}
	return strings.Join(parts, "|")
}

// summary is the finding's first line: the culprit first when there is
// one, then the failure, how often, and what the port table says.
func summary(f Finding) string {
	host := f.Host
	if host == "" {
		host = "an unknown host"
	}
	port := ""
	if f.Port != 0 {
		port = fmt.Sprintf("%s %d", strings.ToUpper(string(f.Protocol)), f.Port)
	}
	failure := fmt.Sprintf("on %s, %s, %s %s", host, lowerFirst(f.Title), times(f.Count), cadencePhrase(f.Cadence))
	switch f.Verdict {
	case VerdictHeld:
		c := f.Culprit
		pool := ""
		if c.PoolKind == "dns" {
			pool = " (the DNS socket pool)"
		} else if c.Pool {
			pool = fmt.Sprintf(" (a socket pool of %s ports)", ports.FormatCount(c.PortsHeld))
		}
		return fmt.Sprintf("%s holds %s%s: %s", culpritName(c), port, pool, failure)
	case VerdictExpected:
		return fmt.Sprintf("%s is held by its expected owner now (recovered): %s", port, failure)
	case VerdictFree:
		return fmt.Sprintf("%s is free now (a transient conflict): %s", port, failure)
	case VerdictNotConflict:
		e := f.Error
		if e == "" {
			e = "its error code"
		}
		return fmt.Sprintf("Not a port conflict (error %s): %s", e, failure)
	}
	if f.Port == 0 {
		return fmt.Sprintf("Port unknown: %s", failure)
	}
	if f.Note != "" {
		return fmt.Sprintf("Who holds %s is unknown (%s): %s", port, f.Note, failure)
	}
	return fmt.Sprintf("Who holds %s is unknown (no port table): %s", port, failure)
}

// serviceLabel names the failing service as the events do ("Internet
// Authentication Service"), for the summary line.
func serviceLabel(g *group) string {
	for _, o := range g.occs {
		if o.x.svcName != "" {
			return o.x.svcName
		}
	}
	return ""
}

// lowerFirst lower-cases a title's first letter for use mid-sentence,
// unless it starts an acronym or a name ("HTTP.sys", "SQL Server").
func lowerFirst(s string) string {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' || (s[1] >= 'A' && s[1] <= 'Z') {
		return s
	}
	first, _, _ := strings.Cut(s, " ")
	switch first {
	case "A", "An", "The":
		return strings.ToLower(s[:1]) + s[1:]
	}
	return s
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

// culpritName is "dns.exe (PID 1692, service DNS)".
func culpritName(c *Culprit) string {
	image := c.Image
	if image == "" {
		image = "an unknown process"
	}
	s := fmt.Sprintf("%s (PID %d", image, c.PID)
	switch len(c.Services) {
	case 0:
	case 1:
		s += ", service " + c.Services[0]
	default:
		s += ", services " + strings.Join(c.Services, ", ")
	}
	return s + ")"
}

// cadencePhrase is "every 5–10 minutes (median 7m30s)".
func cadencePhrase(c Cadence) string {
	if c.Max == 0 {
		return "once"
	}
	lo, hi := roundDuration(c.Min), roundDuration(c.Max)
	med := roundDuration(c.Median)
	if lo == hi {
		return "every " + unitPhrase(lo)
	}
	return fmt.Sprintf("every %s (median %s)", humanRange(lo, hi), humanDuration(med))
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 48*time.Hour:
		return d.Round(time.Hour)
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// humanRange says "5–10 minutes": both ends in the unit of the longer one.
func humanRange(lo, hi time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "days"}, {time.Hour, "hours"}, {time.Minute, "minutes"}, {time.Second, "seconds"}} {
		if hi < 2*u.d {
			continue
		}
		h := (hi + u.d/2) / u.d
		if lo < u.d {
			return fmt.Sprintf("%s–%d %s", humanDuration(lo), h, u.name)
		}
		l := (lo + u.d/2) / u.d
		if l == h {
			return fmt.Sprintf("%d %s", h, u.name)
		}
		return fmt.Sprintf("%d–%d %s", l, h, u.name)
	}
	return humanDuration(lo) + "–" + humanDuration(hi)
}

// unitPhrase says "day", "3 days", "10 minutes", or a duration.
func unitPhrase(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d >= u.d && d%u.d == 0 {
			if n := d / u.d; n > 1 {
				return fmt.Sprintf("%d %ss", n, u.name)
			}
			return u.name
		}
	}
	return humanDuration(d)
}

func humanDuration(d time.Duration) string {
	if d >= 48*time.Hour && d%time.Hour == 0 {
		days, hours := d/(24*time.Hour), (d%(24*time.Hour))/time.Hour
		if hours == 0 {
			return strconv.Itoa(int(days)) + "d"
		}
		return fmt.Sprintf("%dd%dh", days, hours)
	}
	return formatDuration(d)
}
