package main

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSchtasksCreate(t *testing.T) {
	exe := `C:\Program Files\evtwatch\evtwatch.exe`
	cfg := `C:\ProgramData\evtwatch\config.yaml`
	args, err := schtasksCreate("evtwatch", 5*time.Minute, exe, cfg, "SYSTEM")
	require.NoError(t, err)
	require.Equal(t, []string{
		"/Create", "/TN", "evtwatch",
		"/TR", `"C:\Program Files\evtwatch\evtwatch.exe" scan --quiet --config C:\ProgramData\evtwatch\config.yaml`,
		"/SC", "MINUTE", "/MO", "5", "/RU", "SYSTEM", "/RL", "HIGHEST", "/F",
	}, args)

	args, err = schtasksCreate("evtwatch", 2*time.Hour, exe, cfg, `CONTOSO\svc-evtwatch`)
	require.NoError(t, err)
	require.Equal(t, []string{"/SC", "HOURLY", "/MO", "2"}, args[5:9])
	require.Equal(t, []string{"/RP", "*"}, args[len(args)-2:], "a user account's password is prompted for")

	args, err = schtasksCreate("evtwatch", 24*time.Hour, exe, cfg, `CONTOSO\gmsa-evtwatch$`)
	require.NoError(t, err)
	require.Equal(t, []string{"/SC", "DAILY", "/MO", "1"}, args[5:9])
	require.NotContains(t, args, "/RP", "a gMSA has no password")

	_, err = schtasksCreate("evtwatch", 5*time.Minute, `C:\`+strings.Repeat("x", 300)+`\evtwatch.exe`, cfg, "SYSTEM")
	require.ErrorContains(t, err, "limit of 261")
	_, err = schtasksCreate("evtwatch", 90*time.Second, exe, cfg, "SYSTEM")
	require.ErrorContains(t, err, "whole number of minutes")
	_, err = schtasksCreate("evtwatch", 25*time.Hour, exe, cfg, "SYSTEM")
	require.ErrorContains(t, err, "whole days")
}

func TestTaskSchedule(t *testing.T) {
	tests := map[time.Duration]struct {
		sc string
		mo int
	}{
		time.Minute:        {"MINUTE", 1},
		7 * time.Minute:    {"MINUTE", 7},
		90 * time.Minute:   {"MINUTE", 90},
		time.Hour:          {"HOURLY", 1},
		23 * time.Hour:     {"HOURLY", 23},
		1439 * time.Minute: {"MINUTE", 1439},
		48 * time.Hour:     {"DAILY", 2},
	}
	for d, want := range tests {
		sc, mo, err := taskSchedule(d)
		require.NoError(t, err, d)
		require.Equal(t, want.sc, sc, d)
		require.Equal(t, want.mo, mo, d)
	}
}

func TestCronLine(t *testing.T) {
	tests := map[string]struct {
		every    time.Duration
		spec     string
		hasNote  bool
		errorHas string
	}{
		"5m":      {every: 5 * time.Minute, spec: "*/5 * * * *"},
		"1m":      {every: time.Minute, spec: "* * * * *"},
		"7m":      {every: 7 * time.Minute, spec: "*/7 * * * *", hasNote: true},
		"2h":      {every: 2 * time.Hour, spec: "0 */2 * * *"},
		"5h":      {every: 5 * time.Hour, spec: "0 */5 * * *", hasNote: true},
		"1d":      {every: 24 * time.Hour, spec: "0 0 * * *"},
		"90m":     {every: 90 * time.Minute, errorHas: "cron cannot"},
		"seconds": {every: 30 * time.Second, errorHas: "whole number of minutes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			line, note, err := cronLine(tc.every, "/usr/local/bin/evtwatch", "/etc/evtwatch/my config.yaml")
			if tc.errorHas != "" {
				require.ErrorContains(t, err, tc.errorHas)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.spec+" /usr/local/bin/evtwatch scan --quiet --config '/etc/evtwatch/my config.yaml'", line)
			require.Equal(t, tc.hasNote, note != "")
		})
	}
}

// TestCronLineEscapesPercent: cron reads an unescaped % as a line break.
func TestCronLineEscapesPercent(t *testing.T) {
	line, _, err := cronLine(5*time.Minute, "/opt/evtwatch/evtwatch", "/srv/100%/config.yaml")
	require.NoError(t, err)
	require.Equal(t, `*/5 * * * * /opt/evtwatch/evtwatch scan --quiet --config /srv/100\%/config.yaml`, line)
}

func TestWindowsCommandLine(t *testing.T) {
	require.Equal(t, `a "b c" "" "d\"e" "f g\\"`, windowsCommandLine([]string{"a", "b c", "", `d"e`, `f g\`}))
	require.Equal(t, `C:\x\evtwatch.exe`, windowsCommandLine([]string{`C:\x\evtwatch.exe`}))
}

func TestScheduleCommandElsewherePrintsCron(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("creates a real scheduled task on Windows")
	}
	code, out, _ := runForTest(t, "schedule", "install", "--every", "10m", "--config", "/etc/evtwatch/config.yaml")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "*/10 * * * * ")
	require.Contains(t, out, " scan --quiet --config /etc/evtwatch/config.yaml")

	code, _, errOut := runForTest(t, "schedule", "install")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--every is required")

	code, _, _ = runForTest(t, "schedule", "frob")
	require.Equal(t, exitUsage, code)

	code, out, _ = runForTest(t, "schedule", "remove")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "crontab")
}

func TestServiceCommandElsewhere(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("would install a real service")
	}
	code, _, errOut := runForTest(t, "service", "install")
	require.Equal(t, exitError, code)
	require.Contains(t, errOut, "Windows-only")
	code, _, _ = runForTest(t, "service")
	require.Equal(t, exitUsage, code)
}
