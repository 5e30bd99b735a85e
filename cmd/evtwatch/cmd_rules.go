package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/evtwatch/evtwatch/rules"
	"github.com/evtwatch/evtwatch/rules/ports"
)

const rulesUsage = `List, validate, test and explain rules.

USAGE
  evtwatch rules list     [--rules FILE|DIR]... [--no-builtin] [--json]
  evtwatch rules validate [--json] [FILE|DIR...]
  evtwatch rules test     [--update] TESTFILE...
  evtwatch rules explain  [--rules FILE|DIR]... [--json] [--live-ports] RULE PATH...

list      shows every rule that would run: the built-in pack (embedded in the
          binary) with --rules files on top, and where each comes from.
validate  checks rule files (the built-in pack without arguments) and
          reports every problem at once with file, line and rule id:
          unknown keys, bad values, regexes, placeholders, duplicate ids.
test      runs test files: each names rule files (relative to itself, on top
          of the built-in pack unless "builtin: false"), and cases with
          inputs (logs, captures, folders) and the findings expected:

            rules: [site-rules.yaml]
            cases:
              - name: sbs2003
                inputs: [../testdata/sbs2003]
                want:
                  - {rule: activesync-autd-udp, host: SBS01, protocol: udp,
                     port: 2883, verdict: held, culprit: dns.exe, pid: 1692,
                     count: 123}

          Only the keys given are compared; "want: []" expects no finding.
          A case whose inputs cannot all be read fails, whatever it finds.
          The exit status is 1 when a case fails.
          --update writes the findings the cases produce into the file (the
          golden way to write one; comments in it are not kept).
explain   says why RULE did or did not fire on the inputs: how many events
          had its provider and IDs, which conditions turned events away,
          each group's best count within the window against the threshold,
          how the port was worked out and what the port table says.

RULE FILE FORMAT
  rules:
    - id: my-app-port              # lower case, unique
      title: MyApp cannot bind its port
      match:                       # every key given must hold; lists mean any of
        channel: Application
        provider: [MyApp, 'MyApp*']  # provider or legacy source name
        event_id: [100, 200-205]
        level: error
        data: [{field: '%2', equals: ['%%10048']}, {field: Port, regex: '^\d+$'}]
        message: 'cannot bind'     # regex on the rendered message
      error: {from: ['%2', binary], conflict: [WSAEADDRINUSE], not_conflict: [WSAEADDRNOTAVAIL]}
      repeat: {threshold: 3, window: 1h, group_by: [host, port]}   # the defaults are 3, 24h, [host, port]
      needs:                       # tried in this order
        protocol: udp
        field: [Address, '%3']     # "0.0.0.0:443", "[::]:80", a URL or a bare port
        message: 'UDP port \[(\d+)\]'
        shape: true                # the one insertion string that looks like a port
        service: ['%1']            # looked up in the service→ports table
        borrow: 2m                 # from a port-carrying event of the same host and source
        ports: [udp/7777]          # fixed
      expected_owners: [myapp.exe, '{source}']
      advice: 'Restart MyApp on {host} once {protocol}/{port} is free.'

EXAMPLES
  $ evtwatch rules list
  $ evtwatch rules validate site-rules/
  $ evtwatch rules test rules/testdata/bundles.test.yaml
  $ evtwatch rules explain activesync-autd-udp testdata/sbs2003
`

func runRules(ctx context.Context, args []string, s streams) (exitCode, error) {
	if len(args) == 0 {
		fmt.Fprint(s.Err, rulesUsage)
		return exitUsage, usagef("rules: give a subcommand: list, validate, test or explain")
	}
	switch args[0] {
	case "list":
		return runRulesList(args[1:], s)
	case "validate":
		return runRulesValidate(args[1:], s)
	case "test":
		return runRulesTest(ctx, args[1:], s)
	case "explain":
		return runRulesExplain(ctx, args[1:], s)
	case "-h", "--help", "help":
		fmt.Fprint(s.Out, rulesUsage)
		fmt.Fprintf(s.Out, "\n%s", exitCodeHelp())
		return exitOK, nil
	}
	return exitUsage, usagef("rules: unknown subcommand %q (list, validate, test, explain)", args[0])
}

