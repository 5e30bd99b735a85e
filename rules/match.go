package rules

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

type refKind uint8

const (
	refField refKind = iota
	refPos
	refBinary
	refMessage
)

// valueRef points at one value of an event: a named field, a position, the
// binary data or the message text.
type valueRef struct {
	kind refKind
	name string
	pos  int
}

func (r valueRef) String() string {
	switch r.kind {
	case refPos:
		return "%" + strconv.Itoa(r.pos)
	case refBinary:
		return "binary"
	case refMessage:
		return "message"
	}
	return r.name
}

// value returns the referenced string value (not for binary).
func (r valueRef) value(ev *evtx.Event, templates map[uint16]string) (string, bool) {
	switch r.kind {
	case refPos:
		return ev.Insertion(r.pos)
	case refMessage:
		t := eventText(ev, templates)
		return t, t != ""
	case refBinary:
		s := stringFromBinary(ev.Binary)
		return s, s != ""
	}
	return ev.Field(r.name)
}

type matcher struct {
	channels  []string
	providers []string // lower case, '*' wildcards
	ids       []idRange
	levels    []evtx.Level
	conds     []cond
	message   *regexp.Regexp
}

type cond struct {
	ref    valueRef
	equals []string
	re     *regexp.Regexp
	not    bool
}

func (m *matcher) hasID(id uint16) bool {
	if len(m.ids) == 0 {
		return true
	}
	for _, r := range m.ids {
		if int(id) >= r.Lo && int(id) <= r.Hi {
			return true
		}
	}
	return false
}

// identifies checks the cheap identity part of a match: channel, provider
// and event ID. Events failing it are not this rule's business at all.
func (m *matcher) identifies(ev *evtx.Event) bool {
	if !m.hasID(ev.EventID) {
		return false
	}
	if len(m.providers) > 0 && !slices.ContainsFunc(m.providers, func(p string) bool { return providerMatches(p, ev) }) {
		return false
	}
	// A format that does not record the channel (some .evt readers, text
	// exports) cannot contradict the rule.
	if len(m.channels) > 0 && ev.Channel != "" && !slices.ContainsFunc(m.channels, func(c string) bool { return strings.EqualFold(c, ev.Channel) }) {
		return false
	}
	return true
}

// refine checks the rest of the match and says which condition failed.
func (m *matcher) refine(ev *evtx.Event, templates map[uint16]string) (bool, string) {
	if len(m.levels) > 0 && !slices.Contains(m.levels, ev.Level) {
		return false, "level " + ev.Level.String()
	}
	for _, c := range m.conds {
		v, ok := c.ref.value(ev, templates)
		pass := ok && c.test(v)
		if c.not {
			pass = !pass
		}
		if !pass {
			if !ok {
				return false, "data " + c.ref.String() + " missing"
			}
			return false, "data " + c.ref.String() + " = " + strconv.Quote(clip(v, 60))
		}
	}
	if m.message != nil {
		text := eventText(ev, templates)
		if text == "" {
			return false, "message regex: no message text (binary logs carry only insertion strings)"
		}
		if !m.message.MatchString(text) {
			return false, "message regex did not match"
		}
	}
	return true, ""
}

func (c cond) test(v string) bool {
	if c.re != nil {
		return c.re.MatchString(v)
	}
	for _, e := range c.equals {
		if strings.EqualFold(strings.TrimSpace(e), strings.TrimSpace(v)) {
			return true
		}
	}
	return false
}

// providerMatches compares a lower-case pattern with '*' wildcards to the
// event's provider and legacy source name.
func providerMatches(pattern string, ev *evtx.Event) bool {
	if !strings.Contains(pattern, "*") {
		return ev.FromProvider(pattern)
	}
	if globMatch(pattern, strings.ToLower(ev.Provider)) {
		return true
	}
	return ev.Source != "" && globMatch(pattern, strings.ToLower(ev.Source))
}

// globMatch matches s against a pattern where '*' is any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// errorClass decides from an event's error code whether the failure is a
// port conflict.
type errorClass struct {
	from         []valueRef
	conflict     map[uint32]bool
	notConflict  map[uint32]bool
	missingCount bool
	otherCount   bool
	advice       template
}

// errClass is what the error code says about one event.
type errClass uint8

const (
	classConflict errClass = iota
	classNotConflict
	classSkip
)

func (e *errorClass) classify(ev *evtx.Event, templates map[uint16]string) (errClass, uint32, bool, string) {
	code, found := uint32(0), false
	for _, ref := range e.from {
		switch ref.kind {
		case refBinary:
			code, found = codeFromBinary(ev.Binary)
		case refMessage:
			code, found = codeFromText(eventText(ev, templates))
		default:
			if v, ok := ref.value(ev, templates); ok {
				code, found = parseCodeValue(v)
				if !found {
					code, found = codeFromText(v)
				}
			}
		}
		if found {
			break
		}
	}
	switch {
	case !found && e.missingCount:
		return classConflict, 0, false, ""
	case !found:
		return classSkip, 0, false, "no error code found"
	case e.conflict[code]:
		return classConflict, code, true, ""
	case e.notConflict[code]:
		return classNotConflict, code, true, ""
	case e.otherCount:
		return classConflict, code, true, ""
	}
	return classSkip, code, true, "error " + codeName(code) + " is not a bind error"
}

