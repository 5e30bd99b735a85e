package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/evtwatch/evtwatch/notify"
)

// scanConfig is the part of the config file that scan and watch use besides
// notify: where events come from, which rules run, where state lives and
// how far back a first run looks. It is inlined into the top-level config,
// so its keys sit at the top level:
//
//	sources:
//	  - channel: System
//	  - channel: Application
//	  - path: D:\exports\sbs\*.evtx
//	rules: [C:\ProgramData\evtwatch\rules.d]
//	state: C:\ProgramData\evtwatch\state.json
//	lookback: 24h
//	watch: {interval: 30s}
//	ports: {captures: []}
type scanConfig struct {
	Sources []sourceConfig `yaml:"sources"`
	// Rules are rule files or folders added to the built-in pack (a rule
	// with a built-in id replaces it).
	Rules []string `yaml:"rules"`
	// State is the state file (default: evtwatchStatePath).
	State string `yaml:"state"`
	// Lookback is how far back the first run reads (default 24h).
	Lookback cfgDuration `yaml:"lookback"`
	Watch    watchConfig `yaml:"watch"`
	Ports    portsConfig `yaml:"ports"`
}

// sourceConfig is one event source: a live channel (Windows) or a path.
type sourceConfig struct {
	// Channel is a live Windows event log channel ("System",
	// "Microsoft-Windows-DNSServer/Audit").
	Channel string `yaml:"channel,omitempty"`
	// Path is a log file, a folder (read recursively) or a glob, in any
	// format evtwatch reads.
	Path string `yaml:"path,omitempty"`
}

// watchConfig tunes watch.
type watchConfig struct {
	// Interval is how often file sources are polled and the outbox retried
	// (default 30s). Live channels wake watch as soon as events arrive.
	Interval cfgDuration `yaml:"interval"`
}

// portsConfig says where port ownership comes from.
type portsConfig struct {
	// Captures are netstat/tasklist/PowerShell capture files or folders to
	// use instead of the live port table: for analysing another server's
	// exported logs on a schedule.
	Captures []string `yaml:"captures"`
}

const (
	defaultLookback      = 24 * time.Hour
	defaultWatchInterval = 30 * time.Second
)

// evtwatchConfigPath is where --config points when not given.
func evtwatchConfigPath() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(programDataDir(), "evtwatch", "config.yaml")
	}
	return "/etc/evtwatch/config.yaml"
}

// evtwatchStatePath is where the state file lives when the config does not
// say.
func evtwatchStatePath() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(programDataDir(), "evtwatch", "state.json")
	}
	return "/var/lib/evtwatch/state.json"
}

func programDataDir() string {
	if p := os.Getenv("ProgramData"); p != "" {
		return p
	}
	return `C:\ProgramData`
}

// defaultChannels are read when the config names no source on Windows: the
// logs the built-in rules look at.
var defaultChannels = []string{"System", "Application"}

// resolve fills defaults and makes relative paths relative to the config
// file's folder (alertmanager's resolveFilepaths). It does not touch the
// file system beyond that.
func (c *scanConfig) resolve(configDir string) {
	if c.Lookback == 0 {
		c.Lookback = cfgDuration(defaultLookback)
	}
	if c.Watch.Interval == 0 {
		c.Watch.Interval = cfgDuration(defaultWatchInterval)
	}
	if c.State == "" {
		c.State = evtwatchStatePath()
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) || configDir == "" {
			return p
		}
		return filepath.Join(configDir, p)
	}
	c.State = abs(c.State)
	for i := range c.Sources {
		c.Sources[i].Path = abs(c.Sources[i].Path)
	}
	for i := range c.Rules {
		c.Rules[i] = abs(c.Rules[i])
	}
	for i := range c.Ports.Captures {
		c.Ports.Captures[i] = abs(c.Ports.Captures[i])
	}
	if len(c.Sources) == 0 && runtime.GOOS == "windows" {
		for _, ch := range defaultChannels {
			c.Sources = append(c.Sources, sourceConfig{Channel: ch})
		}
	}
}

// validate reports every problem at once. goos is the system the config
// will run on (runtime.GOOS, or "windows" when checking a config meant for
// a server from another machine).
func (c *scanConfig) validate(goos string) error {
	var errs []error
	if len(c.Sources) == 0 {
		errs = append(errs, errors.New("sources: none configured (add `- path: <file or folder>`, or `- channel: System` on Windows)"))
	}
	seen := map[string]bool{}
	for i, s := range c.Sources {
		where := fmt.Sprintf("sources[%d]", i)
		switch {
		case s.Channel != "" && s.Path != "":
			errs = append(errs, fmt.Errorf("%s: give channel or path, not both", where))
		case s.Channel == "" && s.Path == "":
			errs = append(errs, fmt.Errorf("%s: give a channel or a path", where))
		case s.Channel != "" && goos != "windows":
			errs = append(errs, fmt.Errorf("%s: channel %q: live channels can only be read on Windows; export the log and use `path:`", where, s.Channel))
		}
		id := strings.ToLower(s.Channel) + "\x00" + s.Path
		if seen[id] && (s.Channel != "" || s.Path != "") {
			errs = append(errs, fmt.Errorf("%s: listed twice", where))
		}
		seen[id] = true
	}
	if c.Lookback < 0 {
		errs = append(errs, errors.New("lookback: must not be negative"))
	}
	if time.Duration(c.Watch.Interval) < time.Second {
		errs = append(errs, fmt.Errorf("watch.interval: %s is too short (at least 1s)", time.Duration(c.Watch.Interval)))
	}
	return errors.Join(errs...)
}

// cfgDuration is a duration in config files: Go syntax ("90s", "1h30m")
// plus days ("1d", "7d").
type cfgDuration time.Duration

func (d cfgDuration) Std() time.Duration { return time.Duration(d) }

func (d cfgDuration) String() string { return formatCfgDuration(time.Duration(d)) }

func (d cfgDuration) MarshalYAML() (any, error) { return d.String(), nil }

func (d *cfgDuration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := parseCfgDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = cfgDuration(v)
	return nil
}

// parseCfgDuration accepts Go durations with a leading day count ("90s",
// "24h", "2d", "1d12h"): the same syntax as the notify section's
// durations, so every duration in the file is written the same way.
func parseCfgDuration(s string) (time.Duration, error) {
	v, err := notify.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (use e.g. 30s, 5m, 24h, 7d, 1d12h)", strings.TrimSpace(s))
	}
	return v, nil
}

// formatCfgDuration prints whole days as "Nd" and the rest as Go does, without
// trailing zero units ("5m", not "5m0s"), as the notify section's durations print.
func formatCfgDuration(d time.Duration) string { return notify.Duration(d).String() }
