package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBuiltinPackIsValid(t *testing.T) {
	set, err := Builtin()
	require.NoError(t, err)
	ids := map[string]bool{}
	for _, r := range set.Rules() {
		require.False(t, ids[r.ID], "duplicate id %s", r.ID)
		ids[r.ID] = true
		require.NotEmpty(t, r.Description, r.ID)
		require.NotEqual(t, r.ID, r.Title, "%s needs a title", r.ID)
		require.True(t, strings.HasPrefix(r.Origin, "builtin/"), r.Origin)
	}
	for _, want := range []string{"activesync-autd-udp", "scm-service-port-conflict", "dns-server-udp-53", "dns-server-tcp-53", "dns-server-port-53", "httpsys-endpoint-bind", "sql-tcp-port-in-use", "rdp-listener-1036"} {
		require.True(t, ids[want], "built-in pack lacks %s", want)
	}
}

func TestLoadDefaults(t *testing.T) {
	set, err := Load(strings.NewReader(`
rules:
  - id: my-rule
    match:
      provider: [Foo, 'Bar*']
      event_id: [1, "10-12"]
    needs:
      ports: [tcp/8080]
`), "my.yaml")
	require.NoError(t, err)
	r, ok := set.Get("my-rule")
	require.True(t, ok)
	require.Equal(t, DefaultThreshold, r.Threshold)
	require.Equal(t, DefaultWindow, r.Window)
	require.Equal(t, []string{"host", "port"}, r.GroupBy)
	require.Equal(t, "my-rule", r.Title)
	require.Equal(t, "my.yaml:3", r.Origin)
	require.Equal(t, 3, r.Spec.Repeat.Threshold, "spec shows the defaults it runs with")
}

// TestValidationReportsEverything is the contract of Load: every problem at
// once, each with file, line and rule.
func TestValidationReportsEverything(t *testing.T) {
	src := `rules:
  - id: good-one
    match: {provider: X, event_id: 1}
    needs: {ports: [udp/1]}
  - id: bad-one
    match:
      provider: Foo
      event_id: 70000
      level: loud
      colour: red
      message: '('
    repeat:
      threshold: -1
      window: 5 minutes
      group_by: [host, weather]
    needs:
      field: Address
    advice: 'Stop {culprit.image} and {frobnicate}'
  - id: Bad Id
    match: {provider: Y}
    needs: {ports: [udp/0, tcp-80]}
  - id: good-one
    match: {provider: Z, event_id: 2}
    needs: {ports: [udp/2]}
    unknown_top: 1
`
	_, err := Load(strings.NewReader(src), "pack.yaml")
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	type want struct {
		line int
		rule string
		msg  string
	}
	wants := []want{
		{8, "bad-one", "event ID 70000 out of range"},
		{9, "bad-one", `unknown level "loud"`},
		{10, "bad-one", `unknown key "colour" in match/corroborate (allowed: channel, provider, event_id, level, data, message)`},
		{11, "bad-one", "bad regular expression"},
		{13, "bad-one", "threshold must be 1 or more"},
		{14, "bad-one", `"5 minutes" is not a duration`},
		{15, "bad-one", `cannot group by "weather"`},
		{16, "bad-one", "needs.protocol is required with field or shape"},
		{18, "bad-one", "unknown placeholder {frobnicate}"},
		{19, "Bad Id", "use lower-case letters"},
		{21, "Bad Id", `port "udp/0": the port must be 1-65535`},
		{21, "Bad Id", `port "tcp-80": write protocol/port`},
		{22, "good-one", "id already used by the rule at line 2"},
		{25, "good-one", `unknown key "unknown_top" in a rule`},
	}
	for _, w := range wants {
		found := false
		for _, p := range ve.Problems {
			if p.Line == w.line && p.Rule == w.rule && strings.Contains(p.Msg, w.msg) && p.File == "pack.yaml" {
				found = true
			}
		}
		require.True(t, found, "missing problem %+v in:\n%v", w, err)
	}
	require.Len(t, ve.Problems, len(wants), "%v", err)
	require.Contains(t, err.Error(), "pack.yaml:10: rule bad-one: unknown key \"colour\"")
}

func TestLoadSyntaxAndShapeErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "pack.yaml: empty file"},
		{"syntax", "rules:\n  - id: x\n    match: {a: [\n", "pack.yaml:3: did not find expected node content"},
		{"no rules key", "hello: world\n", `unknown key "hello" in the top level`},
		{"rules not a list", "rules: 3\n", "pack.yaml:1: want a list"},
		{"empty list", "rules: []\n", "no rules in file"},
		{"no match", "rules:\n  - id: x\n    needs: {ports: [udp/1]}\n", "pack.yaml:2: rule x: missing match"},
		{"match everything", "rules:\n  - id: x\n    match: {level: error}\n    needs: {ports: [udp/1]}\n", "a rule must not match every event"},
		{"no needs", "rules:\n  - id: x\n    match: {event_id: 1}\n", "needs says nothing"},
		{"bad code", "rules:\n  - id: x\n    match: {event_id: 1}\n    error: {from: [binary], conflict: [WSAEFOO]}\n    needs: {ports: [udp/1]}\n", `"WSAEFOO" is not an error code`},
		{"message without group", "rules:\n  - id: x\n    match: {event_id: 1}\n    needs: {protocol: udp, message: 'port \\d+'}\n", "needs a capture group"},
		{"template for other id", "rules:\n  - id: x\n    match: {event_id: 1}\n    needs: {ports: [udp/1]}\n    messages: {2: hi}\n", "message template for event 2"},
		{"event id text", "rules:\n  - id: x\n    match: {event_id: [abc]}\n    needs: {ports: [udp/1]}\n", `"abc" is not an event ID`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.src), "pack.yaml")
			require.Error(t, err)
			var ve *ValidationError
			require.True(t, errors.As(err, &ve))
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestMergeOverridesAndDisables(t *testing.T) {
	base, err := Builtin()
	require.NoError(t, err)
	over, err := Load(strings.NewReader(`
rules:
  - id: activesync-autd-udp
    disabled: true
  - id: rdp-listener-1036
    title: RDP on 3390
    match: {provider: TermService, event_id: 1036}
    needs: {ports: [tcp/3390]}
  - id: site-rule
    match: {provider: MyApp, event_id: 7}
    needs: {ports: [udp/7777]}
`), "site.yaml")
	require.NoError(t, err)
	set := Merge(base, over)
	require.Len(t, set.Rules(), len(base.Rules())+1)
	r, _ := set.Get("activesync-autd-udp")
	require.True(t, r.Disabled)
	r, _ = set.Get("rdp-listener-1036")
	require.Equal(t, "RDP on 3390", r.Title)
	require.Equal(t, "site.yaml:5", r.Origin)
	require.Len(t, set.Enabled(), len(base.Rules()))
}

func TestLoadPathFolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
	}
	write("a.yaml", "rules:\n  - id: a\n    match: {event_id: 1}\n    needs: {ports: [udp/1]}\n")
	write("b.yml", "rules:\n  - id: a\n    match: {event_id: 2}\n    needs: {ports: [udp/2]}\n  - id: b\n    match: {event_id: 2}\n    needs: {ports: [udp/x]}\n")
	write("notes.txt", "not rules")
	write("a.test.yaml", "cases: []\n")
	_, err := LoadPath(dir)
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Len(t, ve.Problems, 1, "%v", err)
	require.Contains(t, ve.Problems[0].String(), "b.yml:7: rule b: port \"udp/x\"")

	write("b.yml", "rules:\n  - id: a\n    match: {event_id: 2}\n    needs: {ports: [udp/2]}\n")
	_, err = LoadPath(dir)
	require.ErrorContains(t, err, "b.yml:2: rule a: id already used in "+filepath.Join(dir, "a.yaml")+":2")

	require.NoError(t, os.Remove(filepath.Join(dir, "b.yml")))
	set, err := LoadPath(dir)
	require.NoError(t, err)
	require.Len(t, set.Rules(), 1)
}

func TestParseDuration(t *testing.T) {
	tests := map[string]time.Duration{
		"90s": 90 * time.Second, "10m": 10 * time.Minute, "24h": 24 * time.Hour,
		"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0": 0,
	}
	for in, want := range tests {
		got, err := parseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "d", "5 minutes", "1y", "-5m", "99999999999999w"} {
		_, err := parseDuration(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "1h", formatDuration(time.Hour))
	require.Equal(t, "30d", formatDuration(30*24*time.Hour))
	require.Equal(t, "20s", formatDuration(20*time.Second))
	require.Equal(t, "1h30m", formatDuration(90*time.Minute))
}

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"activesync.yaml", "scm.yaml", "dns.yaml", "http.yaml", "sql.yaml", "rdp.yaml", "misc.yaml"} {
		b, err := builtinFS.ReadFile("builtin/" + name)
		require.NoError(f, err)
		f.Add(string(b))
	}
	f.Add("rules:\n  - id: x\n    match: {event_id: [1, '2-3']}\n    needs: {ports: [udp/1], borrow: 1m}\n")
	f.Add("rules: [{id: a, match: {provider: '*'}, error: {from: ['%1'], conflict: ['%%10048']}, needs: {shape: true, protocol: udp}}]")
	f.Add("rules:\n- &a {id: x}\n- *a\n")
	f.Fuzz(func(t *testing.T, src string) {
		set, err := Load(strings.NewReader(src), "fuzz.yaml")
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("non-validation error: %v", err)
			}
			require.NotEmpty(t, ve.Problems)
			return
		}
		// A valid rule set must run without panicking.
		e, err := NewEngine(set)
		if err != nil {
			return
		}
		a := e.NewAnalysis()
		for _, x := range autdDay(t0, 3, "2883") {
			a.Add(&x)
		}
		a.Result(Inputs{})
	})
}

// TestRulesDocExampleIsValid keeps RULES.md's example rule loadable.
func TestRulesDocExampleIsValid(t *testing.T) {
	doc, err := os.ReadFile("RULES.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	set, err := Load(strings.NewReader(example), "RULES.md")
	require.NoError(t, err)
	r, ok := set.Get("contoso-agent-udp")
	require.True(t, ok)
	require.Equal(t, time.Hour, r.Window)
}
