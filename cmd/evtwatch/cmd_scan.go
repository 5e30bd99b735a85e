package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/evtwatch/evtwatch/cmd/evtwatch/internal/state"
	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/rules"
	"github.com/evtwatch/evtwatch/rules/ports"
)

const scanUsage = `Read what is new in the configured sources, find repeating port-conflict
failures, and alert through the configured channels. Made to run every few
minutes from a scheduled task ('evtwatch schedule install --every 5m').

USAGE
  evtwatch scan [--config FILE] [--quiet] [--json] [--dry-run]

Each source (a live channel on Windows, or a log file / folder on any
system) is read from where the previous run stopped; the first run reads
back 'lookback' (default 24h), so it does not alert on years of history,
and warns how many older events it passed over in each file (use
'evtwatch analyze' for old exports). Files in a source folder that are not
event logs are skipped; a source that cannot be read is logged as an
error and the run is partial (exit 3).

Recent failures are remembered between runs, so a failure that repeats
every ten minutes is a pattern even though each run sees one occurrence.

Alerts are written to the outbox in the same atomic state write that moves
the read positions forward, then delivered; an alert that cannot be sent
stays queued and is retried by the next run; one the channel rejected
(SMTP 5xx, untrusted certificate, Slack invalid_auth) after 1h, 2h ... up
to a day, or as soon as the channel's settings change. A run killed at any
moment loses no alert; the only repeat possible is the one message in
flight when it was killed, resent with the same Message-ID.

Two overlapping runs cannot both work: the second finds the state locked
and exits with status 6. A state file that cannot be read is moved aside
(state.json.corrupt-<time>) with a warning, and the run starts over from
the look-back.

--dry-run reads and correlates, prints the alerts that would be sent, and
changes nothing (no state written, nothing sent). --json prints the run's
result on stdout. --quiet prints nothing but errors (for schedulers); on
Windows every run also writes a one-line summary to the Application log
under the source 'evtwatch'.

EXAMPLES
  # scan with the default config (%ProgramData%\evtwatch\config.yaml on
  # Windows, /etc/evtwatch/config.yaml elsewhere)
  $ evtwatch scan

  # what would be sent, without sending or remembering anything
  $ evtwatch scan --config ./config.yaml --dry-run
`

// scanOptions are scan's flags plus what tests inject.
type scanOptions struct {
	ConfigPath string
	Quiet      bool
	JSON       bool
	DryRun     bool

	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	lookupEnv func(string) (string, bool)
	goos      string
	// onCommit, when set, is called after each state commit (tests).
	onCommit func()
	// live is the event log channel sources read (nil: this machine's).
	live liveLog
}

func (o *scanOptions) addFlags(fs flagSet) {
	fs.StringVar(&o.ConfigPath, "config", evtwatchConfigPath(), "config file")
	fs.BoolVar(&o.Quiet, "quiet", false, "print only errors (for schedulers)")
	fs.BoolVar(&o.JSON, "json", false, "print the result as JSON on stdout")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print what would be sent; send nothing, save nothing")
}

// flagSet is the part of *flag.FlagSet the option structs use.
type flagSet interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}

func (o *scanOptions) defaults() {
	if o.now == nil {
		o.now = time.Now
	}
	if o.lookupEnv == nil {
		o.lookupEnv = os.LookupEnv
	}
	if o.goos == "" {
		o.goos = runtime.GOOS
	}
	if o.live == nil {
		o.live = systemLiveLog{}
	}
}

func runScan(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("scan", scanUsage, s)
	var o scanOptions
	o.addFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, usagef("scan: unexpected argument %q (sources come from the config file; for files use 'evtwatch analyze')", pos[0])
	}
	return scanRun(ctx, o, s)
}