func runRulesList(args []string, s streams) (exitCode, error) {
	fs := newFlagSet("rules list", rulesUsage, s)
	var ro ruleOptions
	ro.addFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(rest) > 0 {
		return exitUsage, usagef("rules list takes no arguments; use --rules FILE|DIR")
	}
	set, err := ro.load()
	if err != nil {
		return codeFor(err), err
	}
	infos := make([]rules.RuleInfo, 0, len(set.Rules()))
	for _, r := range set.Rules() {
		infos = append(infos, r.Info())
	}
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return exitOK, enc.Encode(map[string]any{"rules": infos})
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCH\tREPEAT\tNEEDS\tORIGIN")
	for _, in := range infos {
		id := in.ID
		if in.Disabled {
			id += " (disabled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d in %s\t%s\t%s\n", id, in.Match, in.Threshold, in.Window, in.Needs, in.Origin)
	}
	if err := tw.Flush(); err != nil {
		return exitError, err
	}
	return exitOK, nil
}

func runRulesValidate(args []string, s streams) (exitCode, error) {
	fs := newFlagSet("rules validate", rulesUsage, s)
	asJSON := fs.Bool("json", false, "print JSON")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	type result struct {
		Valid    bool            `json:"valid"`
		Rules    int             `json:"rules"`
		Problems []rules.Problem `json:"problems"`
	}
	res := result{Problems: []rules.Problem{}}
	var sources []string
	check := func(set *rules.RuleSet, err error) error {
		var ve *rules.ValidationError
		switch {
		case errors.As(err, &ve):
			res.Problems = append(res.Problems, ve.Problems...)
		case err != nil:
			return err
		default:
			res.Rules += len(set.Rules())
		}
		return nil
	}
	if len(paths) == 0 {
		sources = []string{"the built-in pack"}
		if err := check(rules.Builtin()); err != nil {
			return exitError, err
		}
	}
	for _, p := range paths {
		sources = append(sources, p)
		if err := check(rules.LoadPath(p)); err != nil {
			return exitError, err
		}
	}
	res.Valid = len(res.Problems) == 0
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return exitError, err
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintln(s.Out, p.String())
		}
		if res.Valid {
			fmt.Fprintf(s.Out, "ok: %d rule(s) in %s\n", res.Rules, strings.Join(sources, ", "))
		} else {
			fmt.Fprintf(s.Out, "%d problem(s) in %s\n", len(res.Problems), strings.Join(sources, ", "))
		}
	}
	if !res.Valid {
		return exitConfig, nil
	}
	return exitOK, nil
}

// ruleTestFile is the format "evtwatch rules test" reads.
type ruleTestFile struct {
	// Rules are rule files or folders, relative to the test file.
	Rules []string `yaml:"rules,omitempty"`
	// Builtin loads the built-in pack under Rules (default true).
	Builtin *bool          `yaml:"builtin,omitempty"`
	Cases   []ruleTestCase `yaml:"cases"`
}

type ruleTestCase struct {
	Name string `yaml:"name"`
	// Inputs are logs, captures or folders, relative to the test file.
	Inputs []string       `yaml:"inputs"`
	Want   []expectedFind `yaml:"want"`
}