// needs works out the port a failing service needs.
type needs struct {
	proto      ports.Protocol
	fields     []valueRef
	message    *regexp.Regexp
	portGroup  int
	protoGroup int
	shape      bool
	service    []valueRef
	borrow     time.Duration
	ports      []ports.PortSpec
}

// ServiceLookup maps a service name (key, display name or alias) to the
// ports it needs; ports.LookupService is the built-in table.
type ServiceLookup func(name string) (ports.ServicePorts, bool)

// extraction is what needs found for one event.
type extraction struct {
	ports   []ports.PortSpec
	from    string // how the ports were found
	service string // service key (or name as logged when not in the table)
	svcName string // as logged
	known   *ports.ServicePorts
	note    string // why nothing was found
}

func (n *needs) extract(ev *evtx.Event, templates map[uint16]string, lookup ServiceLookup) extraction {
	var x extraction
	// The service name is worked out whatever gives the port: reports and
	// grouping use it, and the table knows the expected owners.
	for _, ref := range n.service {
		v, ok := ref.value(ev, templates)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		v = strings.TrimSpace(v)
		if x.svcName == "" {
			x.svcName = v
		}
		if lookup != nil {
			if sp, ok := lookup(v); ok {
				x.known = &sp
				x.service = sp.Key
				break
			}
		}
	}
	if x.service == "" {
		x.service = x.svcName
	}

	for _, ref := range n.fields {
		v, ok := ref.value(ev, templates)
		if !ok {
			continue
		}
		if p, ok := parseEndpointPort(v); ok {
			x.ports = []ports.PortSpec{{Protocol: n.proto, Port: p}}
			x.from = "field " + ref.String() + " = " + strconv.Quote(clip(v, 60))
			return x
		}
	}
	if n.message != nil {
		text := eventText(ev, templates)
		if m := n.message.FindStringSubmatch(text); m != nil && n.portGroup < len(m) {
			if p, ok := parsePort(m[n.portGroup]); ok {
				proto := n.proto
				if n.protoGroup > 0 && n.protoGroup < len(m) {
					switch strings.ToLower(m[n.protoGroup]) {
					case "tcp":
						proto = ports.TCP
					case "udp":
						proto = ports.UDP
					}
				}
				if proto != "" {
					x.ports = []ports.PortSpec{{Protocol: proto, Port: p}}
					x.from = "message " + strconv.Quote(clip(m[0], 60))
					return x
				}
			}
		}
	}
	if n.shape {
		var cands []string
		var where []string
		for i, d := range ev.Data {
			v := strings.TrimSpace(d.Value)
			v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
			if _, ok := parsePort(v); ok && !slices.Contains(cands, v) {
				cands = append(cands, v)
				where = append(where, "%"+strconv.Itoa(i+1))
			}
		}
		switch len(cands) {
		case 1:
			p, _ := parsePort(cands[0])
			x.ports = []ports.PortSpec{{Protocol: n.proto, Port: p}}
			x.from = "insertion string " + where[0] + " = " + strconv.Quote(cands[0]) + ", the only port-shaped one"
			return x
		case 0:
			x.note = "no insertion string is a port number"
		default:
			x.note = "several insertion strings look like ports (" + strings.Join(cands, ", ") + "): not guessing"
		}
	}
	if x.known != nil && len(x.known.Ports) > 0 {
		x.ports = append([]ports.PortSpec(nil), x.known.Ports...)
		x.from = "service table: " + x.known.Key + " needs " + portList(x.ports)
		return x
	}
	if len(n.service) > 0 && x.svcName != "" && x.known == nil && x.note == "" {
		x.note = fmt.Sprintf("service %q is not in the service→ports table", x.svcName)
	}
	// Borrowing and fixed ports are applied after all events are seen.
	return x
}

// parsePort reads a bare decimal port 1..65535. Hex and parameter
// references are error codes, not ports.
func parsePort(s string) (uint16, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 5 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// parseEndpointPort finds the port in "0.0.0.0:443", "[::]:80",
// "https://+:443/path/", "*:8080" or a bare "443".
func parseEndpointPort(s string) (uint16, bool) {
	s = strings.TrimSpace(s)
	if p, ok := parsePort(s); ok {
		return p, true
	}
	if strings.Contains(s, "://") {
		// HTTP.sys URL prefixes use + and * as hosts, which url.Parse
		// rejects in a port position only when malformed.
		u, err := url.Parse(strings.NewReplacer("+", "plus", "*", "star").Replace(s))
		if err != nil {
			return 0, false
		}
		if p, ok := parsePort(u.Port()); ok {
			return p, true
		}
		switch strings.ToLower(u.Scheme) {
		case "https":
			return 443, true
		case "http":
			return 80, true
		}
		return 0, false
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Port() != 0 {
		return ap.Port(), true
	}
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return 0, false
	}
	return parsePort(s[i+1:])
}

func portList(ps []ports.PortSpec) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
