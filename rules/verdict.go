package rules

import (
	"slices"
	"strings"

	"github.com/evtwatch/evtwatch/rules/ports"
)

// expectation says who may hold a failing service's ports without blame.
type expectation struct {
	rule    *Rule
	known   *ports.ServicePorts
	source  string
	service string
}

// expects reports whether owner is an expected holder of the port.
func (e expectation) expects(o ports.Owner) bool {
	vals := map[string]string{"source": e.source, "service": e.service}
	for _, t := range e.rule.expected {
		if want := strings.TrimSpace(t.render(vals)); want != "unknown" && e.ownerIs(want, o) {
			return true
		}
	}
	if e.known != nil {
		for _, want := range e.known.Expected {
			if e.ownerIs(want, o) {
				return true
			}
		}
	}
	return false
}

// ownerIs matches one expected-owner name against an owner: "System" is
// PID 4; a service name matches the services the process hosts; an image
// name matches the image only when the process runs the failing service
// or its services are unknown, so an svchost.exe (or a second SQL Server
// instance) hosting something else is still blamed.
func (e expectation) ownerIs(want string, o ports.Owner) bool {
	if want == "" {
		return false
	}
	image := o.Process.Image
	if strings.EqualFold(want, "System") && (o.Process.PID == 4 || strings.EqualFold(image, "System")) {
		return true
	}
	if image != "" && strings.EqualFold(want, image) {
		return len(o.Process.Services) == 0 || e.hostsService(o)
	}
	return slices.ContainsFunc(o.Process.Services, func(s string) bool { return strings.EqualFold(s, want) })
}

// hostsService reports whether the owner process runs the failing service.
func (e expectation) hostsService(o ports.Owner) bool {
	names := []string{e.service, e.source}
	if e.known != nil {
		names = append(names, e.known.Key)
		names = append(names, e.known.Aliases...)
	}
	for _, s := range o.Process.Services {
		for _, n := range names {
			if n != "" && strings.EqualFold(s, n) {
				return true
			}
		}
	}
	return false
}

// judge asks the snapshot about every needed port. An unexpected owner on
// any port makes the verdict "held" with that owner as culprit; otherwise
// an expected owner means recovered, and no owner at all means the
// conflict was transient. No snapshot means unknown.
func judge(needed []ports.PortSpec, snap *ports.Snapshot, exp expectation) (Verdict, []PortCheck, *Culprit) {
	checks := make([]PortCheck, 0, len(needed))
	if snap == nil {
		for _, p := range needed {
			checks = append(checks, PortCheck{Protocol: p.Protocol, Port: p.Port, Verdict: VerdictUnknown})
		}
		return VerdictUnknown, checks, nil
	}
	var culprit *Culprit
	anyExpected := false
	for _, p := range needed {
		owners := snap.Lookup(p.Protocol, p.Port)
		c := PortCheck{Protocol: p.Protocol, Port: p.Port, Verdict: VerdictFree}
		listened := slices.ContainsFunc(owners, func(o ports.Owner) bool { return o.Binding.Listening() })
		for _, o := range owners {
			if p.Protocol == ports.TCP && !o.Binding.Listening() && !blocksListener(o, listened) {
				continue
			}
			owner := culpritOf(o)
			if exp.expects(o) {
				if c.Verdict == VerdictFree {
					c.Verdict, c.Owner = VerdictExpected, owner
				}
				continue
			}
			c.Verdict, c.Owner = VerdictHeld, owner
			break
		}
		switch c.Verdict {
		case VerdictHeld:
			if culprit == nil {
				culprit = c.Owner
			}
		case VerdictExpected:
			anyExpected = true
		}
		checks = append(checks, c)
	}
	switch {
	case culprit != nil:
		return VerdictHeld, checks, culprit
	case anyExpected:
		return VerdictExpected, checks, nil
	}
	return VerdictFree, checks, nil
}

// blocksListener says whether a TCP socket that is not listening keeps a
// service from listening on its local port. Where somebody listens on the
// port, its connections are that listener's accepted ones. Where nobody
// does, a connection that took the port as its local (ephemeral) port is
// exactly what stops the service: KB 885959, an outgoing connection on
// 1723 breaking PPTP. Sockets in TIME_WAIT, or owned by nobody (PID 0),
// are left over from closed connections and do not.
func blocksListener(o ports.Owner, listened bool) bool {
	if listened || o.Process.PID == 0 {
		return false
	}
	return o.Binding.State != "TIME_WAIT"
}

func culpritOf(o ports.Owner) *Culprit {
	c := &Culprit{
		PID:       o.Process.PID,
		Image:     o.Process.Image,
		Path:      o.Process.Path,
		Started:   o.Process.Started,
		Services:  append([]string(nil), o.Process.Services...),
		PortsHeld: o.TCPPorts + o.UDPPorts,
		UDPPorts:  o.UDPPorts,
		TCPPorts:  o.TCPPorts,
		Pool:      o.Pool,
	}
	if c.Image == "" && c.PID == 4 {
		c.Image = "System"
	}
	if c.Pool && isDNSServer(c) {
		c.PoolKind = "dns"
	}
	return c
}

func isDNSServer(c *Culprit) bool {
	if strings.EqualFold(c.Image, "dns.exe") {
		return true
	}
	return slices.ContainsFunc(c.Services, func(s string) bool { return strings.EqualFold(s, "DNS") })
}
