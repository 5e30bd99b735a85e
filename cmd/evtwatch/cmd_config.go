package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/rules"
)

const configUsage = `Check or print the config file that scan, watch and notify use.

USAGE
  evtwatch config validate [--config FILE] [--for windows|linux|darwin]
  evtwatch config show [--config FILE]

validate loads the file strictly (unknown keys are errors), resolves
${ENV} references and *_file secrets, loads the rule files it names, and
reports every problem at once. --for checks a config meant for another
system (e.g. a Windows server's, from a Linux machine).

show prints the effective config: defaults filled in, relative paths made
absolute, every secret printed as <secret>.

The default config file is ` + "`%ProgramData%\\evtwatch\\config.yaml`" + ` on Windows and
/etc/evtwatch/config.yaml elsewhere.

EXAMPLE CONFIG
  sources:
    - channel: System                # live channels (Windows); default: System, Application
    - channel: Application
    - path: D:\exports\sbs           # files or folders of exported logs, any OS
  rules: [rules.d]                   # extra rule files or folders (built-in pack always loaded)
  state: C:\ProgramData\evtwatch\state.json
  lookback: 24h                      # how far back the first run reads
  watch: {interval: 30s}
  notify:
    realert: 4h
    email:
      host: mail.example.com
      from: evtwatch@example.com
      to: [admins@example.com]
      username: evtwatch
      password_file: smtp-password.txt
    slack:
      webhook_url: ${EVTWATCH_SLACK_WEBHOOK}
`

// runConfig is a loaded and resolved config file.
type runConfig struct {
	Path   string
	Scan   scanConfig
	Notify notify.Config
}

// loadRunConfig reads, decodes strictly (fileConfig), resolves and
// validates a config file for goos. Every problem comes back at once, as a
// *configError.
func loadRunConfig(path, goos string, lookupEnv func(string) (string, bool)) (*runConfig, error) {
	fc, dir, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	fc.scanConfig.resolve(dir)
	var errs []error
	if err := fc.scanConfig.validate(goos); err != nil {
		errs = append(errs, err)
	}
	if err := fc.Notify.Resolve(dir, lookupEnv); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, &configError{err: fmt.Errorf("config %s:\n  %w", path, indentErr(errors.Join(errs...)))}
	}
	return &runConfig{Path: path, Scan: fc.scanConfig, Notify: fc.Notify}, nil
}

func indentErr(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "\n  "))
}

// loadRuleSet is the built-in pack plus the config's rule files; a rule
// with a built-in id replaces the built-in one.
func loadRuleSet(paths []string) (*rules.RuleSet, error) {
	builtin, err := rules.Builtin()
	if err != nil {
		return nil, fmt.Errorf("built-in rules: %w", err)
	}
	sets := []*rules.RuleSet{builtin}
	var errs []error
	for _, p := range paths {
		set, err := rules.LoadPath(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sets = append(sets, set)
	}
	if len(errs) > 0 {
		return nil, &configError{err: errors.Join(errs...)}
	}
	return rules.Merge(sets...), nil
}

func runConfigCmd(_ context.Context, args []string, s streams) (exitCode, error) {
	if len(args) == 0 || (args[0] != "validate" && args[0] != "show") {
		fmt.Fprint(s.Err, configUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return exitOK, nil
		}
		return exitUsage, usagef("config: say validate or show")
	}
	verb := args[0]
	fs := newFlagSet("config "+verb, configUsage, s)
	path := fs.String("config", evtwatchConfigPath(), "config file")
	goos := runtime.GOOS
	if verb == "validate" {
		fs.StringVar(&goos, "for", runtime.GOOS, "system the config is meant for: windows, linux, darwin")
	}
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return exitUsage, err
	}
	if len(pos) > 0 {
		return exitUsage, usagef("config %s: unexpected argument %q (use --config FILE)", verb, pos[0])
	}
	rc, err := loadRunConfig(*path, goos, os.LookupEnv)
	if err != nil {
		return exitConfig, err
	}
	set, err := loadRuleSet(rc.Scan.Rules)
	if err != nil {
		return exitConfig, err
	}
	if _, err := notifyChannels(rc.Notify, slog.New(slog.DiscardHandler), false, io.Discard); err != nil {
		return exitConfig, err
	}
	if verb == "show" {
		out, err := yaml.Marshal(fileConfig{scanConfig: rc.Scan, Notify: rc.Notify})
		if err != nil {
			return exitError, err
		}
		fmt.Fprintf(s.Out, "# %s (effective: defaults filled in, secrets shown as <secret>)\n%s", rc.Path, out)
		return exitOK, nil
	}
	channels := rc.Notify.Channels()
	if len(channels) == 0 {
		channels = []string{"none (findings are logged only)"}
	}
	fmt.Fprintf(s.Out, "%s: OK: %d source(s), %d rule(s) enabled, state %s, alert channels: %s\n",
		rc.Path, len(rc.Scan.Sources), len(set.Enabled()), rc.Scan.State, strings.Join(channels, ", "))
	return exitOK, nil
}
