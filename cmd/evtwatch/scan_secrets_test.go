package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify/notifytest"
)

// TestScanNeverPrintsSecrets runs scan, scan --json, scan --dry-run and
// config show with credentials that the servers reject or cannot reach,
// and looks for them everywhere a person or a program could see them:
// stdout, stderr (logs, errors, the summary) and the state file.
func TestScanNeverPrintsSecrets(t *testing.T) {
	const (
		password = "Wr0ng-LEAKCHECK-smtp-pass"
		hookPath = "/services/T000/B000/LEAKCHECKHOOK"
	)
	smtpSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	dead.Close()

	env := newScanEnv(t, "127.0.0.1:1")
	require.NoError(t, os.WriteFile(filepath.Join(env.dir, "smtp.pw"), []byte(password+"\n"), 0o600))
	require.NoError(t, os.WriteFile(env.config, fmt.Appendf(nil, `sources:
  - path: logs
state: state/state.json
ports:
  captures: [captures]
notify:
  email:
    host: 127.0.0.1
    port: %d
    ca_file: %s
    username: %s
    password_file: smtp.pw
    from: evtwatch@example.com
    to: [admins@example.com]
  slack:
    webhook_url: ${LEAK_HOOK}
`, smtpSrv.Port, smtpSrv.CAFile, notifytest.User), 0o600))
	for i := range 3 {
		env.autd(t, "SBSHQ01", scanT0.Add(-30*time.Minute+time.Duration(i)*8*time.Minute))
	}
	lookup := func(k string) (string, bool) {
		if k == "LEAK_HOOK" {
			return "http://" + deadAddr + hookPath, true
		}
		return "", false
	}
	withEnv := func(o *scanOptions) { o.lookupEnv = lookup }

	var seen []string
	code, out, errOut := env.scan(t, withEnv)
	require.Equal(t, exitPartial, code, errOut)
	require.Contains(t, errOut, "535", "the rejected password is reported, not shown")
	// The dead webhook's error is reported, in the system's words.
	_, dialErr := net.Dial("tcp", deadAddr)
	var refused *os.SyscallError
	require.ErrorAs(t, dialErr, &refused)
	require.Contains(t, errOut, refused.Err.Error())
	seen = append(seen, out, errOut)
	_, out, errOut = env.scan(t, withEnv, func(o *scanOptions) { o.JSON = true })
	seen = append(seen, out, errOut)
	_, out, errOut = env.scan(t, withEnv, func(o *scanOptions) { o.DryRun = true })
	seen = append(seen, out, errOut)
	st, err := os.ReadFile(env.statePath)
	require.NoError(t, err)
	require.Contains(t, string(st), "535", "the outbox keeps the last error")
	seen = append(seen, string(st))
	t.Setenv("LEAK_HOOK", "http://"+deadAddr+hookPath)
	code, out, errOut = runForTest(t, "config", "show", "--config", env.config)
	require.Equal(t, exitOK, code, errOut)
	seen = append(seen, out, errOut)

	for i, text := range seen {
		require.NotContains(t, text, password, "output %d", i)
		require.NotContains(t, text, "LEAKCHECKHOOK", "output %d", i)
		require.NotContains(t, text, "/services/", "output %d", i)
	}
}
