package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return path
}

const goodConfig = `sources:
  - path: logs
state: state.json
notify:
  email:
    host: mail.example.com
    username: evtwatch
    password: hunter2-smtp
    from: evtwatch@example.com
    to: [admins@example.com]
  slack:
    webhook_url: https://hooks.slack.com/services/T000/B000/sekrit-webhook
`

func TestConfigValidate(t *testing.T) {
	path := writeConfig(t, goodConfig)
	code, out, errOut := runForTest(t, "config", "validate", "--config", path)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "OK: 1 source(s)")
	require.Contains(t, out, "alert channels: email, slack")

	bad := writeConfig(t, `sources:
  - channel: System
lookbak: 2d
`)
	code, _, errOut = runForTest(t, "config", "validate", "--config", bad)
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, "lookbak")
	require.Contains(t, errOut, "line 3")

	// Every problem at once, with its key.
	bad = writeConfig(t, `sources:
  - channel: System
lookback: -1h
notify:
  email:
    host: mail.example.com
    to: [admins@example.com]
`)
	code, _, errOut = runForTest(t, "config", "validate", "--config", bad, "--for", "linux")
	require.Equal(t, exitConfig, code)
	require.Contains(t, errOut, "live channels can only be read on Windows")
	require.Contains(t, errOut, "lookback: must not be negative")
	require.Contains(t, errOut, "notify.email")

	// The same channel source is fine for a Windows server.
	win := writeConfig(t, "sources:\n  - channel: System\n")
	code, _, errOut = runForTest(t, "config", "validate", "--config", win, "--for", "windows")
	require.Equal(t, exitOK, code, errOut)
}

func TestConfigShowRedactsSecrets(t *testing.T) {
	path := writeConfig(t, goodConfig)
	code, out, errOut := runForTest(t, "config", "show", "--config", path)
	require.Equal(t, exitOK, code, errOut)
	require.NotContains(t, out+errOut, "hunter2")
	require.NotContains(t, out+errOut, "sekrit")
	require.Contains(t, out, "<secret>")
	require.Contains(t, out, "lookback: 1d", "defaults are shown")
	require.Contains(t, out, filepath.Join(filepath.Dir(path), "logs"), "relative paths are resolved")

	// A secret from a *_file is redacted too.
	dir := filepath.Dir(path)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("file-secret-xyz\n"), 0o600))
	path2 := filepath.Join(dir, "config2.yaml")
	require.NoError(t, os.WriteFile(path2, []byte(strings.Replace(goodConfig, "password: hunter2-smtp", "password_file: pw.txt", 1)), 0o600))
	code, out, errOut = runForTest(t, "config", "show", "--config", path2)
	require.Equal(t, exitOK, code, errOut)
	require.NotContains(t, out+errOut, "file-secret-xyz")
}
