package main

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestScanConfigResolveAndValidate(t *testing.T) {
	var c scanConfig
	dec := yaml.NewDecoder(strings.NewReader(`
sources:
  - path: logs
  - channel: System
rules: [rules.d]
lookback: 2d
watch: {interval: 10s}
ports: {captures: [caps/netstat.txt]}
`))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&c))
	c.resolve("/etc/evtwatch")
	require.Equal(t, filepath.Join("/etc/evtwatch", "logs"), c.Sources[0].Path)
	require.Equal(t, []string{filepath.Join("/etc/evtwatch", "rules.d")}, c.Rules)
	require.Equal(t, []string{filepath.Join("/etc/evtwatch", "caps/netstat.txt")}, c.Ports.Captures)
	require.Equal(t, 48*time.Hour, c.Lookback.Std())
	require.Equal(t, 10*time.Second, c.Watch.Interval.Std())
	require.Equal(t, evtwatchStatePath(), c.State)

	require.NoError(t, c.validate("windows"))
	err := c.validate("linux")
	require.ErrorContains(t, err, `sources[1]: channel "System": live channels can only be read on Windows`)

	bad := scanConfig{
		Sources:  []sourceConfig{{}, {Channel: "System", Path: "x"}, {Path: "a"}, {Path: "a"}},
		Lookback: cfgDuration(-time.Hour),
		Watch:    watchConfig{Interval: cfgDuration(time.Millisecond)},
	}
	err = bad.validate("windows")
	for _, want := range []string{
		"sources[0]: give a channel or a path",
		"sources[1]: give channel or path, not both",
		"sources[3]: listed twice",
		"lookback: must not be negative",
		"watch.interval: 1ms is too short",
	} {
		require.ErrorContains(t, err, want)
	}
	require.ErrorContains(t, (&scanConfig{}).validate("linux"), "sources: none configured")
}

func TestScanConfigDefaults(t *testing.T) {
	var c scanConfig
	c.resolve("")
	require.Equal(t, defaultLookback, c.Lookback.Std())
	require.Equal(t, defaultWatchInterval, c.Watch.Interval.Std())
	if runtime.GOOS == "windows" {
		require.Len(t, c.Sources, 2, "System and Application by default on Windows")
	} else {
		require.Empty(t, c.Sources)
	}
}

func TestCfgDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, " 24h ": 24 * time.Hour} {
		got, err := parseCfgDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "5", "xd", "-1d", "1w"} {
		_, err := parseCfgDuration(in)
		require.Error(t, err, in)
	}
	for d, want := range map[time.Duration]string{5 * time.Minute: "5m", 2 * time.Hour: "2h", 48 * time.Hour: "2d", 90 * time.Second: "1m30s", 0: "0s"} {
		require.Equal(t, want, formatCfgDuration(d))
	}
	var c struct {
		D cfgDuration `yaml:"d"`
	}
	require.ErrorContains(t, yaml.Unmarshal([]byte("d: soon"), &c), `line 1: bad duration "soon"`)
	out, err := yaml.Marshal(struct {
		D cfgDuration `yaml:"d"`
	}{cfgDuration(24 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "d: 1d\n", string(out))
}
