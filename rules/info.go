package rules

import (
	"fmt"
	"strings"

	"github.com/evtwatch/evtwatch/evtx"
)

// RuleInfo describes a rule for people ("evtwatch rules list").
type RuleInfo struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Origin      string   `json:"origin"`
	Disabled    bool     `json:"disabled,omitempty"`
	Match       string   `json:"match"`
	Corroborate string   `json:"corroborate,omitempty"`
	Error       string   `json:"error,omitempty"`
	Threshold   int      `json:"threshold"`
	Window      string   `json:"window"`
	GroupBy     []string `json:"group_by"`
	Needs       string   `json:"needs"`
	Expected    []string `json:"expected_owners,omitempty"`
}

// Info describes the rule.
func (r *Rule) Info() RuleInfo {
	s := r.Spec
	info := RuleInfo{
		ID:          r.ID,
		Title:       r.Title,
		Description: r.Description,
		Origin:      r.Origin,
		Disabled:    r.Disabled,
		Threshold:   r.Threshold,
		Window:      humanDuration(r.Window),
		GroupBy:     r.GroupBy,
		Expected:    s.ExpectedOwners,
	}
	if s.Match != nil {
		info.Match = describeMatch(s.Match)
	}
	if s.Corroborate != nil {
		info.Corroborate = describeMatch(s.Corroborate)
	}
	if e := s.Error; e != nil {
		var parts []string
		if len(e.Conflict) > 0 {
			parts = append(parts, "conflict "+codes(e.Conflict))
		}
		if len(e.NotConflict) > 0 {
			parts = append(parts, "not a conflict "+codes(e.NotConflict))
		}
		info.Error = fmt.Sprintf("code from %s: %s", strings.Join(e.From, ", "), strings.Join(parts, "; "))
	}
	info.Needs = describeNeeds(s.Needs)
	return info
}

func codes(cs codeList) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = codeName(c)
	}
	return strings.Join(out, ", ")
}

func describeMatch(m *MatchSpec) string {
	var parts []string
	if len(m.Provider) > 0 {
		parts = append(parts, strings.Join(m.Provider, " | "))
	}
	if len(m.EventID) > 0 {
		ids := make([]string, len(m.EventID))
		for i, r := range m.EventID {
			ids[i] = r.String()
		}
		parts = append(parts, strings.Join(ids, ", "))
	}
	if len(m.Channel) > 0 {
		parts = append(parts, "in "+strings.Join(m.Channel, " | "))
	}
	if len(m.Level) > 0 {
		parts = append(parts, "level "+strings.Join(m.Level, " | "))
	}
	for _, c := range m.Data {
		switch {
		case len(c.Equals) > 0:
			parts = append(parts, fmt.Sprintf("%s in [%s]", c.Field, strings.Join(c.Equals, ", ")))
		case c.Regex != "":
			parts = append(parts, fmt.Sprintf("%s ~ /%s/", c.Field, c.Regex))
		}
		if c.Not {
			parts[len(parts)-1] = "not " + parts[len(parts)-1]
		}
	}
	if m.Message != "" {
		parts = append(parts, "message ~ /"+m.Message+"/")
	}
	return strings.Join(parts, " ")
}

func describeNeeds(n NeedsSpec) string {
	var parts []string
	if len(n.Field) > 0 {
		parts = append(parts, "field "+strings.Join(n.Field, ", "))
	}
	if n.Message != "" {
		parts = append(parts, "message /"+n.Message+"/")
	}
	if n.Shape {
		parts = append(parts, "the insertion string shaped like a port")
	}
	if len(n.Service) > 0 {
		parts = append(parts, "service table (name from "+strings.Join(n.Service, ", ")+")")
	}
	if n.Borrow.Set {
		parts = append(parts, "borrowed from a related event within "+humanDuration(n.Borrow.D))
	}
	if len(n.Ports) > 0 {
		parts = append(parts, strings.Join(n.Ports, ", "))
	}
	s := strings.Join(parts, ", else ")
	if n.Protocol != "" {
		s = n.Protocol + ": " + s
	}
	return s
}

// Relevant reports whether any enabled rule could use the event (its
// channel, provider and event ID match a rule's match or corroborate), so
// a caller can drop the rest before keeping events around.
func (e *Engine) Relevant(ev *evtx.Event) bool {
	for _, r := range e.rules {
		if (r.match != nil && r.match.identifies(ev)) || (r.corroborate != nil && r.corroborate.identifies(ev)) {
			return true
		}
	}
	return false
}
