package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/rules"
)

func TestRulesList(t *testing.T) {
	code, out, errOut := runForTest(t, "rules", "list")
	require.Equal(t, exitOK, code, errOut)
	set, err := rules.Builtin()
	require.NoError(t, err)
	for _, r := range set.Rules() {
		require.Contains(t, out, r.ID)
	}
	require.Contains(t, out, "Server ActiveSync 3015, 3024 in Application level error")
	require.Contains(t, out, "builtin/activesync.yaml:4")

	code, out, _ = runForTest(t, "rules", "list", "--json", "--rules", "../../rules/testdata/site-rules.yaml")
	require.Equal(t, exitOK, code)
	var got struct{ Rules []rules.RuleInfo }
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Rules, len(set.Rules())+1)
	require.Equal(t, "activesync-autd-udp", got.Rules[0].ID)
	require.Equal(t, 20, got.Rules[0].Threshold, "the site file overrides the built-in rule in place")
	require.Contains(t, got.Rules[0].Origin, "site-rules.yaml")
}

func TestRulesValidate(t *testing.T) {
	code, out, _ := runForTest(t, "rules", "validate")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `^ok: \d+ rule\(s\) in the built-in pack\n$`, out)

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`rules:
  - id: one
    match: {provider: X, event_id: 99999}
    needs: {ports: [udp/1]}
  - id: two
    match: {provider: X, event_id: 1}
    needs: {ports: [udp/1]}
    repeat: {window: forever}
    advise: typo
`), 0o644))
	code, out, _ = runForTest(t, "rules", "validate", bad, "../../rules/testdata/site-rules.yaml")
	require.Equal(t, exitConfig, code)
	require.Contains(t, out, bad+":3: rule one: event ID 99999 out of range")
	require.Contains(t, out, bad+`:8: rule two: "forever" is not a duration`)
	require.Contains(t, out, bad+`:9: rule two: unknown key "advise" in a rule`)
	require.Contains(t, out, "3 problem(s) in "+bad+", ../../rules/testdata/site-rules.yaml")

	// A rule file that cannot be read is one more problem, reported with
	// the others, and exits 4 as in analyze --rules.
	missing := filepath.Join(dir, "missing.yaml")
	code, out, _ = runForTest(t, "rules", "validate", missing, bad)
	require.Equal(t, exitConfig, code)
	require.Contains(t, out, missing+": cannot read: ")
	require.Contains(t, out, "4 problem(s) in "+missing+", "+bad)
	code, _, errOut := runForTest(t, "analyze", "--rules", missing, dir)
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, missing+": cannot read: ")

	code, out, _ = runForTest(t, "rules", "validate", "--json", bad)
	require.Equal(t, exitConfig, code)
	var res struct {
		Valid    bool
		Problems []rules.Problem
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.False(t, res.Valid)
	require.Len(t, res.Problems, 3)
	require.Equal(t, 3, res.Problems[0].Line)
	require.Equal(t, "one", res.Problems[0].Rule)
}

func TestRulesTest(t *testing.T) {
	code, out, errOut := runForTest(t, "rules", "test", "../../rules/testdata/bundles.test.yaml", "../../rules/testdata/site.test.yaml")
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "PASS ../../rules/testdata/bundles.test.yaml: sbs2003 (1 finding(s))")
	require.Contains(t, out, "ok: 4 case(s) passed")

	// A wrong expectation fails with what is missing and what came instead.
	dir := t.TempDir()
	bundle, err := filepath.Abs(filepath.Join(repoRoot, "testdata", "modern"))
	require.NoError(t, err)
	tf := filepath.Join(dir, "wrong.test.yaml")
	require.NoError(t, os.WriteFile(tf, []byte("cases:\n  - name: modern\n    inputs: ["+bundle+"]\n    want:\n      - {rule: httpsys-endpoint-bind, port: 8443}\n"), 0o644))
	code, out, errOut = runForTest(t, "rules", "test", tf)
	require.Equal(t, exitError, code)
	require.Contains(t, out, "FAIL "+tf+": modern")
	require.Contains(t, out, `missing: {"rule":"httpsys-endpoint-bind","port":8443}`)
	require.Contains(t, out, `unexpected: {"rule":"httpsys-endpoint-bind","host":"WEB01.contoso.com","protocol":"tcp","port":443,"verdict":"held","culprit":"httpd.exe","pid":3120,"count":4}`)
	require.Contains(t, errOut, "1 of 1 case(s) failed")

	// --update writes what the case produces; then it passes.
	code, _, _ = runForTest(t, "rules", "test", "--update", tf)
	require.Equal(t, exitOK, code)
	updated, err := os.ReadFile(tf)
	require.NoError(t, err)
	require.Contains(t, string(updated), "culprit: httpd.exe")
	code, _, _ = runForTest(t, "rules", "test", tf)
	require.Equal(t, exitOK, code)

	// A case whose input cannot be read fails, even when it expects no
	// finding: a mistyped path must not pass.
	missing := filepath.Join(dir, "no-such-bundle")
	require.NoError(t, os.WriteFile(tf, []byte("cases:\n  - name: quiet\n    inputs: ["+missing+"]\n    want: []\n"), 0o644))
	code, out, errOut = runForTest(t, "rules", "test", tf)
	require.Equal(t, exitError, code, out)
	require.Contains(t, out, "FAIL "+tf+": quiet: some input could not be read")
	require.Contains(t, out, missing)
	require.Contains(t, errOut, "1 of 1 case(s) failed")

	// Unknown keys in a test file are configuration errors.
	require.NoError(t, os.WriteFile(tf, []byte("cases:\n  - name: x\n    input: [a]\n"), 0o644))
	code, _, errOut = runForTest(t, "rules", "test", tf)
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, "field input not found")
}

