package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
	"github.com/evtwatch/evtwatch/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// repoRoot is where the README's commands run.
const repoRoot = "../.."

// checkGolden compares got with testdata/<name> (absolute path given),
// rewriting it with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	got = slashPaths(got)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run: go test ./cmd/evtwatch -run TestAnalyzeGolden -update")
	require.Equal(t, string(want), got, "%s is stale (go test ./cmd/evtwatch -run TestAnalyzeGolden -update)", path)
}

// TestAnalyzeGolden runs the README's main command on each bundle, from the
// repository root as a user would, in both output formats.
func TestAnalyzeGolden(t *testing.T) {
	goldenDir, err := filepath.Abs(filepath.Join("testdata", "analyze"))
	require.NoError(t, err)
	t.Chdir(repoRoot)
	for _, bundle := range []string{"sbs2003", "vpn", "modern"} {
		code, out, errOut := runForTest(t, "analyze", "testdata/"+bundle)
		require.Equal(t, exitFindings, code, errOut)
		require.Empty(t, errOut)
		checkGolden(t, filepath.Join(goldenDir, bundle+".txt"), out)

		code, out, errOut = runForTest(t, "analyze", "--format", "json", "testdata/"+bundle)
		require.Equal(t, exitFindings, code, errOut)
		require.Empty(t, errOut)
		require.True(t, json.Valid([]byte(out)))
		checkGolden(t, filepath.Join(goldenDir, bundle+".json"), out)
	}
}

