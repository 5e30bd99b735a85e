package main

import (
	"context"
	"fmt"

	"github.com/evtwatch/evtwatch/rules/ports"
)

const auditUsage = `Check the dynamic (random) port range against the fixed ports services need.

USAGE
  evtwatch audit [--json] [--all] [CAPTURE|DIR...]

Works out where random binds land on the machine: the ephemeral port range
per protocol (2000/XP/2003: 1025..MaxUserPort, or 1025-5000 when it is not
set; Vista/2008 and later: the netsh dynamic port range) and the range the
DNS server's socket pool draws from (2003: 1024..MaxUserPort when it is
set, otherwise 49152-65535; later: the UDP dynamic range), minus reserved
(ReservedPorts) and excluded (netsh excludedportrange,
SocketPoolExcludedPortRanges) ports. Then it lists every fixed port of a
known service (Exchange ActiveSync udp 2883, IAS/NPS udp 1645/1646/1812/
1813, IPsec udp 500/4500, L2TP udp 1701, BigFix udp 52311, ...) inside
that space, who holds it now, the chance that one DNS start takes it
(pool size / candidate ports, e.g. 2,500/64,511 = 3.875%), and the
commands that fix it: the ReservedPorts value on 2003, netsh int ipv4 add
excludedportrange on 2008 and later, dnscmd /Config
/SocketPoolExcludedPortRanges on 2008 R2 and later, and the
SocketPoolSize advice.

Without arguments it audits this machine live (Windows only: it reads the
registry and runs netsh). With arguments it reads a folder written by
collect.cmd, or any captures of reg query, netsh, ver/systeminfo, netstat
and tasklist; what is missing is assumed from Windows defaults and listed
under NOTES.

The fix covers the ports of services seen on the machine (running, or
holding their port) and ports someone else holds now; --all adds every
known service.

EXAMPLES
  $ evtwatch audit rules/ports/testdata/sbs2003
  $ evtwatch audit --json SBS01-20090113/
`

func runAudit(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("audit", auditUsage, s)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	all := fs.Bool("all", false, "include every known service's ports in the fix, not only those seen on the machine")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	snap, facts, partial, err := loadPortInputs(ctx, paths, s.Err)
	if err != nil {
		return exitError, err
	}
	if len(paths) == 0 && facts == nil {
		_, ferr := ports.LiveFacts(ctx)
		return exitError, fmt.Errorf("live audit: %w", ferr)
	}
	rep := ports.Audit(snap, facts, ports.AuditOptions{All: *all})
	return writePortReport(s, rep, *asJSON, partial)
}
