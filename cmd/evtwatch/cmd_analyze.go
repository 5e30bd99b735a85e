package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/rules"
	"github.com/evtwatch/evtwatch/rules/ports"
)

const analyzeUsage = `Find repeating port-conflict failures in event logs and port captures, and
name the process that holds the port.

USAGE
  evtwatch analyze [--format text|json] [--rules FILE|DIR]... [--no-builtin]
                   [--live-ports] PATH...

PATH is any mix of event logs (.evtx, .evt, wevtutil/PowerShell XML, Event
Viewer text/CSV exports) and port captures (netstat -ano, tasklist /svc,
PowerShell CSV, reg query, netsh, ver/systeminfo: what collect.cmd writes),
or folders holding them. Each file is recognised by its content; files that
are neither are skipped and listed.

The built-in rules (evtwatch rules list) find failures that repeat — three
times within a rule's window is a pattern, counted on event time so an
exported log gives the same answer as a live one — work out the port the
failing service needs, and ask the captured port table who holds it now:
an unexpected process (the culprit: PID, image, services, how many ports it
holds, whether it is a socket pool), the expected owner (recovered), nobody
(transient), or unknown (no netstat capture given).

The text report lists findings first, each with the culprit in its first
line, then failures below their threshold, then every input with what was
read or skipped and why. --format json prints {"findings": [...],
"below_threshold": [...], "inputs": [...], "snapshot": {...}}.

If no event was read at all (no event log among the inputs, only port
captures, or only empty or unreadable logs), nothing can be found: the
report says why in its first line ("nothing_analysed" in JSON), still lists
the inputs, and the exit status is 1, or 3 when an input could not be read.
For captures alone, use 'evtwatch ports'.

--rules adds rule files (or every *.yaml in a folder); a rule with the id of
a built-in rule replaces it ("disabled: true" switches it off). With
--no-builtin only the given rules run.

--live-ports asks this machine's port tables instead of captures: use it
only when the logs are from this machine.

EXAMPLES
  # The bundled SBS 2003 sample: ActiveSync 3015/3024 and dns.exe
  $ evtwatch analyze testdata/sbs2003

  # Logs exported from a server plus netstat/tasklist captured there
  $ evtwatch analyze Application.evtx System.evtx netstat.txt tasklist.txt

  # Machine-readable, with site rules
  $ evtwatch analyze --format json --rules site-rules/ SRV01/
`

// ruleFlags collects repeated --rules values.
type ruleFlags []string

func (r *ruleFlags) String() string     { return strings.Join(*r, ",") }
func (r *ruleFlags) Set(v string) error { *r = append(*r, v); return nil }

// ruleOptions are the flags every command that runs rules shares.
type ruleOptions struct {
	files     ruleFlags
	noBuiltin bool
}

func (o *ruleOptions) addFlags(fs *flag.FlagSet) {
	fs.Var(&o.files, "rules", "rule `FILE|DIR` to add (repeatable); same id replaces a built-in rule")
	fs.BoolVar(&o.noBuiltin, "no-builtin", false, "run only the rules given with --rules")
}

// load returns the rule set: the built-in pack, overridden by --rules in
// order. Invalid rules are a configError (exit 4).
func (o *ruleOptions) load() (*rules.RuleSet, error) {
	var sets []*rules.RuleSet
	if !o.noBuiltin {
		b, err := rules.Builtin()
		if err != nil {
			return nil, &configError{err}
		}
		sets = append(sets, b)
	} else if len(o.files) == 0 {
		return nil, usagef("--no-builtin needs at least one --rules FILE|DIR")
	}
	var problems []rules.Problem
	for _, f := range o.files {
		set, err := rules.LoadPath(f)
		var ve *rules.ValidationError
		switch {
		case errors.As(err, &ve):
			problems = append(problems, ve.Problems...)
			continue
		case err != nil:
			return nil, &configError{err}
		}
		sets = append(sets, set)
	}
	if problems != nil {
		return nil, &configError{&rules.ValidationError{Problems: problems}}
	}
	return rules.Merge(sets...), nil
}

