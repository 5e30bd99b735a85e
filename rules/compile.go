package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

// Defaults for rule fields left out. They live here and nowhere else.
const (
	DefaultThreshold = 3
	DefaultWindow    = 24 * time.Hour
)

// DefaultGroupBy is the grouping used when a rule gives none.
var defaultGroupBy = []string{"host", "port"}

// Rule is a compiled rule, ready to run.
type Rule struct {
	ID          string
	Title       string
	Description string
	Disabled    bool
	// Origin is "file:line" of the rule's definition.
	Origin string
	Line   int
	// Spec is the rule as written (with defaults filled in), for display.
	Spec RuleSpec

	Threshold int
	Window    time.Duration
	GroupBy   []string

	match       *matcher
	corroborate *matcher
	errs        *errorClass
	needs       needs
	expected    []template
	advice      template
	title       template
	messages    map[uint16]string
}

var ruleIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// compile validates spec and builds the rule; node is the rule's YAML node,
// used to give every problem a line.
func compile(spec RuleSpec, file string, node *yaml.Node) (*Rule, []Problem) {
	c := &compiler{file: file, node: node, id: spec.ID}
	r := &Rule{
		ID:          spec.ID,
		Title:       strings.TrimSpace(spec.Title),
		Description: strings.TrimSpace(spec.Description),
		Disabled:    spec.Disabled,
		Origin:      fmt.Sprintf("%s:%d", file, node.Line),
		Line:        node.Line,
		messages:    spec.Messages,
	}
	if r.Title == "" {
		r.Title = r.ID
	}
	r.title = c.template([]string{"title"}, r.Title, titlePlaceholders)
	switch {
	case spec.ID == "":
		c.add([]string{}, "missing id")
	case !ruleIDRe.MatchString(spec.ID):
		c.add([]string{"id"}, "id %q: use lower-case letters, digits, '.', '_' and '-' (at most 64)", spec.ID)
	}
	if spec.Disabled && spec.Match == nil {
		// An override that only switches a rule off needs nothing else.
		r.Spec = spec
		return r, c.problems
	}

	if spec.Match == nil {
		c.add(nil, "missing match: say which events show the failure (provider and event_id at least)")
	} else {
		r.match = c.matcher(*spec.Match, "match")
	}
	if spec.Corroborate != nil {
		r.corroborate = c.matcher(*spec.Corroborate, "corroborate")
	}
	if spec.Error != nil {
		r.errs = c.errorClass(*spec.Error)
	}

	r.Threshold = spec.Repeat.Threshold
	switch {
	case r.Threshold == 0:
		r.Threshold = DefaultThreshold
	case r.Threshold < 1:
		c.add([]string{"repeat", "threshold"}, "threshold must be 1 or more, not %d", r.Threshold)
	}
	r.Window = spec.Repeat.Window.D
	switch {
	case !spec.Repeat.Window.Set:
		r.Window = DefaultWindow
	case r.Window <= 0:
		c.add([]string{"repeat", "window"}, "window must be longer than zero")
	}
	r.GroupBy = spec.Repeat.GroupBy
	if len(r.GroupBy) == 0 {
		r.GroupBy = defaultGroupBy
	}
	for i, g := range r.GroupBy {
		if !validGroupField(g) {
			c.add([]string{"repeat", "group_by", strconv.Itoa(i)}, "cannot group by %q (use host, channel, provider, event_id, service, port, protocol, error, data.NAME or %%N)", g)
		}
	}

	r.needs = c.needs(spec.Needs)
	for i, e := range spec.ExpectedOwners {
		r.expected = append(r.expected, c.template([]string{"expected_owners", strconv.Itoa(i)}, e, ownerPlaceholders))
	}
	r.advice = c.template([]string{"advice"}, spec.Advice, advicePlaceholders)

	for id := range spec.Messages {
		if (r.match == nil || !r.match.hasID(id)) && (r.corroborate == nil || !r.corroborate.hasID(id)) {
			c.add([]string{"messages"}, "message template for event %d, which the rule does not match", id)
		}
	}

	spec.Repeat.Threshold = r.Threshold
	if !spec.Repeat.Window.Set {
		spec.Repeat.Window = duration{D: r.Window, Set: true}
	}
	spec.Repeat.GroupBy = r.GroupBy
	r.Spec = spec
	return r, c.problems
}

type compiler struct {
	file     string
	node     *yaml.Node
	id       string
	problems []Problem
}

func (c *compiler) add(path []string, format string, args ...any) {
	c.problems = append(c.problems, Problem{
		File: c.file,
		Line: lineOf(c.node, path...),
		Rule: c.id,
		Msg:  fmt.Sprintf(format, args...),
	})
}

