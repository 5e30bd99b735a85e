package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// streams are the command's standard streams, swapped for buffers in tests.
type streams struct {
	In       io.Reader
	Out      io.Writer
	Err      io.Writer
	ErrIsTTY bool // progress goes to Err only when it is a terminal
}

// command is one subcommand. run returns the exit code it decided on; a
// non-nil error is printed and mapped through codeFor instead.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, s streams) (exitCode, error)
}

func commands() []command {
	return []command{
		{"analyze", "find repeating port-conflict failures in logs and captures and name the culprit", runAnalyze},
		{"dump", "print events from log files as JSON lines or CSV", runDump},
		{"ports", "show which processes hold which ports (live or from captures)", runPorts},
		{"audit", "check the dynamic port range against the fixed ports services need", runAudit},
		{"rules", "list, validate, test and explain rules", runRules},
		{"notify", "test the configured alert channels", runNotify},
		{"scan", "read what is new in the configured sources and alert (for scheduled tasks)", runScan},
		{"watch", "watch the configured sources continuously and alert (or run as a service)", runWatch},
		{"config", "validate or show the config file (secrets redacted)", runConfigCmd},
		{"schedule", "install or remove the scheduled task that runs scan", runSchedule},
		{"service", "install or remove the Windows service that runs watch", runService},
		{"version", "print the version", runVersion},
	}
}

const version = "0.1.0-dev"

func run(ctx context.Context, args []string, s streams) exitCode {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(s.Out, mainHelp())
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		code, err := c.run(ctx, args[1:], s)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			fmt.Fprintf(s.Err, "evtwatch %s: %v\n", c.name, err)
			return codeFor(err)
		}
		return code
	}
	fmt.Fprintf(s.Err, "evtwatch: unknown command %q\nRun 'evtwatch --help' for usage.\n", args[0])
	return exitUsage
}

func mainHelp() string {
	var b strings.Builder
	b.WriteString(`evtwatch finds Windows services that fail because another process holds the
port they need, names that process, and says what to do about it.

USAGE
  evtwatch <command> [flags] [args]

COMMANDS
`)
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString(`
EXAMPLES
  # Analyse an exported log bundle
  $ evtwatch analyze testdata/sbs2003

  # Dump a log as JSON lines
  $ evtwatch dump --format jsonl System.evtx

Run 'evtwatch <command> --help' for a command's flags.

`)
	b.WriteString(exitCodeHelp())
	return b.String()
}

// newFlagSet makes a subcommand's flag set whose usage text goes to s.Err.
func newFlagSet(name, usage string, s streams) *flag.FlagSet {
	fs := flag.NewFlagSet("evtwatch "+name, flag.ContinueOnError)
	fs.SetOutput(s.Err)
	fs.Usage = func() {
		fmt.Fprintf(s.Err, "%s\nFLAGS\n", strings.TrimRight(usage, "\n"))
		fs.PrintDefaults()
		fmt.Fprintf(s.Err, "\n%s", exitCodeHelp())
	}
	return fs
}

// parseFlags parses flags that may appear before, between or after the
// positional arguments ("dump x.evtx --format csv"), and returns the
// positional arguments. "--" ends flag parsing.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runVersion(_ context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("version", "USAGE\n  evtwatch version", s)
	if _, err := parseFlags(fs, args); err != nil {
		return exitUsage, err
	}
	fmt.Fprintf(s.Out, "evtwatch %s\n", version)
	return exitOK, nil
}