// newLogger logs to stderr: what happened to each alert (info) and up by
// default, errors only with --quiet.
func newLogger(w io.Writer, quiet bool) *slog.Logger {
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelError
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// scanRun is scan without the flag parsing.
func scanRun(ctx context.Context, o scanOptions, s streams) (code exitCode, err error) {
	o.defaults()
	log := newLogger(s.Err, o.Quiet)
	summary := runSummary{Command: "scan", DryRun: o.DryRun}
	defer func() {
		summary.Code = code
		if err != nil {
			summary.Code, summary.Err = codeFor(err), err
		}
		if !o.DryRun {
			if rerr := reportRun(summary); rerr != nil {
				log.Debug("could not write the run summary to the event log", "err", rerr)
			}
		}
	}()

	sc, err := newScanner(ctx, o, s, log, false)
	if err != nil {
		var le *state.LockedError
		if errors.As(err, &le) {
			// Overlapping scheduled runs are expected and harmless: with
			// --quiet only the exit status says so, so cron does not mail
			// it every time.
			if !o.Quiet {
				fmt.Fprintf(s.Err, "evtwatch scan: %v\n", err)
			}
			return exitLocked, nil
		}
		return exitError, err
	}
	defer sc.close()

	res, err := sc.cycle(ctx)
	summary.fill(res)
	if err != nil {
		return exitError, err
	}
	if o.onCommit != nil {
		o.onCommit()
	}
	code = scanExitCode(res)
	if res.NotLogs > 0 {
		log.Info("skipped files that are not event logs", "files", res.NotLogs)
	}
	if o.JSON {
		if err := writeScanJSON(s.Out, res, code); err != nil {
			return exitError, err
		}
	}
	if !o.Quiet {
		fmt.Fprintln(s.Err, summary.withCode(code).line())
	}
	return code, nil
}

// newScanner loads the config, rules and state and returns a scanner ready
// for its first cycle. follow keeps live channels subscribed (watch).
func newScanner(ctx context.Context, o scanOptions, s streams, log *slog.Logger, follow bool) (*scanner, error) {
	rc, err := loadRunConfig(o.ConfigPath, o.goos, o.lookupEnv)
	if err != nil {
		return nil, err
	}
	set, err := loadRuleSet(rc.Scan.Rules)
	if err != nil {
		return nil, err
	}
	engine, err := rules.NewEngine(set)
	if err != nil {
		return nil, &configError{err: err}
	}
	channels, err := notifyChannels(rc.Notify, log, o.DryRun, s.Out)
	if err != nil {
		return nil, err
	}
	if len(channels) == 0 && o.DryRun {
		channels = []notify.Channel{{Name: "dry-run", Notifier: notify.NewConsole(s.Out, "dry-run", nil)}}
	}
	if len(channels) == 0 {
		log.Warn("no alert channel configured (notify.email or notify.slack): findings are only counted")
	}
	sc := &scanner{
		cfg:       rc.Scan,
		notifyCfg: rc.Notify,
		channels:  channels,
		engine:    engine,
		filter:    newRuleFilter(engine.Rules()),
		now:       o.now,
		sleep:     o.sleep,
		log:       log,
		follow:    follow,
	}
	sc.snapshot = snapshotFunc(rc.Scan.Ports)
	for _, src := range rc.Scan.Sources {
		if src.Channel != "" {
			sc.channelsS = append(sc.channelsS, &channelSource{api: o.live, channel: src.Channel, filter: sc.filter.forChannel(src.Channel), follow: follow})
		}
	}
	if o.DryRun {
		sc.store, sc.st, err = openDryRunState(rc.Scan.State, log, o.now)
	} else {
		var res state.LoadResult
		sc.store, sc.st, res, err = state.Open(rc.Scan.State, state.Options{Logger: log, Now: o.now})
		if err == nil && res.MovedAside != "" {
			fmt.Fprintf(s.Err, "warning: state file %s was unusable and was moved to %s; starting over from the %s look-back\n",
				rc.Scan.State, res.MovedAside, rc.Scan.Lookback)
		}
	}
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// snapshotFunc returns where port ownership comes from: the configured
// captures, or the live table of this machine.
func snapshotFunc(cfg portsConfig) func(context.Context) (*ports.Snapshot, *ports.Facts, error) {
	if len(cfg.Captures) > 0 {
		return func(context.Context) (*ports.Snapshot, *ports.Facts, error) {
			files, err := expandInputs(cfg.Captures)
			if err != nil {
				return nil, nil, err
			}
			snap, facts, problems, err := ports.LoadCaptures(files...)
			if err == nil && snap == nil {
				err = fmt.Errorf("no port table in %v: %w", cfg.Captures, errors.Join(problems...))
			}
			return snap, facts, err
		}
	}
	return func(ctx context.Context) (*ports.Snapshot, *ports.Facts, error) {
		snap, err := ports.Live(ctx)
		if err != nil {
			return nil, nil, err
		}
		facts, err := ports.LiveFacts(ctx)
		if err != nil {
			facts = nil // registry settings are advice material, not required
		}
		return snap, withLocalHost(facts), nil
	}
}

// withLocalHost makes sure the facts of a live port table name this
// machine. The rules judge only events from the host the table comes
// from; without a host name they would blame a local process for the
// failures in logs exported from other servers (a path source holding
// several servers' exports). LiveFacts is unsupported outside Windows and
// can fail on it, so the name is filled in here.
func withLocalHost(facts *ports.Facts) *ports.Facts {
	if facts != nil && facts.Host != "" {
		return facts
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return facts
	}
	if facts == nil {
		return &ports.Facts{Host: host}
	}
	f := *facts
	f.Host = host
	return &f
}

func (sc *scanner) close() {
	for _, ch := range sc.channelsS {
		ch.close()
	}
	if sc.store != nil {
		sc.store.Close()
	}
}

// scanExitCode maps a cycle's result to the exit status: partial (input
// damaged, a source unreadable, or alerts waiting for retry) wins over
// "findings alerted".
func scanExitCode(res cycleResult) exitCode {
	switch {
	case len(res.Problems) > 0 || res.Flush.Pending > 0:
		return exitPartial
	case res.Added.Queued > 0 || res.Flush.Sent > 0:
		return exitFindings
	}
	return exitOK
}

func (r *runSummary) fill(res cycleResult) {
	r.Sources = res.Sources
	r.Events = res.Events
	r.Findings = res.Findings
	r.Queued = res.Added.Queued + res.Added.Resolved // resolved notices are alerts too
	r.Sent = res.Flush.Sent
	r.Pending = res.Flush.Pending
	r.Problems = len(res.Problems)
}

func (r runSummary) withCode(c exitCode) runSummary {
	r.Code = c
	return r
}

// scanJSON is --json output.
type scanJSON struct {
	Exit       int      `json:"exit"`
	Sources    int      `json:"sources"`
	NotLogs    int      `json:"not_event_logs"`
	Events     int      `json:"events"`
	Relevant   int      `json:"relevant_events"`
	Findings   int      `json:"findings"`
	Queued     int      `json:"alerts_queued"`
	Suppressed int      `json:"alerts_suppressed"`
	Resolved   int      `json:"incidents_resolved"`
	Sent       int      `json:"sent"`
	Failed     int      `json:"failed"`
	Pending    int      `json:"pending"`
	Dropped    int      `json:"dropped"`
	Snapshot   string   `json:"snapshot,omitempty"`
	Problems   []string `json:"problems"`
	Warnings   []string `json:"warnings"`
}

func writeScanJSON(w io.Writer, res cycleResult, code exitCode) error {
	out := scanJSON{
		Exit: int(code), Sources: res.Sources, NotLogs: res.NotLogs, Events: res.Events, Relevant: res.Relevant,
		Findings: res.Findings, Queued: res.Added.Queued, Suppressed: res.Added.Suppressed,
		Resolved: res.Added.Resolved, Sent: res.Flush.Sent, Failed: res.Flush.Failed,
		Pending: res.Flush.Pending, Dropped: res.Flush.Dropped, Snapshot: res.Snapshot,
		Problems: []string{}, Warnings: []string{},
	}
	for _, p := range res.Problems {
		out.Problems = append(out.Problems, p.Error())
	}
	out.Warnings = append(out.Warnings, res.Warnings...)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// openDryRunState reads the state without locking it and gives a store
// that never writes, so a dry run changes nothing.
func openDryRunState(path string, log *slog.Logger, now func() time.Time) (*state.Store, *state.State, error) {
	st, err := state.Peek(path)
	if err != nil {
		log.Warn("dry run: state unreadable, reading as a first run", "err", err)
		st = state.New()
	}
	return state.ReadOnly(path), st, nil
}