func (c *compiler) regex(path []string, expr string) *regexp.Regexp {
	re, err := regexp.Compile(expr)
	if err != nil {
		c.add(path, "bad regular expression %q: %v", expr, unwrapRegexpErr(err))
		return nil
	}
	return re
}

func unwrapRegexpErr(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "error parsing regexp: ")
}

func (c *compiler) matcher(m MatchSpec, section string) *matcher {
	out := &matcher{}
	for _, ch := range m.Channel {
		if strings.TrimSpace(ch) == "" {
			c.add([]string{section, "channel"}, "empty channel name")
			continue
		}
		out.channels = append(out.channels, strings.TrimSpace(ch))
	}
	for _, p := range m.Provider {
		if strings.TrimSpace(p) == "" {
			c.add([]string{section, "provider"}, "empty provider name")
			continue
		}
		out.providers = append(out.providers, strings.ToLower(strings.TrimSpace(p)))
	}
	for _, r := range m.EventID {
		if r.Lo < 0 || r.Hi > 0xFFFF || r.Lo > r.Hi {
			c.add([]string{section, "event_id"}, "event ID %s out of range 0-65535 (IDs are the low 16 bits)", r)
			continue
		}
		out.ids = append(out.ids, r)
	}
	if len(m.Provider) == 0 && len(m.EventID) == 0 {
		c.add([]string{section}, "%s needs a provider or an event_id: a rule must not match every event", section)
	}
	for _, l := range m.Level {
		lv, ok := evtx.ParseLevel(l)
		if !ok {
			c.add([]string{section, "level"}, "unknown level %q (critical, error, warning, information, verbose or a number)", l)
			continue
		}
		out.levels = append(out.levels, lv)
	}
	for i, cs := range m.Data {
		path := []string{section, "data", strconv.Itoa(i)}
		cd := cond{not: cs.Not}
		ref, ok := c.valueRef(path, cs.Field, false)
		if !ok {
			continue
		}
		cd.ref = ref
		switch {
		case len(cs.Equals) > 0 && cs.Regex != "":
			c.add(path, "give equals or regex, not both")
		case len(cs.Equals) > 0:
			cd.equals = cs.Equals
		case cs.Regex != "":
			cd.re = c.regex(append(path, "regex"), cs.Regex)
		default:
			c.add(path, "condition on %s needs equals or regex", cs.Field)
		}
		out.conds = append(out.conds, cd)
	}
	if m.Message != "" {
		out.message = c.regex([]string{section, "message"}, m.Message)
	}
	return out
}

var fieldNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,127}$`)

// valueRef parses a data reference: "%N" or a field name; with special,
// also "binary" and "message".
func (c *compiler) valueRef(path []string, s string, special bool) (valueRef, bool) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		c.add(path, "missing field: a data field name or %%N")
		return valueRef{}, false
	case strings.HasPrefix(s, "%"):
		n, err := strconv.Atoi(s[1:])
		if err != nil || n < 1 || n > 1000 {
			c.add(path, "%q is not a position: write %%1, %%2, ...", s)
			return valueRef{}, false
		}
		return valueRef{kind: refPos, pos: n}, true
	case special && s == "binary":
		return valueRef{kind: refBinary}, true
	case special && s == "message":
		return valueRef{kind: refMessage}, true
	case !fieldNameRe.MatchString(s):
		c.add(path, "%q is not a field name", s)
		return valueRef{}, false
	}
	return valueRef{kind: refField, name: s}, true
}

func (c *compiler) errorClass(e ErrorSpec) *errorClass {
	out := &errorClass{conflict: map[uint32]bool{}, notConflict: map[uint32]bool{}, missingCount: true}
	if len(e.From) == 0 {
		c.add([]string{"error"}, "error needs from: where the code is (binary, message, %%N or a field name)")
	}
	for i, f := range e.From {
		if ref, ok := c.valueRef([]string{"error", "from", strconv.Itoa(i)}, f, true); ok {
			out.from = append(out.from, ref)
		}
	}
	if len(e.Conflict) == 0 && len(e.NotConflict) == 0 {
		c.add([]string{"error"}, "error needs conflict or not_conflict codes")
	}
	for _, code := range e.Conflict {
		out.conflict[normCode(code)] = true
	}
	for _, code := range e.NotConflict {
		if out.conflict[normCode(code)] {
			c.add([]string{"error", "not_conflict"}, "code %s is listed as conflict and not_conflict", codeName(code))
		}
		out.notConflict[normCode(code)] = true
	}
	switch e.Missing {
	case "", "count":
	case "skip":
		out.missingCount = false
	default:
		c.add([]string{"error", "missing"}, "missing must be count or skip, not %q", e.Missing)
	}
	switch e.Other {
	case "", "skip":
	case "count":
		out.otherCount = true
	default:
		c.add([]string{"error", "other"}, "other must be skip or count, not %q", e.Other)
	}
	out.advice = c.template([]string{"error", "not_conflict_advice"}, e.NotConflictAdvice, advicePlaceholders)
	return out
}

func (c *compiler) needs(n NeedsSpec) needs {
	out := needs{shape: n.Shape, borrow: n.Borrow.D}
	switch strings.ToLower(n.Protocol) {
	case "":
	case "tcp":
		out.proto = ports.TCP
	case "udp":
		out.proto = ports.UDP
	default:
		c.add([]string{"needs", "protocol"}, "protocol must be tcp or udp, not %q", n.Protocol)
	}
	for i, f := range n.Field {
		if ref, ok := c.valueRef([]string{"needs", "field", strconv.Itoa(i)}, f, false); ok {
			out.fields = append(out.fields, ref)
		}
	}
	if n.Message != "" {
		if re := c.regex([]string{"needs", "message"}, n.Message); re != nil {
			out.message = re
			out.portGroup, out.protoGroup = 1, 0
			if i := re.SubexpIndex("port"); i > 0 {
				out.portGroup = i
			}
			if i := re.SubexpIndex("proto"); i > 0 {
				out.protoGroup = i
			}
			if re.NumSubexp() == 0 {
				c.add([]string{"needs", "message"}, "message regex needs a capture group for the port, e.g. UDP port \\[(\\d+)\\]")
			}
		}
	}
	for i, s := range n.Service {
		if ref, ok := c.valueRef([]string{"needs", "service", strconv.Itoa(i)}, s, true); ok {
			if ref.kind == refMessage {
				c.add([]string{"needs", "service", strconv.Itoa(i)}, "the service name cannot come from the message; use %%N, a field name or binary")
				continue
			}
			out.service = append(out.service, ref)
		}
	}
	if n.Borrow.Set && n.Borrow.D <= 0 {
		c.add([]string{"needs", "borrow"}, "borrow must be longer than zero")
	}
	for i, p := range n.Ports {
		spec, err := parsePortSpec(p)
		if err != nil {
			c.add([]string{"needs", "ports", strconv.Itoa(i)}, "%v", err)
			continue
		}
		out.ports = append(out.ports, spec)
	}
	if len(out.fields) == 0 && out.message == nil && !out.shape && len(out.service) == 0 && len(out.ports) == 0 && len(n.Field)+len(n.Service)+len(n.Ports) == 0 && n.Message == "" {
		c.add([]string{"needs"}, "needs says nothing: give field, message, shape, service or ports so the port can be worked out")
	}
	if out.proto == "" && n.Protocol == "" {
		switch {
		case len(n.Field) > 0 || n.Shape:
			c.add([]string{"needs"}, "needs.protocol is required with field or shape: say tcp or udp")
		case out.message != nil && out.protoGroup == 0:
			c.add([]string{"needs", "message"}, "needs.protocol is required unless the message regex has a (?P<proto>...) group")
		}
	}
	return out
}

// parsePortSpec reads "udp/2883" or "tcp/53".
func parsePortSpec(s string) (ports.PortSpec, error) {
	proto, num, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return ports.PortSpec{}, fmt.Errorf("port %q: write protocol/port, e.g. udp/2883", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return ports.PortSpec{}, fmt.Errorf("port %q: the port must be 1-65535", s)
	}
	return ports.PortSpec{Protocol: ports.Protocol(proto), Port: uint16(n)}, nil
}

func validGroupField(g string) bool {
	switch g {
	case "host", "channel", "provider", "source", "event_id", "service", "port", "protocol", "error":
		return true
	}
	if name, ok := strings.CutPrefix(g, "data."); ok {
		return fieldNameRe.MatchString(name)
	}
	if n, ok := strings.CutPrefix(g, "%"); ok {
		i, err := strconv.Atoi(n)
		return err == nil && i >= 1 && i <= 1000
	}
	return false
}

// Placeholders a template may use.
var (
	advicePlaceholders = []string{
		"rule", "title", "host", "service", "source", "protocol", "port", "ports",
		"count", "first", "last", "cadence", "window", "threshold", "error",
		"culprit", "culprit.image", "culprit.pid", "culprit.path", "culprit.services", "culprit.ports_held",
		"data.*", // data.NAME or data.N: a field of the first failure event
	}
	ownerPlaceholders = []string{"source", "service"}
	titlePlaceholders = []string{"source", "service", "host"}
)

func (c *compiler) template(path []string, text string, allowed []string) template {
	t, bad := parseTemplate(text, allowed)
	for _, b := range bad {
		c.add(path, "unknown placeholder {%s} (known: %s)", b, strings.Join(allowed, ", "))
	}
	return t
}