func TestRulesExplain(t *testing.T) {
	t.Chdir(repoRoot)
	code, out, errOut := runForTest(t, "rules", "explain", "activesync-autd-udp", "testdata/sbs2003")
	require.Equal(t, exitOK, code, errOut)
	for _, want := range []string{
		"rule activesync-autd-udp: Exchange ActiveSync AUTD cannot bind its UDP port (builtin/activesync.yaml:4)",
		"events     275 read from 10 input(s); 246 had the rule's channel, provider and ID; 246 passed its conditions",
		"group      SBS01 udp/2883",
		"123 occurrence(s) + 123 companion event(s) sharing their port",
		"vs threshold 3: FIRES",
		`port from insertion string %2 = "2883", the only port-shaped one`,
		"lookup udp/2883: held by dns.exe (PID 1692)",
		"fired for 1 group(s)",
	} {
		require.Contains(t, out, want)
	}

	// A rule that did not fire says why: the Fax service failed with a
	// timeout, not a bind error.
	code, out, _ = runForTest(t, "rules", "explain", "scm-service-port-conflict", "testdata/sbs2003")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "rejected   1 × error 1053 (ERROR_SERVICE_REQUEST_TIMEOUT) is not a bind error")
	require.Contains(t, out, "did not fire: 1 event had the right provider and ID but none passed the conditions")

	code, out, _ = runForTest(t, "rules", "explain", "--json", "httpsys-endpoint-bind", "testdata/sbs2003")
	require.Equal(t, exitOK, code)
	var x rules.Explanation
	require.NoError(t, json.Unmarshal([]byte(out), &x))
	require.Equal(t, 0, x.Identified)
	require.True(t, strings.HasPrefix(x.Conclusion, "did not fire: none of the 275 events"))

	code, _, errOut = runForTest(t, "rules", "explain", "no-such-rule", "testdata/sbs2003")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "activesync-autd-udp")
}

func TestRulesUsage(t *testing.T) {
	code, _, _ := runForTest(t, "rules")
	require.Equal(t, exitUsage, code)
	code, _, _ = runForTest(t, "rules", "frobnicate")
	require.Equal(t, exitUsage, code)
	code, out, _ := runForTest(t, "rules", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "RULE FILE FORMAT")
	require.Contains(t, out, "EXIT STATUS")
	code, _, _ = runForTest(t, "rules", "explain", "x")
	require.Equal(t, exitUsage, code)
	code, _, _ = runForTest(t, "rules", "test")
	require.Equal(t, exitUsage, code)
}

// TestRuleFormatExampleIsValid keeps the example in the help text honest.
func TestRuleFormatExampleIsValid(t *testing.T) {
	_, after, ok := strings.Cut(rulesUsage, "RULE FILE FORMAT\n")
	require.True(t, ok)
	example, _, _ := strings.Cut(after, "\nEXAMPLES")
	lines := strings.Split(example, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "  ")
	}
	_, err := rules.Load(strings.NewReader(strings.Join(lines, "\n")), "help-example.yaml")
	require.NoError(t, err)
}
