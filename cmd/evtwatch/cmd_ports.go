package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules/ports"
)

const portsUsage = `Show which processes hold which TCP and UDP ports.

USAGE
  evtwatch ports [--json] [--port N] [CAPTURE|DIR...]

Without arguments it reads this machine's live tables (Windows: the
GetExtendedTcpTable/UdpTable owner tables and the service manager; Linux:
sock_diag netlink, or /proc/net, and /proc/PID for the owners). With
arguments it reads captured command output instead: netstat
-ano and -anob, tasklist /svc and tasklist (CSV or table), PowerShell
Get-NetUDPEndpoint/Get-NetTCPConnection CSV, and the other files
collect.cmd writes. Each file is recognised by its content, in any
language and in UTF-16 or the OEM code page, so a collector folder can be
passed as it is; event logs in it are skipped quietly.

One line per process: PID, image, services, TCP and UDP socket counts and
the listening ports, long runs collapsed ("udp 53, 2,500 ports in
1025–65529"). Processes that need attention come first: socket pools
(hundreds of random ports, the DNS server's MS08-037 pool named as such)
and processes holding a fixed port another service needs.

--port N shows who holds port N, TCP and UDP, and which known services
need it. --json prints {"processes": [...], "bindings": [...]} with the
same data (processes[] with pid, image, services, tcp, udp, pool, ...).

Rows that cannot be read are reported on stderr with file and line and
skipped; the exit status is then 3.

EXAMPLES
  $ evtwatch ports
  $ evtwatch ports --port 2883 rules/ports/testdata/sbs2003
  $ evtwatch ports --json SBS01-20090113/ > ports.json
`

func runPorts(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("ports", portsUsage, s)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	port := fs.Uint("port", 0, "show only who holds this port (1-65535)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if *port > 65535 {
		return exitUsage, usagef("--port must be 1-65535, not %d", *port)
	}
	snap, _, partial, err := loadPortInputs(ctx, paths, s.Err)
	if err != nil {
		return exitError, err
	}
	rep := ports.NewPortsReport(snap, uint16(*port))
	return writePortReport(s, rep, *asJSON, partial)
}

// loadPortInputs takes the live snapshot when paths is empty, otherwise
// loads the captures among paths (files and folders). Problems with single
// files go to errw and make the result partial; an error means nothing
// usable was found.
func loadPortInputs(ctx context.Context, paths []string, errw io.Writer) (*ports.Snapshot, *ports.Facts, bool, error) {
	if len(paths) == 0 {
		snap, err := ports.Live(ctx)
		if err != nil {
			return nil, nil, false, err
		}
		facts, err := ports.LiveFacts(ctx)
		if err != nil {
			facts = nil // only the audit needs them; it reports the gap
		}
		return snap, facts, false, nil
	}
	files, err := expandInputs(paths)
	if err != nil {
		return nil, nil, false, err
	}
	explicit := make(map[string]bool, len(paths))
	for _, p := range paths {
		explicit[p] = true
	}
	partial := false
	var captures []string
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return nil, nil, false, err
		}
		head, err := readCaptureHead(path, ports.SniffLen)
		if err != nil {
			fmt.Fprintf(errw, "%v\n", err)
			partial = true
			continue
		}
		switch {
		case ports.IsCapture(head):
			captures = append(captures, path)
		case evtx.Sniff(head) != evtx.FormatUnknown && !explicit[path]:
			// An event log in a collector folder: analyze reads it.
		case explicit[path]:
			fmt.Fprintf(errw, "%s: not a port capture (netstat, tasklist, PowerShell CSV, netsh, reg query, ver, systeminfo)\n", path)
			partial = true
		default:
			fmt.Fprintf(errw, "%s: skipped: not a port capture\n", path)
		}
	}
	snap, facts, problems, err := ports.LoadCaptures(captures...)
	for _, p := range problems {
		fmt.Fprintf(errw, "%v\n", p)
		partial = true
	}
	if errors.Is(err, ports.ErrNoCaptures) {
		return nil, nil, false, fmt.Errorf("no port captures among %d input file(s)", len(files))
	}
	if err != nil {
		return nil, nil, false, err
	}
	return snap, facts, partial, nil
}

func readCaptureHead(path string, n int) ([]byte, error) {
	// A named pipe would block the open until someone writes to it.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		if st.IsDir() {
			return nil, fmt.Errorf("%s: is a folder, not a capture file", path)
		}
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, n)
	m, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return head[:m], nil
}

// textReport is a report that can print itself for people.
type textReport interface{ WriteText(io.Writer) error }

// writePortReport prints a ports or audit report as text or indented JSON
// and picks the exit code: partial when some capture could not be read.
func writePortReport(s streams, rep textReport, asJSON, partial bool) (exitCode, error) {
	var err error
	if asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(s.Out)
	}
	if err != nil {
		return exitError, err
	}
	if partial {
		return exitPartial, nil
	}
	return exitOK, nil
}
