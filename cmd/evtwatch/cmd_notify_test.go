package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify/notifytest"
)

// notifyRig is a config file pointing at a real SMTP server and a
// Slack-shaped server, with the SMTP password in a file beside it.
type notifyRig struct {
	dir   string
	smtp  *notifytest.SMTPServer
	slack *notifytest.Slack
}

func newNotifyRig(t *testing.T) *notifyRig {
	t.Helper()
	r := &notifyRig{dir: t.TempDir(), smtp: notifytest.NewSMTPServer(t, notifytest.SMTPOptions{}), slack: notifytest.NewSlack(t)}
	require.NoError(t, os.WriteFile(filepath.Join(r.dir, "smtp-password"), []byte(notifytest.Password+"\n"), 0o600))
	return r
}

// write writes config.yaml with the given slack section (YAML, indented
// under notify) and returns its path.
func (r *notifyRig) write(t *testing.T, slack string, extra ...string) string {
	t.Helper()
	y := fmt.Sprintf(`# A full config: notify test ignores what is not its business.
sources:
  - path: exported
lookback: 24h
notify:
  realert: 4h
  email:
    host: 127.0.0.1
    port: %d
    ca_file: %s
    username: %s
    password_file: smtp-password
    from: "evtwatch <alerts@example.com>"
    to: [ops@example.com]
  slack:
%s
`, r.smtp.Port, r.smtp.CAFile, notifytest.User, slack)
	y += strings.Join(extra, "\n")
	path := filepath.Join(r.dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
	return path
}

func (r *notifyRig) webhook() string {
	return "    webhook_url: " + r.slack.WebhookURL()
}

func TestNotifyTestSendsThroughEveryChannel(t *testing.T) {
	r := newNotifyRig(t)
	path := r.write(t, r.webhook())
	code, out, errOut := runForTest(t, "notify", "test", "--config", path)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "email: sent to ops@example.com via 127.0.0.1:")
	require.Contains(t, out, "(tls starttls, auth auto as alerts@example.com)")
	require.Contains(t, out, "slack: sent to the incoming webhook at 127.0.0.1:")
	require.NotContains(t, out, "SECRETWEBHOOKPATH")

	msgs := r.smtp.Messages()
	require.Len(t, msgs, 1)
	require.True(t, msgs[0].TLS)
	require.Contains(t, msgs[0].Data, "[TEST] SBSHQ01: ActiveSync cannot bind udp/2883")
	require.Contains(t, msgs[0].Data, "test message from evtwatch notify test")
	posts := r.slack.Accepted()
	require.Len(t, posts, 1)
	require.Equal(t, "[TEST] SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)", posts[0].Text)
}

func TestNotifyTestReportsEachFailure(t *testing.T) {
	r := newNotifyRig(t)
	r.smtp.SetHooks(notifytest.SMTPHooks{OnData: func(*smtp.Conn) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "queue full"}
	}})
	path := r.write(t, fmt.Sprintf("    token: %s\n    channel: \"#nope\"\n    api_url: %s", r.slack.Token, r.slack.APIURL()))
	code, out, errOut := runForTest(t, "notify", "test", "--config", path)
	require.Equal(t, exitError, code)
	require.Contains(t, out, "email: FAILED after")
	require.Contains(t, out, "(temporary; scan would keep it queued and retry)")
	require.Contains(t, out, "451")
	require.Contains(t, out, "slack: FAILED after")
	require.Contains(t, out, "(needs a configuration fix; scan would keep it queued until outbox max_age): post to slack channel #nope: channel_not_found")
	require.Contains(t, errOut, "2 of 2 channel(s) failed")
	for _, secret := range []string{notifytest.Password, r.slack.Token} {
		require.NotContains(t, out, secret)
		require.NotContains(t, errOut, secret)
	}

	code, out, _ = runForTest(t, "notify", "test", "--json", "--config", path)
	require.Equal(t, exitError, code)
	var results []channelResult
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	require.Len(t, results, 2)
	require.Equal(t, "email", results[0].Channel)
	require.False(t, results[0].OK)
	require.True(t, *results[0].Retryable)
	require.False(t, *results[1].Retryable)
}

func TestNotifyTestDryRun(t *testing.T) {
	r := newNotifyRig(t)
	path := r.write(t, r.webhook())
	code, out, errOut := runForTest(t, "notify", "test", "--dry-run", "--config", path)
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, r.smtp.Messages(), "a dry run sends nothing")
	require.Empty(t, r.slack.Accepted())
	require.Contains(t, out, "===== email (dry run: not sent) =====")
	require.Contains(t, out, "=?UTF-8?q?[TEST]_SBSHQ01:")
	require.Contains(t, out, "Content-Type: text/html; charset=UTF-8")
	require.Contains(t, out, "===== slack (dry run: not sent) =====")
	require.Contains(t, out, `"type": "header"`)
	require.Contains(t, out, "email: dry run, not sent")
	require.NotContains(t, out, "SECRETWEBHOOKPATH")

	code, out, _ = runForTest(t, "notify", "test", "--dry-run", "--json", "--config", path)
	require.Equal(t, exitOK, code)
	var results []channelResult
	require.NoError(t, json.Unmarshal([]byte(out), &results), out)
	require.Contains(t, results[0].Preview, "Content-Type: multipart/alternative")
	require.Contains(t, results[1].Preview, `"blocks"`)
}

func TestNotifyTestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	for name, tc := range map[string]struct {
		path string
		want []string
	}{
		"missing file": {filepath.Join(dir, "nope.yaml"), []string{"nope.yaml does not exist"}},
		"unknown key":  {write("typo.yaml", "notify:\n  emial: {}\n"), []string{"typo.yaml", "field emial not found"}},
		"no channel":   {write("empty.yaml", "notify:\n  realert: 1h\n"), []string{"configures no alert channel"}},
		"every problem at once": {write("bad.yaml", "notify:\n  realert: 1s\n  email: {host: h, from: nope, to: [a@b.c], password: hunter2-SECRET}\n  slack: {token: xoxb-SECRET}\n"),
			[]string{"notify.realert", "notify.email.from", "notify.email.username: required with auth auto", "notify.slack.channel: required with a token"}},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runForTest(t, "notify", "test", "--config", tc.path)
			require.Equal(t, exitConfig, code, errOut)
			for _, w := range tc.want {
				require.Contains(t, errOut, w)
			}
			require.NotContains(t, errOut, "SECRET")
		})
	}
}

func TestNotifyUsage(t *testing.T) {
	code, _, errOut := runForTest(t, "notify")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "missing subcommand")
	code, _, errOut = runForTest(t, "notify", "send")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `unknown notify subcommand "send"`)
	code, _, _ = runForTest(t, "notify", "test", "extra")
	require.Equal(t, exitUsage, code)
	code, out, _ := runForTest(t, "notify", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, `/etc/evtwatch/config.yaml`)
	require.Contains(t, out, "EXIT STATUS")
}