// expectedFind is a finding in the few fields a test compares; empty
// fields are not compared.
type expectedFind struct {
	Rule     string        `yaml:"rule" json:"rule"`
	Host     string        `yaml:"host,omitempty" json:"host,omitempty"`
	Service  string        `yaml:"service,omitempty" json:"service,omitempty"`
	Protocol string        `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	Port     int           `yaml:"port,omitempty" json:"port,omitempty"`
	Verdict  rules.Verdict `yaml:"verdict,omitempty" json:"verdict,omitempty"`
	Culprit  string        `yaml:"culprit,omitempty" json:"culprit,omitempty"`
	PID      int           `yaml:"pid,omitempty" json:"pid,omitempty"`
	Count    int           `yaml:"count,omitempty" json:"count,omitempty"`
}

func compactFinding(f rules.Finding) expectedFind {
	e := expectedFind{
		Rule: f.Rule, Host: f.Host, Service: f.Service, Protocol: string(f.Protocol),
		Port: int(f.Port), Verdict: f.Verdict, Count: f.Count,
	}
	if f.Culprit != nil {
		e.Culprit, e.PID = f.Culprit.Image, f.Culprit.PID
	}
	return e
}

// matches compares the fields the expectation gives.
func (e expectedFind) matches(got expectedFind) bool {
	eq := func(want, have string) bool { return want == "" || strings.EqualFold(want, have) }
	return e.Rule == got.Rule && eq(e.Host, got.Host) && eq(e.Service, got.Service) &&
		eq(e.Protocol, got.Protocol) && (e.Port == 0 || e.Port == got.Port) &&
		eq(string(e.Verdict), string(got.Verdict)) && eq(e.Culprit, got.Culprit) &&
		(e.PID == 0 || e.PID == got.PID) && (e.Count == 0 || e.Count == got.Count)
}

func (e expectedFind) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

func runRulesTest(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("rules test", rulesUsage, s)
	update := fs.Bool("update", false, "write the findings the cases produce into the test files")
	files, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(files) == 0 {
		return exitUsage, usagef("rules test needs at least one TESTFILE")
	}
	failed, total := 0, 0
	for _, file := range files {
		f, n, err := runRuleTestFile(ctx, file, *update, s)
		if err != nil {
			return codeFor(err), err
		}
		failed += f
		total += n
	}
	if failed > 0 {
		return exitError, fmt.Errorf("%d of %d case(s) failed", failed, total)
	}
	fmt.Fprintf(s.Out, "ok: %d case(s) passed\n", total)
	return exitOK, nil
}

func runRuleTestFile(ctx context.Context, file string, update bool, s streams) (failed, total int, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	var tf ruleTestFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		return 0, 0, &configError{fmt.Errorf("%s: %w", file, err)}
	}
	if len(tf.Cases) == 0 {
		return 0, 0, &configError{fmt.Errorf("%s: no cases", file)}
	}
	dir := filepath.Dir(file)
	ro := ruleOptions{noBuiltin: tf.Builtin != nil && !*tf.Builtin}
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for _, r := range tf.Rules {
		ro.files = append(ro.files, rel(r))
	}
	set, err := ro.load()
	if err != nil {
		return 0, 0, err
	}
	eng, err := rules.NewEngine(set)
	if err != nil {
		return 0, 0, &configError{err}
	}
	for i := range tf.Cases {
		c := &tf.Cases[i]
		total++
		var inputs []string
		for _, in := range c.Inputs {
			inputs = append(inputs, rel(in))
		}
		if len(inputs) == 0 {
			return failed, total, &configError{fmt.Errorf("%s: case %q has no inputs", file, c.Name)}
		}
		loaded, err := readInputs(ctx, eng, inputs, false, streams{Out: io.Discard, Err: io.Discard})
		if err != nil {
			return failed, total, err
		}
		if loaded.partial {
			// Unread input proves nothing: "want: []" would pass on a
			// missing or mistyped path.
			failed++
			fmt.Fprintf(s.Out, "FAIL %s: %s: some input could not be read\n", file, c.Name)
			for _, in := range loaded.inputs {
				if in.Kind == "skipped" && !slices.Contains(inputs, in.Path) {
					continue
				}
				for _, p := range in.Problems {
					fmt.Fprintf(s.Out, "     %s\n", clean(p))
				}
				if in.Kind == "skipped" {
					fmt.Fprintf(s.Out, "     %s: %s\n", clean(in.Path), in.Note)
				}
			}
			continue
		}
		res := loaded.analysis.Result(loaded.ruleInputs())
		got := make([]expectedFind, len(res.Findings))
		for j, f := range res.Findings {
			got[j] = compactFinding(f)
		}
		if update {
			c.Want = got
			fmt.Fprintf(s.Out, "UPDATE %s: %s: %d finding(s)\n", file, c.Name, len(got))
			continue
		}
		if problems := compareFindings(c.Want, got); len(problems) > 0 {
			failed++
			fmt.Fprintf(s.Out, "FAIL %s: %s\n", file, c.Name)
			for _, p := range problems {
				fmt.Fprintf(s.Out, "     %s\n", p)
			}
			continue
		}
		fmt.Fprintf(s.Out, "PASS %s: %s (%d finding(s))\n", file, c.Name, len(got))
	}
	if update {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(tf); err != nil {
			return failed, total, err
		}
		if err := writeFileAtomic(file, buf.Bytes()); err != nil {
			return failed, total, err
		}
	}
	return failed, total, nil
}

// compareFindings pairs each expectation with a distinct finding.
func compareFindings(want, got []expectedFind) []string {
	var problems []string
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for j, g := range got {
			if !used[j] && w.matches(g) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			problems = append(problems, "missing: "+w.String())
		}
	}
	for j, g := range got {
		if !used[j] {
			problems = append(problems, "unexpected: "+g.String())
		}
	}
	return problems
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func runRulesExplain(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("rules explain", rulesUsage, s)
	var ro ruleOptions
	ro.addFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	live := fs.Bool("live-ports", false, "use this machine's port tables instead of captures")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(rest) < 2 {
		return exitUsage, usagef("rules explain needs a RULE and at least one PATH")
	}
	id, paths := rest[0], rest[1:]
	set, err := ro.load()
	if err != nil {
		return codeFor(err), err
	}
	rule, ok := set.Get(id)
	if !ok {
		var ids []string
		for _, r := range set.Rules() {
			ids = append(ids, r.ID)
		}
		sort.Strings(ids)
		return exitUsage, usagef("no rule %q; rules: %s", id, strings.Join(ids, ", "))
	}
	if rule.Disabled {
		return exitUsage, usagef("rule %q is disabled (%s)", id, rule.Origin)
	}
	eng, err := rules.NewEngine(set)
	if err != nil {
		return exitConfig, &configError{err}
	}
	loaded, err := readInputs(ctx, eng, paths, *live, s)
	if err != nil {
		return codeFor(err), err
	}
	x, err := loaded.analysis.Explain(id, loaded.ruleInputs())
	if err != nil {
		return exitError, err
	}
	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(x)
	} else {
		err = writeExplainText(s.Out, x, rule, loaded)
	}
	if err != nil {
		return exitError, err
	}
	if loaded.partial {
		return exitPartial, nil
	}
	return exitOK, nil
}

func writeExplainText(w io.Writer, x *rules.Explanation, r *rules.Rule, l *loadedInputs) error {
	info := r.Info()
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("rule %s: %s (%s)\n", x.Rule, x.Title, x.Origin)
	p("  match      %s\n", info.Match)
	if info.Corroborate != "" {
		p("  also       %s (counts only in a group the match opened)\n", info.Corroborate)
	}
	if info.Error != "" {
		p("  error      %s\n", info.Error)
	}
	p("  repeat     %d or more within %s, grouped by %s\n", x.Threshold, x.Window, strings.Join(x.GroupBy, ", "))
	p("  needs      %s\n", info.Needs)
	p("\n  events     %s read from %d input(s); %s had the rule's channel, provider and ID; %s passed its conditions",
		ports.FormatCount(x.Events), len(l.inputs), ports.FormatCount(x.Identified), ports.FormatCount(x.Matched))
	if x.Corroborating > 0 {
		p("; %s more matched its corroborate section", ports.FormatCount(x.Corroborating))
	}
	p("\n")
	for _, rj := range x.Rejected {
		p("  rejected   %s × %s\n", ports.FormatCount(rj.Count), clean(rj.Why))
	}
	for _, sm := range x.Samples {
		p("             e.g. %s\n", clean(sm))
	}
	for _, g := range x.Groups {
		state := "below threshold"
		if g.Fired {
			state = "FIRES"
		}
		ps := strings.Join(g.Ports, ", ")
		if ps == "" {
			ps = "port unknown"
		}
		p("\n  group      %s %s", clean(orDash(g.Host)), ps)
		if g.Service != "" {
			p(" (service %s)", clean(g.Service))
		}
		p("\n")
		p("             %d occurrence(s)", g.Count)
		if g.Companions > 0 {
			p(" + %d companion event(s) sharing their port", g.Companions)
		}
		p(", %s – %s\n", g.First.Format(timeLayout), g.Last.Format(timeLayout))
		p("             at most %d within %s (from %s) vs threshold %d: %s\n", g.Best, x.Window, g.BestAt.Format(timeLayout), x.Threshold, state)
		if g.PortSource != "" {
			p("             port from %s\n", clean(g.PortSource))
		}
		if g.NotConflict {
			p("             the error code says this is not a port conflict\n")
		}
		for _, c := range g.Checks {
			owner := ""
			if c.Owner != nil {
				owner = fmt.Sprintf(" by %s (PID %d)", orDash(c.Owner.Image), c.Owner.PID)
			}
			p("             lookup %s/%d: %s%s\n", c.Protocol, c.Port, c.Verdict, owner)
		}
		if len(g.Checks) == 0 && g.Verdict == rules.VerdictUnknown && l.snapNote != "" {
			p("             lookup: none, %s\n", l.snapNote)
		}
	}
	p("\n  %s\n", x.Conclusion)
	return nil
}
