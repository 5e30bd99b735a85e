package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// fileSpec is the top level of a rule file.
type fileSpec struct {
	Rules []RuleSpec `yaml:"rules"`
}

// RuleSpec is one rule as written in YAML. Compile turns it into a Rule.
//
// Struct types here must not implement yaml.Unmarshaler with a *yaml.Node
// argument: yaml.v3 decodes such nodes with a fresh decoder that forgets
// KnownFields, and unknown keys would slip through. Leaf types (lists,
// durations, codes) may.
type RuleSpec struct {
	ID          string `yaml:"id"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Disabled switches off a rule, typically a built-in one overridden by
	// a rule of the same id in a --rules file.
	Disabled bool `yaml:"disabled"`
	// Match selects the events that show the failure.
	Match *MatchSpec `yaml:"match"`
	// Corroborate selects events that count towards the repeat only in a
	// group the Match events opened (e.g. SCM 7031 crash loops of a service
	// that failed to bind).
	Corroborate *MatchSpec `yaml:"corroborate"`
	// Error says where the failure's error code is and which codes mean a
	// port conflict.
	Error *ErrorSpec `yaml:"error"`
	// Repeat is the "N or more within a window" condition.
	Repeat RepeatSpec `yaml:"repeat"`
	// Needs says which port the failing service needs.
	Needs NeedsSpec `yaml:"needs"`
	// ExpectedOwners are image or service names that may hold the port
	// without being blamed ("w3wp.exe", "System", "{source}").
	ExpectedOwners strList `yaml:"expected_owners"`
	// Advice is remediation text with {placeholders}.
	Advice string `yaml:"advice"`
	// Messages are message templates per event ID ("%1", "%%10048"), used to
	// render evidence and message regexes when the log carries no text.
	Messages map[uint16]string `yaml:"messages"`
}

// MatchSpec selects events. Every condition given must hold; lists mean
// "any of".
type MatchSpec struct {
	// Channel is the log name ("System", "Application", "DNS Server").
	// Events whose format does not record the channel pass.
	Channel strList `yaml:"channel"`
	// Provider is the EVTX provider name or the legacy source name; either
	// form matches either (Event.FromProvider). "*" is a wildcard.
	Provider strList `yaml:"provider"`
	// EventID lists IDs (low 16 bits) and ranges ("7000-7009").
	EventID idList `yaml:"event_id"`
	// Level lists levels by name ("error") or number.
	Level strList `yaml:"level"`
	// Data are conditions on event data by name or %N position.
	Data []CondSpec `yaml:"data"`
	// Message is a regular expression on the rendered message.
	Message string `yaml:"message"`
}

// CondSpec is one condition on an event data item.
type CondSpec struct {
	// Field is a data field name ("Address", "param1") or a 1-based
	// position ("%2").
	Field string `yaml:"field"`
	// Equals passes when the value equals one of these, ignoring case.
	Equals strList `yaml:"equals"`
	// Regex passes when the value matches.
	Regex string `yaml:"regex"`
	// Not inverts the condition (a missing field then passes).
	Not bool `yaml:"not"`
}

// ErrorSpec classifies the failure's error code.
type ErrorSpec struct {
	// From lists where to look, first hit wins: "binary" (first DWORD of the
	// binary data), "message", a field name or "%N".
	From strList `yaml:"from"`
	// Conflict codes mean another socket holds the port (10048, 10013).
	Conflict codeList `yaml:"conflict"`
	// NotConflict codes mean something else is wrong (10049 "address not
	// available"); such failures are reported as not_a_conflict.
	NotConflict codeList `yaml:"not_conflict"`
	// Missing says what to do when no code is found: "count" (as a
	// conflict, the default) or "skip".
	Missing string `yaml:"missing"`
	// Other says what to do with a code in neither list: "skip" (the
	// default) or "count" (as a conflict).
	Other string `yaml:"other"`
	// NotConflictAdvice replaces the advice for not_a_conflict findings.
	NotConflictAdvice string `yaml:"not_conflict_advice"`
}

// RepeatSpec is the repeat condition, on event time.
type RepeatSpec struct {
	// Threshold is how many occurrences make a pattern (default 3).
	Threshold int `yaml:"threshold"`
	// Window is the span they must fall within (default 24h). Units: s, m,
	// h, d, w.
	Window duration `yaml:"window"`
	// GroupBy lists what separates groups (default host and port): host,
	// channel, provider, event_id, service, port, protocol, error, or a data
	// field ("data.Address", "%1").
	GroupBy strList `yaml:"group_by"`
}

// NeedsSpec says how to find the port the failing service needs. Sources
// are tried in this order: field, message, shape, service, borrow, ports.
type NeedsSpec struct {
	// Protocol is the protocol for sources that do not carry one.
	Protocol string `yaml:"protocol"`
	// Field lists data fields or positions holding "addr:port", a URL or a
	// bare port ("Address", "%3").
	Field strList `yaml:"field"`
	// Message is a regex on the rendered message; the port is the group
	// named "port" or else group 1; a group named "proto" gives the protocol.
	Message string `yaml:"message"`
	// Shape scans every insertion string for exactly one port-shaped
	// integer (1..65535, not an error code), for layouts not confirmed.
	Shape bool `yaml:"shape"`
	// Service lists where the service name is ("%1", "param1", "binary" for
	// the UTF-16 key name SCM puts there); it is looked up in the
	// service→ports table.
	Service strList `yaml:"service"`
	// Borrow lets an event that carries no port take it from an event of
	// the same rule, host and source at most this far apart; the two are
	// then one occurrence (ActiveSync 3024 follows 3015).
	Borrow duration `yaml:"borrow"`
	// Ports are fixed ports ("udp/2883", "tcp/53"), used when no source
	// above gave one.
	Ports strList `yaml:"ports"`
}

// strList is a string or a list of strings.
type strList []string

func (l *strList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = strList{n.Value}
		return nil
	case yaml.SequenceNode:
		var errs []string
		out := make(strList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				errs = append(errs, fmt.Sprintf("line %d: want a string, got a %s", c.Line, kindName(c)))
				continue
			}
			out = append(out, c.Value)
		}
		*l = out
		if errs != nil {
			return &yaml.TypeError{Errors: errs}
		}
		return nil
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a string or a list of strings, got a %s", n.Line, kindName(n))}}
}

// idRange is an inclusive range of event IDs.
type idRange struct{ Lo, Hi int }

func (r idRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(r.Lo)
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// idList is an event ID, a range "7000-7009", or a list of those. Values
// are range-checked in Compile so every problem is reported with its line.
type idList []idRange

func (l *idList) UnmarshalYAML(n *yaml.Node) error {
	items, err := scalarOrList(n, "event_id: want an ID, a range like 7000-7009, or a list of those")
	if err != nil {
		return err
	}
	var errs []string
	for _, c := range items {
		r, err := parseIDRange(c)
		if err != nil {
			errs = append(errs, fmt.Sprintf("line %d: event_id: %v", c.Line, err))
			continue
		}
		*l = append(*l, r)
	}
	if errs != nil {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

func parseIDRange(n *yaml.Node) (idRange, error) {
	if n.Kind != yaml.ScalarNode {
		return idRange{}, fmt.Errorf("want an ID or a range, got a %s", kindName(n))
	}
	lo, hi, isRange := strings.Cut(n.Value, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return idRange{}, fmt.Errorf("%q is not an event ID", n.Value)
	}
	b := a
	if isRange {
		b, err = strconv.Atoi(strings.TrimSpace(hi))
		if err != nil {
			return idRange{}, fmt.Errorf("%q is not a range of event IDs", n.Value)
		}
	}
	return idRange{a, b}, nil
}

// codeList is a list of error codes: decimal, hex ("0x2740"), an HRESULT
// ("0x80072740"), a parameter reference ("%%10048") or a Winsock name
// ("WSAEADDRINUSE").
type codeList []uint32

func (l *codeList) UnmarshalYAML(n *yaml.Node) error {
	items, err := scalarOrList(n, "want an error code or a list of codes")
	if err != nil {
		return err
	}
	var errs []string
	for _, c := range items {
		code, ok := uint32(0), false
		if c.Kind == yaml.ScalarNode {
			code, ok = parseCodeSpec(c.Value)
		}
		if !ok {
			errs = append(errs, fmt.Sprintf("line %d: %q is not an error code (write 10048, 0x2740, %%%%10048 or WSAEADDRINUSE)", c.Line, c.Value))
			continue
		}
		*l = append(*l, code)
	}
	if errs != nil {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

func parseCodeSpec(s string) (uint32, bool) {
	s = strings.TrimSpace(s)
	for code, info := range knownCodes {
		if strings.EqualFold(s, info.name) {
			return code, true
		}
	}
	return parseCodeValue(s)
}

// duration is a time span written as Go durations plus days and weeks
// ("90s", "10m", "24h", "30d", "2w", "1d12h").
type duration struct {
	D    time.Duration
	Set  bool
	Line int
}

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration like 10m, 24h or 30d, got a %s", n.Line, kindName(n))}}
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = duration{D: v, Set: true, Line: n.Line}
	return nil
}

func (d duration) MarshalYAML() (any, error) { return formatDuration(d.D), nil }

// parseDuration accepts Go durations plus "d" (24h) and "w" (7d) units.
func parseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if in == "0" {
		return 0, nil
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		if i == 0 || j == i {
			return 0, fmt.Errorf("%q is not a duration (write 90s, 10m, 24h, 30d or 2w)", s)
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		var part time.Duration
		switch unit {
		case "d", "w":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("%q is not a duration (write 90s, 10m, 24h, 30d or 2w)", s)
			}
			day := 24 * time.Hour
			if unit == "w" {
				day *= 7
			}
			if f > float64(1<<62)/float64(day) {
				return 0, fmt.Errorf("%q is too long", s)
			}
			part = time.Duration(f * float64(day))
		default:
			p, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("%q is not a duration (write 90s, 10m, 24h, 30d or 2w)", s)
			}
			part = p
		}
		if total > 1<<62-part {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total += part
	}
	return total, nil
}

// formatDuration prints d the way a person would write it in a rule.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
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

// scalarOrList accepts one value or a list of values, as rule authors
// write either ("event_id: 3015" or "event_id: [3015, 3024]").
func scalarOrList(n *yaml.Node, want string) ([]*yaml.Node, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{n}, nil
	case yaml.SequenceNode:
		return n.Content, nil
	}
	return nil, &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s, got a %s", n.Line, want, kindName(n))}}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}