// TestAnalyzeSeed is the acceptance criterion, asserted on the JSON rather
// than through the golden file: one finding naming dns.exe / PID 1692 /
// service DNS holding UDP 2883, the DNS socket pool, the cadence, the fix.
func TestAnalyzeSeed(t *testing.T) {
	t.Chdir(repoRoot)
	code, out, errOut := runForTest(t, "analyze", "--format", "json", "testdata/sbs2003")
	require.Equal(t, exitFindings, code, errOut)
	var rep struct {
		Findings []struct {
			Rule     string `json:"rule"`
			Count    int    `json:"count"`
			Protocol string `json:"protocol"`
			Port     int    `json:"port"`
			Verdict  string `json:"verdict"`
			Summary  string `json:"summary"`
			Advice   string `json:"advice"`
			Cadence  struct {
				Text          string  `json:"text"`
				MinSeconds    float64 `json:"min_seconds"`
				MaxSeconds    float64 `json:"max_seconds"`
				MedianSeconds float64 `json:"median_seconds"`
			} `json:"cadence"`
			Culprit struct {
				PID       int      `json:"pid"`
				Image     string   `json:"image"`
				Services  []string `json:"services"`
				PortsHeld int      `json:"ports_held"`
				Pool      bool     `json:"pool"`
				PoolKind  string   `json:"pool_kind"`
			} `json:"culprit"`
		} `json:"findings"`
		Inputs []inputReport `json:"inputs"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Findings, 1)
	f := rep.Findings[0]
	require.Equal(t, "activesync-autd-udp", f.Rule)
	require.Equal(t, "udp", f.Protocol)
	require.Equal(t, 2883, f.Port)
	require.Equal(t, "held", f.Verdict)
	require.Equal(t, 1692, f.Culprit.PID)
	require.Equal(t, "dns.exe", f.Culprit.Image)
	require.Equal(t, []string{"DNS"}, f.Culprit.Services)
	require.True(t, f.Culprit.Pool)
	require.Equal(t, "dns", f.Culprit.PoolKind)
	require.GreaterOrEqual(t, f.Culprit.PortsHeld, 2500)
	require.Greater(t, f.Count, 100)
	require.GreaterOrEqual(t, f.Cadence.MinSeconds, 300.0)
	require.LessOrEqual(t, f.Cadence.MaxSeconds, 600.0)
	require.Contains(t, f.Cadence.Text, "every 5–10 minutes")
	require.True(t, strings.HasPrefix(f.Summary, "dns.exe (PID 1692, service DNS) holds UDP 2883 (the DNS socket pool)"), f.Summary)
	require.Contains(t, f.Advice, "ReservedPorts")
	require.Contains(t, f.Advice, `2883-2883`)
	require.Contains(t, f.Advice, "SocketPoolSize")
	require.Contains(t, f.Advice, "MaxUserPort")
	kinds := map[string]int{}
	for _, in := range rep.Inputs {
		kinds[in.Kind]++
	}
	require.Equal(t, map[string]int{"log": 3, "capture": 6, "skipped": 1}, kinds)

	// The text report names the culprit on its first line.
	code, out, _ = runForTest(t, "analyze", "testdata/sbs2003")
	require.Equal(t, exitFindings, code)
	first, _, _ := strings.Cut(out, "\n")
	require.Contains(t, first, "dns.exe (PID 1692, service DNS) holds UDP 2883 (the DNS socket pool)")
	require.Contains(t, first, "every 5–10 minutes")
}

// TestAnalyzeSharedSamplesRaiseNothing: the built-in pack must raise no
// finding on any real Windows log in ../shared/testdata, read one file at
// a time as an admin would.
func TestAnalyzeSharedSamplesRaiseNothing(t *testing.T) {
	shared := filepath.Join(repoRoot, "..", "shared", "testdata")
	var files []string
	for _, sub := range []string{"evt-public", "evtx-public"} {
		entries, err := os.ReadDir(filepath.Join(shared, sub))
		if os.IsNotExist(err) {
			t.Skipf("%s not present: the shared sample logs sit beside the checkout", shared)
		}
		require.NoError(t, err)
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && (ext == ".evt" || ext == ".evtx") {
				files = append(files, filepath.Join(shared, sub, e.Name()))
			}
		}
	}
	require.NotEmpty(t, files)
	set, err := rules.Builtin()
	require.NoError(t, err)
	eng, err := rules.NewEngine(set)
	require.NoError(t, err)
	quiet := streams{Out: io.Discard, Err: io.Discard}
	total := 0
	for _, f := range files {
		loaded, err := readInputs(context.Background(), eng, []string{f}, false, quiet)
		require.NoError(t, err, f)
		res := loaded.analysis.Result(loaded.ruleInputs())
		for _, fd := range res.Findings {
			t.Errorf("%s: unexpected finding: %s", filepath.Base(f), fd.Summary)
		}
		total += loaded.analysis.Events()
	}
	require.Greater(t, total, 10000, "the samples were read")
}

func TestAnalyzeExitCodesAndRouting(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	quiet := filepath.Join(dir, "quiet")
	require.NoError(t, os.MkdirAll(quiet, 0o755))
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(quiet, "System.evtx"), []evtx.Event{{
		Provider: "Service Control Manager", EventID: 7036, Level: evtx.LevelInformation, Computer: "SRV", Channel: "System",
		Time: mustTime(t, "2024-01-02T03:04:05Z"), RecordID: 1, Data: []evtx.Data{{Name: "param1", Value: "DNS Server"}, {Name: "param2", Value: "running"}},
	}}, evtxtest.EVTXOptions{}))
	require.NoError(t, os.WriteFile(filepath.Join(quiet, "notes.txt"), []byte("just notes\n"), 0o644))

	t.Run("nothing found", func(t *testing.T) {
		code, out, errOut := runForTest(t, "analyze", quiet)
		require.Equal(t, exitOK, code, errOut)
		require.True(t, strings.HasPrefix(out, "No repeating port conflict found (1 event,"), out)
		require.Contains(t, out, "skipped    "+filepath.Join(quiet, "notes.txt")+": not an event log or a port capture")
		require.Contains(t, out, "no port table: no port capture (netstat -ano) among the inputs")
	})
	t.Run("explicit junk file is partial", func(t *testing.T) {
		junk := write("junk.bin", "\x00\x01\x02 not a log")
		code, out, _ := runForTest(t, "analyze", quiet, junk)
		require.Equal(t, exitPartial, code)
		require.Contains(t, out, "skipped    "+junk)
	})
	t.Run("missing file is partial", func(t *testing.T) {
		code, out, _ := runForTest(t, "analyze", quiet, filepath.Join(dir, "nope.evtx"))
		require.Equal(t, exitPartial, code)
		require.Contains(t, out, "unreadable")
	})
	t.Run("damaged log is partial even with findings", func(t *testing.T) {
		src, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "sbs2003", "AppEvent.Evt"))
		require.NoError(t, err)
		damaged := filepath.Join(dir, "damaged")
		require.NoError(t, os.MkdirAll(damaged, 0o755))
		// Smash one record's length and signature in the middle; the rest
		// must still be read.
		at := 20000 + strings.Index(string(src[20000:]), "LfLe") - 4
		for i := at; i < at+8; i++ {
			src[i] = 0xEE
		}
		require.NoError(t, os.WriteFile(filepath.Join(damaged, "AppEvent.Evt"), src, 0o644))
		code, out, _ := runForTest(t, "analyze", damaged, filepath.Join(repoRoot, "testdata", "sbs2003", "netstat-ano.txt"))
		require.Equal(t, exitPartial, code, out)
		require.Contains(t, out, "problem: ")
		require.Contains(t, out, "offset")
		require.Contains(t, out, "holds UDP 2883")
	})
	t.Run("bad rules exit 4", func(t *testing.T) {
		bad := write("bad.yaml", "rules:\n  - id: x\n    match: {event_id: 1}\n    needs: {ports: [udp/1]}\n    colour: red\n")
		code, _, errOut := runForTest(t, "analyze", "--rules", bad, quiet)
		require.Equal(t, exitConfig, code)
		require.Contains(t, errOut, bad+`:5: rule x: unknown key "colour"`)
	})
	t.Run("usage", func(t *testing.T) {
		code, _, _ := runForTest(t, "analyze")
		require.Equal(t, exitUsage, code)
		code, _, _ = runForTest(t, "analyze", "--format", "xml", quiet)
		require.Equal(t, exitUsage, code)
		code, _, _ = runForTest(t, "analyze", "--no-builtin", quiet)
		require.Equal(t, exitUsage, code)
		code, _, errOut := runForTest(t, "analyze", "--live-ports", filepath.Join(repoRoot, "testdata", "sbs2003"))
		require.Equal(t, exitUsage, code)
		require.Contains(t, errOut, "do not mix")
	})
	t.Run("site rule overrides the built-in one", func(t *testing.T) {
		off := write("off.yaml", "rules:\n  - id: activesync-autd-udp\n    disabled: true\n")
		code, out, errOut := runForTest(t, "analyze", "--rules", off, filepath.Join(repoRoot, "testdata", "sbs2003"))
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "No repeating port conflict found")
	})
}

func TestAnalyzeEscapesEventText(t *testing.T) {
	dir := t.TempDir()
	var events []evtx.Event
	for i := range 3 {
		events = append(events, evtx.Event{
			Provider: "Server ActiveSync", EventID: 3015, Level: evtx.LevelError, Channel: "Application",
			Computer: "EVIL\x1b[2J", Time: mustTime(t, "2024-01-02T03:04:05Z").Add(time.Duration(i) * time.Minute), RecordID: uint64(i + 1),
			Data: []evtx.Data{{Value: "0x80004005"}, {Value: "2883"}},
		})
	}
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(dir, "a.evtx"), events, evtxtest.EVTXOptions{}))
	code, out, _ := runForTest(t, "analyze", dir)
	require.Equal(t, exitFindings, code)
	require.NotContains(t, out, "\x1b")
	require.Contains(t, out, `EVIL\x1b[2J`)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}
