package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules"
)

// View is an alert laid out for people: every field is plain text with
// control characters removed, ready to be escaped for the medium. Email,
// Slack and the console all render from it so they say the same thing.
type View struct {
	Title   string
	Status  Status
	ID      string
	Host    string
	Service string
	// ServiceIsTitle is set when the finding names no service and Service
	// holds the rule's title, which already says what fails ("... cannot
	// bind its UDP port"): renderers then name the endpoint beside it
	// instead of writing "... needs udp/2883" after it.
	ServiceIsTitle bool
	Rule           string
	Endpoint       string // "udp/2883"
	Verdict        string // empty on resolved notices
	Culprit        *CulpritView
	// Failures says how often and over what period, e.g. "12 failures
	// between ... and ..., about every 6m".
	Failures string
	Advice   string // may span lines
	// Evidence holds up to MaxEvidence event lines; EvidenceMore counts
	// the rest.
	Evidence     []string
	EvidenceMore int
	// Suppressed is set when repeats were held back since the last message.
	Suppressed    string
	FirstNotified string
	// Resolution is set on resolved notices.
	Resolution string
	Snapshot   string
	Test       bool
}

// What is the "What failed" line: "ActiveSync on SBSHQ01 needs
// udp/2883", or for a rule title "Exchange ActiveSync AUTD cannot bind its
// UDP port on SBS01 (udp/2883)". The endpoint goes through endpoint, so
// each medium can mark it up; the rest is plain text.
func (v View) What(endpoint func(string) string) string {
	what := v.Service
	if what == "" {
		return ""
	}
	if v.Host != "" {
		what += " on " + v.Host
	}
	if v.Endpoint == "" {
		return what
	}
	if v.ServiceIsTitle {
		return what + " (" + endpoint(v.Endpoint) + ")"
	}
	return what + " needs " + endpoint(v.Endpoint)
}

// CulpritView describes the culprit process.
type CulpritView struct {
	Label     string // "dns.exe (PID 2216, DNS)"
	Image     string
	PID       string
	Path      string
	Started   string
	Services  string
	PortsHeld string // "2,500 (DNS socket pool)"
}

// MaxEvidence is how many evidence events a message shows.
const MaxEvidence = 5

// TimeFormat is how times appear in messages: UTC, to the second, so
// people on several sites read the same thing.
const TimeFormat = "2006-01-02 15:04:05 UTC"

// FormatTime formats t with TimeFormat, or "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// NewView lays an alert out.
func NewView(a *Alert) View {
	f := &a.Finding
	v := View{
		Title:         a.Title(),
		Status:        a.Status,
		ID:            a.ID,
		Host:          SingleLine(f.Host),
		Service:       SingleLine(f.Service),
		Rule:          SingleLine(f.Rule),
		Endpoint:      Endpoint(f),
		Verdict:       verdictText(f.Verdict),
		Failures:      failuresText(f),
		Advice:        strings.TrimSpace(SanitizeText(f.Advice)),
		FirstNotified: FormatTime(a.FirstNotified),
		Test:          a.Test,
	}
	if v.Service == "" {
		v.Service = SingleLine(f.Title)
		v.ServiceIsTitle = v.Service != ""
	}
	if note := SingleLine(f.Note); note != "" && v.Verdict != "" {
		v.Verdict += " (" + note + ")"
	}
	if a.Status == StatusResolved {
		v.Verdict = "" // the verdict was the problem; Resolution says what changed
	}
	if c := f.Culprit; c != nil {
		cv := &CulpritView{
			Label:    CulpritLabel(c),
			Image:    SingleLine(c.Image),
			PID:      strconv.Itoa(c.PID),
			Path:     SingleLine(c.Path),
			Started:  FormatTime(c.Started),
			Services: SingleLine(strings.Join(c.Services, ", ")),
		}
		if c.PortsHeld > 0 {
			cv.PortsHeld = thousands(c.PortsHeld)
			if c.Pool {
				kind := SingleLine(strings.ToUpper(c.PoolKind))
				if kind != "" {
					cv.PortsHeld += " (" + kind + " socket pool)"
				} else {
					cv.PortsHeld += " (socket pool)"
				}
			}
		}
		v.Culprit = cv
	}
	for i, ev := range f.Evidence {
		if i == MaxEvidence {
			v.EvidenceMore = len(f.Evidence) - MaxEvidence
			break
		}
		v.Evidence = append(v.Evidence, EvidenceLine(&ev))
	}
	if a.Suppressed > 0 {
		v.Suppressed = fmt.Sprintf("%s held back since %s (one message per realert interval)",
			plural(a.Suppressed, "repeat", "repeats"), FormatTime(a.SuppressedSince))
	}
	if r := a.Resolution; r != nil {
		v.Resolution = fmt.Sprintf("%s (%s)", SingleLine(r.Reason), FormatTime(r.At))
	}
	if s := f.Snapshot; s != nil {
		v.Snapshot = fmt.Sprintf("port table: %s, taken %s", SingleLine(s.Source), FormatTime(s.Taken))
	}
	return v
}

func verdictText(v rules.Verdict) string {
	switch v {
	case rules.VerdictHeld:
		return "port held by another process"
	case rules.VerdictExpected:
		return "port back with its expected owner"
	case rules.VerdictFree:
		return "port free now (the conflict was transient)"
	case rules.VerdictNotConflict:
		return "not a port conflict"
	case rules.VerdictUnknown, "":
		return "port owner unknown"
	}
	return SingleLine(string(v))
}

func failuresText(f *rules.Finding) string {
	if f.Count == 0 {
		return ""
	}
	s := plural(f.Count, "failure", "failures")
	switch {
	case !f.First.IsZero() && !f.Last.IsZero() && !f.First.Equal(f.Last):
		s += fmt.Sprintf(" between %s and %s", FormatTime(f.First), FormatTime(f.Last))
	case !f.Last.IsZero():
		s += " at " + FormatTime(f.Last)
	}
	if f.Cadence.Median > 0 {
		s += ", about every " + HumanDuration(f.Cadence.Median)
	}
	return s
}

// HumanDuration is a duration rounded for reading: "45s", "6m", "6m30s", "4h", "2d3h".
func HumanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
	default:
		days := d / (24 * time.Hour)
		rest := (d - days*24*time.Hour).Round(time.Hour)
		if rest == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, rest/time.Hour)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// EvidenceLine is one event as a line: time, log, source, ID and its
// message (or data), sanitised and cut to 300 characters.
func EvidenceLine(ev *evtx.Event) string {
	text := ev.Message
	if strings.TrimSpace(text) == "" {
		parts := make([]string, 0, len(ev.Data))
		for _, d := range ev.Data {
			if d.Name != "" {
				parts = append(parts, d.Name+"="+d.Value)
			} else {
				parts = append(parts, d.Value)
			}
		}
		text = strings.Join(parts, " | ")
	}
	head := fmt.Sprintf("%s %s %s %d", FormatTime(ev.Time), ev.Channel, ev.SourceName(), ev.EventID)
	return Truncate(SingleLine(head+": "+text), 300)
}
