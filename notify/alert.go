package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/rules"
)

// Status says whether an alert reports a problem or its end.
type Status string

// Statuses.
const (
	StatusFiring   Status = "firing"
	StatusResolved Status = "resolved"
)

// Alert is one message's worth of news about a finding: the finding itself
// plus what the alerting history adds to it. It is plain data, serialised
// as JSON in the outbox.
type Alert struct {
	// ID names the incident: the first firing alert and every reminder and
	// the resolved notice for it share it, so receivers can tie them
	// together (email threads on it).
	ID string `json:"id"`
	// Key is the throttle key (rule, host, protocol/port, culprit).
	Key    string `json:"key"`
	Status Status `json:"status"`
	// Finding is the latest report of the problem. For a resolved notice it
	// is the finding that was last alerted, i.e. the original culprit.
	Finding rules.Finding `json:"finding"`
	// FirstNotified is when the incident was first alerted.
	FirstNotified time.Time `json:"first_notified"`
	// Sequence counts the messages of this incident: 0 for the first
	// firing alert, 1, 2, ... for reminders after each realert interval.
	Sequence int `json:"sequence,omitempty"`
	// Suppressed counts the repeats of the finding that were held back by
	// the throttle since the previous message, starting at SuppressedSince.
	Suppressed      int       `json:"suppressed,omitempty"`
	SuppressedSince time.Time `json:"suppressed_since,omitzero"`
	// Resolution is set on resolved notices.
	Resolution *Resolution `json:"resolution,omitempty"`
	// Test marks a message sent by "evtwatch notify test": its title says
	// so, so nobody acts on it.
	Test bool `json:"test,omitempty"`
}

// Resolution says when and why an incident ended.
type Resolution struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	// By is the finding that showed the problem had cleared (port free,
	// back with its expected owner, or now held by someone else); nil when
	// the events simply stopped.
	By *rules.Finding `json:"by,omitempty"`
}

// IncidentKey identifies what failed, whoever caused it: rule, host and
// the port the service needs.
func IncidentKey(f *rules.Finding) string {
	return strings.ToLower(fmt.Sprintf("%s|%s|%s/%d", f.Rule, f.Host, f.Protocol, f.Port))
}

// ThrottleKey identifies an alert for throttling: the incident plus the
// culprit's image name. The PID is left out on purpose: the same program
// grabbing the same port again after a restart is the same problem.
func ThrottleKey(f *rules.Finding) string {
	culprit := ""
	if f.Culprit != nil {
		culprit = f.Culprit.Image
		if culprit == "" {
			culprit = fmt.Sprintf("pid:%d", f.Culprit.PID)
		}
	}
	return IncidentKey(f) + "|" + strings.ToLower(culprit)
}

// alertID derives a short stable ID from the key and when the incident
// first fired, so a recurrence after resolution gets a new ID.
func alertID(key string, first time.Time) string {
	sum := sha256.Sum256([]byte(key + "|" + first.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:6])
}

// Endpoint is "udp/2883", or "" when the finding names no port.
func Endpoint(f *rules.Finding) string {
	if f.Port == 0 {
		return ""
	}
	proto := string(f.Protocol)
	if proto == "" {
		proto = "port"
	}
	return fmt.Sprintf("%s/%d", strings.ToLower(proto), f.Port)
}

// subjectWho is what failed: the service, else the finding's title, else
// the rule name.
func subjectWho(f *rules.Finding) string {
	for _, s := range []string{f.Service, f.Title, f.Rule} {
		if s = SingleLine(s); s != "" {
			return s
		}
	}
	return "a service"
}

// CulpritLabel is "dns.exe (PID 2216, DNS)": image, PID and up to three
// hosted services.
func CulpritLabel(c *rules.Culprit) string {
	if c == nil {
		return ""
	}
	image := SingleLine(c.Image)
	if image == "" {
		image = "process"
	}
	parts := []string{fmt.Sprintf("PID %d", c.PID)}
	svcs := make([]string, 0, len(c.Services))
	for _, s := range c.Services {
		if s = SingleLine(s); s != "" {
			svcs = append(svcs, s)
		}
	}
	if len(svcs) > 3 {
		svcs = append(svcs[:3], fmt.Sprintf("+%d more", len(svcs)-3))
	}
	parts = append(parts, svcs...)
	return fmt.Sprintf("%s (%s)", image, strings.Join(parts, ", "))
}

// Headline is the one-line summary of a finding, e.g.
// "SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)".
// It is plain text (control characters removed); escape it for the medium.
func Headline(f *rules.Finding) string {
	host := SingleLine(f.Host)
	if host == "" {
		host = "unknown host"
	}
	who := subjectWho(f)
	ep := Endpoint(f)
	if f.Verdict == rules.VerdictNotConflict || ep == "" {
		title := SingleLine(f.Title)
		if title == "" {
			title = who + " keeps failing"
		}
		return Truncate(fmt.Sprintf("%s: %s", host, title), 200)
	}
	var tail string
	switch f.Verdict {
	case rules.VerdictHeld:
		if f.Culprit != nil {
			tail = "held by " + CulpritLabel(f.Culprit)
		} else {
			tail = "held by another process"
		}
	case rules.VerdictExpected:
		tail = "port is back with its expected owner"
	case rules.VerdictFree:
		tail = "port is free now"
	default:
		tail = "owner unknown"
	}
	if SingleLine(f.Service) == "" {
		if title := SingleLine(f.Title); title != "" {
			// A rule title already says what fails ("... cannot bind its
			// UDP port"): name the endpoint beside it rather than repeat it.
			return Truncate(fmt.Sprintf("%s: %s (%s) — %s", host, title, ep, tail), 200)
		}
	}
	return Truncate(fmt.Sprintf("%s: %s cannot bind %s — %s", host, who, ep, tail), 200)
}

// Title is the alert's one-line subject: the headline, prefixed for
// reminders and resolved notices.
func (a *Alert) Title() string {
	h := Headline(&a.Finding)
	if a.Test {
		h = "[TEST] " + h
	}
	switch {
	case a.Status == StatusResolved:
		return "Resolved: " + h
	case a.Sequence > 0:
		return "Still failing: " + h
	}
	return h
}

// DigestTitle summarises several alerts in one line.
func DigestTitle(alerts []Alert) string {
	if len(alerts) == 1 {
		return alerts[0].Title()
	}
	hosts := map[string]bool{}
	var firing, resolved int
	for _, a := range alerts {
		hosts[SingleLine(a.Finding.Host)] = true
		if a.Status == StatusResolved {
			resolved++
		} else {
			firing++
		}
	}
	where := fmt.Sprintf("%d hosts", len(hosts))
	if len(hosts) == 1 {
		for h := range hosts {
			where = h
		}
	}
	var parts []string
	if firing > 0 {
		parts = append(parts, plural(firing, "problem", "problems"))
	}
	if resolved > 0 {
		parts = append(parts, plural(resolved, "resolved", "resolved"))
	}
	return fmt.Sprintf("%s: %s", where, strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