// inputReport says what was done with one input file.
type inputReport struct {
	Path string `json:"path"`
	// Kind is "log", "capture", "skipped" or "unreadable".
	Kind string `json:"kind"`
	// Format is the log format (evtx, evt, xml, text, csv) or capture kind
	// ("netstat -ano").
	Format   string   `json:"format,omitempty"`
	Events   int      `json:"events,omitempty"`
	Records  int      `json:"records,omitempty"`
	Note     string   `json:"note,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// loadedInputs is everything read from the command line's paths.
type loadedInputs struct {
	analysis *rules.Analysis
	inputs   []*inputReport
	snap     *ports.Snapshot
	facts    *ports.Facts
	// partial is set when some input could not be read (exit 3).
	partial bool
	// snapNote says why there is no port table, when there is none.
	snapNote string
}

func (l *loadedInputs) ruleInputs() rules.Inputs {
	return rules.Inputs{Snapshot: l.snap, Facts: l.facts}
}

// nothingRead says why no event was read, or "" when some were. Without
// events no rule can fire, so "no conflict found" would read as a clean
// bill of health for logs that were never looked at.
func (l *loadedInputs) nothingRead() string {
	if l.analysis.Events() > 0 {
		return ""
	}
	var logs, captures, unreadable int
	for _, in := range l.inputs {
		switch in.Kind {
		case "log":
			logs++
		case "capture":
			captures++
		case "unreadable":
			unreadable++
		}
	}
	switch {
	case logs > 0 && l.partial:
		return "no event could be read from the event logs among the inputs"
	case logs > 0:
		return "the event logs among the inputs hold no event"
	case unreadable > 0:
		return "no event log could be read from the inputs"
	case captures > 0:
		return "no event log found among the inputs (only port captures: 'evtwatch ports' shows who holds what)"
	}
	return "no event log found among the inputs"
}

// readInputs routes each file to the event-log readers (evtx.Open sniffs
// the format) or, when it is not a log, to the capture loader, and feeds
// the events to a new analysis. Files named on the command line that are
// neither make the result partial; such files inside folders are listed as
// skipped. Damage inside a log is listed with file and offset and makes the
// result partial, but the rest is still read.
func readInputs(ctx context.Context, eng *rules.Engine, paths []string, livePorts bool, s streams) (*loadedInputs, error) {
	files, err := expandInputs(paths)
	if err != nil {
		return nil, err
	}
	explicit := make(map[string]bool, len(paths))
	for _, p := range paths {
		explicit[p] = true
	}
	l := &loadedInputs{analysis: eng.NewAnalysis()}
	var captures []string
	byPath := map[string]*inputReport{}
	lastProgress := time.Now()
	for i, path := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := &inputReport{Path: path}
		l.inputs = append(l.inputs, in)
		byPath[path] = in
		// Records no rule names are passed over before decoding (for
		// .evtx, judged from their template values; see evtx.Filter);
		// they still count as read. (keep is called one record at a
		// time, also by OpenParallel's workers.)
		passed := 0
		keep := func(h evtx.Header) bool {
			if eng.KeepHeader(h) {
				return true
			}
			passed++
			return false
		}
		r, err := evtx.OpenParallel(path, evtx.Options{Filter: evtx.Filter{Keep: keep}}, 0)
		if errors.Is(err, evtx.ErrUnknownFormat) {
			head, herr := readCaptureHead(path, ports.SniffLen)
			switch {
			case herr != nil:
				in.Kind, in.Problems, l.partial = "unreadable", []string{herr.Error()}, true
			case ports.IsCapture(head):
				in.Kind, in.Format = "capture", string(ports.Sniff(head))
				captures = append(captures, path)
			default:
				in.Kind, in.Note = "skipped", "not an event log or a port capture"
				if explicit[path] {
					l.partial = true
				}
			}
			continue
		}
		if err != nil {
			in.Kind, in.Problems, l.partial = "unreadable", []string{err.Error()}, true
			continue
		}
		in.Kind, in.Format = "log", string(r.Format())
		for ev, err := range evtx.All(ctx, r) {
			if err != nil {
				in.Problems = append(in.Problems, err.Error())
				l.partial = true
				break
			}
			l.analysis.Add(ev)
			in.Events++
			if s.ErrIsTTY && in.Events%8192 == 0 && time.Since(lastProgress) > 200*time.Millisecond {
				lastProgress = time.Now()
				fmt.Fprintf(s.Err, "\r%d/%d files, %d events", i+1, len(files), l.analysis.Events()+passed)
			}
		}
		in.Events += passed
		l.analysis.Skipped(passed)
		for _, p := range r.Problems() {
			in.Problems = append(in.Problems, p.Error())
			l.partial = true
		}
		r.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if s.ErrIsTTY && l.analysis.Events() >= 8192 {
		fmt.Fprintf(s.Err, "\r%d/%d files, %d events\n", len(files), len(files), l.analysis.Events())
	}

	if livePorts {
		if len(captures) > 0 {
			return nil, usagef("--live-ports and port captures (%s) do not mix: the captures describe another moment, or another machine", captures[0])
		}
		snap, err := ports.Live(ctx)
		if err != nil {
			return nil, fmt.Errorf("live port table: %w", err)
		}
		l.snap = snap
		if facts, err := ports.LiveFacts(ctx); err == nil {
			l.facts = facts
		}
		return l, nil
	}
	if len(captures) == 0 {
		l.snapNote = "no port capture (netstat -ano) among the inputs"
		return l, nil
	}
	snap, facts, problems, err := ports.LoadCaptures(captures...)
	if err != nil && !errors.Is(err, ports.ErrNoCaptures) {
		return nil, err
	}
	for _, p := range problems {
		l.partial = true
		var pe *ports.ParseError
		if errors.As(p, &pe) {
			if in, ok := byPath[pe.File]; ok {
				in.Problems = append(in.Problems, p.Error())
				continue
			}
		}
		// A problem not tied to a known file still must be seen.
		l.inputs = append(l.inputs, &inputReport{Path: "(captures)", Kind: "unreadable", Problems: []string{p.Error()}})
	}
	hasTable := false
	if facts != nil {
		for _, c := range facts.Captures {
			if in, ok := byPath[c.Path]; ok {
				in.Format, in.Records = string(c.Kind), c.Records
			}
			switch c.Kind {
			case ports.KindNetstat, ports.KindNetstatOwner, ports.KindPSUDP, ports.KindPSTCP:
				hasTable = true
			}
		}
	}
	l.facts = facts
	// Without a socket table every port would look free; no table is
	// "unknown", not "free".
	if hasTable {
		l.snap = snap
	} else {
		l.snapNote = "the captures hold no socket table (netstat -ano)"
	}
	return l, nil
}

// analyzeReport is the JSON shape of analyze's output.
type analyzeReport struct {
	Findings []rules.Finding        `json:"findings"`
	Below    []rules.BelowThreshold `json:"below_threshold"`
	Inputs   []*inputReport         `json:"inputs"`
	Snapshot *rules.SnapshotSummary `json:"snapshot"`
	// SnapshotNote says why there is no snapshot.
	SnapshotNote string `json:"snapshot_note,omitempty"`
	Rules        int    `json:"rules"`
	Events       int    `json:"events"`
	// NothingAnalysed says why no event was read (exit status 1).
	NothingAnalysed string `json:"nothing_analysed,omitempty"`
}

func runAnalyze(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("analyze", analyzeUsage, s)
	format := fs.String("format", "text", "output `format`: text or json")
	var ro ruleOptions
	ro.addFlags(fs)
	live := fs.Bool("live-ports", false, "use this machine's port tables instead of captures")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if *format != "text" && *format != "json" {
		return exitUsage, usagef("--format must be text or json, not %q", *format)
	}
	if len(paths) == 0 {
		return exitUsage, usagef("no input: give at least one log, capture or folder")
	}
	set, err := ro.load()
	if err != nil {
		return exitConfig, err
	}
	eng, err := rules.NewEngine(set)
	if err != nil {
		return exitConfig, &configError{err}
	}
	loaded, err := readInputs(ctx, eng, paths, *live, s)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return exitInterrupted, nil
		}
		return codeFor(err), err
	}
	res := loaded.analysis.Result(loaded.ruleInputs())

	out := bufio.NewWriter(s.Out)
	if *format == "json" {
		err = writeAnalyzeJSON(out, res, loaded, len(eng.Rules()))
	} else {
		err = writeAnalyzeText(out, res, loaded, eng)
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return exitError, fmt.Errorf("write output: %w", err)
	}
	// Partial wins over "nothing read": an input that could not be read
	// is the thing to fix, as for dump.
	switch {
	case loaded.partial:
		return exitPartial, nil
	case loaded.nothingRead() != "":
		return exitError, errors.New("nothing to analyse: " + loaded.nothingRead())
	case len(res.Findings) > 0:
		return exitFindings, nil
	}
	return exitOK, nil
}

func writeAnalyzeJSON(w io.Writer, res *rules.Result, l *loadedInputs, nrules int) error {
	rep := analyzeReport{
		Findings:     res.Findings,
		Below:        res.Below,
		Inputs:       l.inputs,
		Snapshot:     res.Snapshot,
		SnapshotNote: l.snapNote,
		Rules:        nrules,
		Events:       l.analysis.Events(),

		NothingAnalysed: l.nothingRead(),
	}
	if rep.Inputs == nil {
		rep.Inputs = []*inputReport{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

const timeLayout = "2006-01-02 15:04:05Z07:00"

func writeAnalyzeText(w io.Writer, res *rules.Result, l *loadedInputs, eng *rules.Engine) error {
	origins := map[string]string{}
	for _, r := range eng.Rules() {
		origins[r.ID] = r.Origin
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }

	nothing := l.nothingRead()
	switch {
	case nothing != "":
		p("Nothing analysed: %s.\n", nothing)
	case len(res.Findings) == 0:
		p("No repeating port conflict found (%s, %s).\n", plural(l.analysis.Events(), "event"), plural(len(eng.Rules()), "rule"))
	}
	for i, f := range res.Findings {
		if i > 0 {
			p("\n")
		}
		p("%d. %s\n", i+1, clean(f.Summary))
		p("   rule      %s (%s)\n", f.Rule, origins[f.Rule])
		p("   when      %s – %s, %s, %s\n", f.First.Format(timeLayout), f.Last.Format(timeLayout), plural(f.Count, "failure"), f.Cadence)
		if f.Port != 0 {
			p("   port      %s/%d", f.Protocol, f.Port)
			if f.PortSource != "" {
				p(" (from %s)", clean(f.PortSource))
			}
			p("\n")
		} else if f.PortSource != "" {
			p("   port      unknown: %s\n", clean(f.PortSource))
		}
		if f.Error != "" {
			p("   error     %s\n", f.Error)
		}
		p("   verdict   %s\n", verdictText(f, l))
		if c := f.Culprit; c != nil {
			p("   culprit   %s\n", clean(culpritText(c)))
		}
		if len(f.Ports) > 1 {
			for _, c := range f.Ports {
				owner := ""
				if c.Owner != nil {
					owner = fmt.Sprintf(" by %s (PID %d)", orDash(c.Owner.Image), c.Owner.PID)
				}
				p("   %-9s %s/%d %s%s\n", "", c.Protocol, c.Port, c.Verdict, owner)
			}
		}
		for j, ev := range f.Evidence {
			label := ""
			if j == 0 {
				label = "evidence"
			}
			p("   %-9s %s\n", label, clean(evidenceLine(ev)))
		}
		p("   advice\n")
		for _, line := range strings.Split(f.Advice, "\n") {
			if line == "" {
				p("\n")
				continue
			}
			p("     %s\n", clean(line))
		}
	}

	if len(res.Below) > 0 {
		p("\nBELOW THRESHOLD (one-offs and coincidences, not reported as findings)\n")
		for _, b := range res.Below {
			port := ""
			if b.Port != 0 {
				port = fmt.Sprintf(" %s/%d", b.Protocol, b.Port)
			}
			p("  %s  %s on %s%s: %s, at most %d within %s (threshold %d)\n",
				b.First.Format(timeLayout), b.Rule, clean(orDash(b.Host)), port, plural(b.Count, "time"), b.Best, b.Window, b.Threshold)
			p("      %s\n", clean(b.Sample))
		}
	}

	p("\nINPUTS\n")
	for _, in := range l.inputs {
		what := ""
		switch in.Kind {
		case "log":
			what = fmt.Sprintf("event log (%s), %s", in.Format, plural(in.Events, "event"))
		case "capture":
			what = fmt.Sprintf("port capture (%s), %s", in.Format, plural(in.Records, "record"))
		case "skipped":
			what = in.Note
		case "unreadable":
			what = "could not be read"
		}
		p("  %-10s %s: %s\n", in.Kind, clean(in.Path), clean(what))
		for _, pr := range in.Problems {
			p("  %-10s   problem: %s\n", "", clean(pr))
		}
	}
	switch {
	case res.Snapshot != nil:
		p("  port table from %s\n", res.Snapshot.Source)
	case l.snapNote != "":
		p("  no port table: %s; verdicts are \"unknown\"\n", l.snapNote)
	}
	p("\n%s, %d below threshold; %s read with %s", plural(len(res.Findings), "finding"), len(res.Below), plural(l.analysis.Events(), "event"), plural(len(eng.Rules()), "rule"))
	switch {
	case l.partial && nothing != "":
		p("; nothing analysed, some input could not be read (exit status 3)")
	case l.partial:
		p("; some input could not be read (exit status 3)")
	case nothing != "":
		p("; nothing analysed (exit status 1)")
	}
	p(".\n")
	return nil
}

func verdictText(f rules.Finding, l *loadedInputs) string {
	switch f.Verdict {
	case rules.VerdictHeld:
		return "held by another process (the culprit)"
	case rules.VerdictExpected:
		return "held by its expected owner now (recovered)"
	case rules.VerdictFree:
		return "free now (the conflict was transient)"
	case rules.VerdictNotConflict:
		return "not a port conflict"
	}
	if f.Port == 0 {
		return "unknown: the port could not be worked out"
	}
	if f.Note != "" {
		return "unknown: " + f.Note
	}
	if l.snapNote != "" {
		return "unknown: " + l.snapNote
	}
	return "unknown"
}

func culpritText(c *rules.Culprit) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%s, PID %d", orDash(c.Image), c.PID))
	if c.Path != "" {
		parts = append(parts, c.Path)
	}
	if len(c.Services) > 0 {
		parts = append(parts, "services "+strings.Join(c.Services, ", "))
	}
	if !c.Started.IsZero() {
		parts = append(parts, "started "+c.Started.UTC().Format(timeLayout))
	}
	held := fmt.Sprintf("holds %s UDP and %s TCP ports", ports.FormatCount(c.UDPPorts), ports.FormatCount(c.TCPPorts))
	switch {
	case c.PoolKind == "dns":
		held += ": the DNS socket pool (MS08-037)"
	case c.Pool:
		held += ": a socket pool"
	}
	parts = append(parts, held)
	return strings.Join(parts, "; ")
}

func evidenceLine(ev evtx.Event) string {
	where := ev.Origin.Path
	if ev.Origin.Offset >= 0 && where != "" {
		where = fmt.Sprintf("%s@%d", where, ev.Origin.Offset)
	}
	vals := make([]string, 0, len(ev.Data))
	for _, d := range ev.Data {
		v := d.Value
		if d.Name != "" {
			v = d.Name + "=" + v
		}
		vals = append(vals, fmt.Sprintf("%q", v))
	}
	line := fmt.Sprintf("%s %s %d", ev.Time.UTC().Format(timeLayout), ev.SourceName(), ev.EventID)
	if ev.RecordID != 0 {
		line += fmt.Sprintf(" #%d", ev.RecordID)
	}
	if len(vals) > 0 {
		line += " [" + strings.Join(vals, ", ") + "]"
	}
	if where != "" {
		line += " (" + where + ")"
	}
	return line
}

// clean makes event-derived text safe for a terminal: control characters
// (escape sequences in a crafted event) are shown escaped, not sent.
func clean(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

// plural says "1 event", "2,500 events".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return ports.FormatCount(n) + " " + noun + "s"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
