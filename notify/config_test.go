package notify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
)

const (
	testPassword = "s3cr3t-SMTP-pa55"
	testToken    = "xoxb-1234-5678-SECRETTOKEN"
	testWebhook  = "https://hooks.slack.com/services/T000/B000/SECRETWEBHOOKPATH"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := notify.ParseConfig([]byte(`
email:
  host: mail.example.com
  from: evtwatch <alerts@example.com>
  to: [admins@example.com]
slack:
  webhook_url: https://hooks.slack.com/services/T/B/X
`), "", env(nil))
	require.NoError(t, err)
	require.Equal(t, 4*time.Hour, c.Realert.Std())
	require.Equal(t, 2*time.Hour, c.ResolveAfter.Std())
	require.Equal(t, 7*24*time.Hour, c.Outbox.MaxAge.Std())
	require.Equal(t, 30*time.Second, c.Timeout.Std())
	require.False(t, c.Digest)
	require.Equal(t, notify.TLSStartTLS, c.Email.TLS, "STARTTLS is the default, and mandatory")
	require.Equal(t, 587, c.Email.Port)
	require.Equal(t, notify.AuthNone, c.Email.Auth)
	require.Equal(t, notify.DefaultSlackAPIURL, c.Slack.APIURL)
	require.Equal(t, []string{"email", "slack"}, c.Channels())

	empty, err := notify.ParseConfig(nil, "", env(nil))
	require.NoError(t, err)
	require.Empty(t, empty.Channels())
	require.Equal(t, notify.DefaultConfig(), empty)
}

func TestConfigPortFollowsTLSMode(t *testing.T) {
	for mode, port := range map[string]int{"starttls": 587, "tls": 465, "none": 25} {
		c, err := notify.ParseConfig([]byte(fmt.Sprintf("email: {host: h, tls: %s, from: a@b.c, to: [d@e.f]}", mode)), "", env(nil))
		require.NoError(t, err, mode)
		require.Equal(t, port, c.Email.Port, mode)
	}
}

func TestConfigSecretsFromEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "smtp.pw"), []byte(testPassword+"\r\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slack.token"), []byte(testToken+"\n"), 0o600))

	c, err := notify.ParseConfig([]byte(`
realert: 1d12h
resolve_after: 90m
digest: true
outbox: {max_age: 3d}
email:
  host: ${SMTP_HOST}
  username: alerts@example.com
  password_file: smtp.pw
  from: alerts@example.com
  to: [ops@example.com, "${ONCALL}"]
  subject: "[evtwatch] {{ .Title }} costs $$0"
slack:
  token_file: slack.token
  channel: "#alerts"
  api_url: http://127.0.0.1:9/api
`), dir, env(map[string]string{"SMTP_HOST": "smtp.example.com", "ONCALL": "oncall@example.com"}))
	require.NoError(t, err)
	require.Equal(t, 36*time.Hour, c.Realert.Std())
	require.Equal(t, 90*time.Minute, c.ResolveAfter.Std())
	require.True(t, c.Digest)
	require.Equal(t, "smtp.example.com", c.Email.Host)
	require.Equal(t, testPassword, c.Email.Password.Reveal(), "read from the file named relative to the config, trailing newline dropped")
	require.Equal(t, notify.AuthAuto, c.Email.Auth)
	require.Equal(t, []string{"ops@example.com", "oncall@example.com"}, c.Email.To)
	require.Equal(t, "[evtwatch] {{ .Title }} costs $0", c.Email.Subject)
	require.Equal(t, testToken, c.Slack.Token.Reveal())
	require.Equal(t, "http://127.0.0.1:9/api/", c.Slack.APIURL, "a trailing slash is added")

	c, err = notify.ParseConfig([]byte(`
email: {host: h, username: u, password: "${SMTP_PASSWORD}", from: a@b.c, to: [d@e.f]}
slack: {webhook_url: "${SLACK_WEBHOOK}"}
`), dir, env(map[string]string{"SMTP_PASSWORD": testPassword, "SLACK_WEBHOOK": testWebhook}))
	require.NoError(t, err)
	require.Equal(t, testPassword, c.Email.Password.Reveal())
	require.Equal(t, testWebhook, c.Slack.WebhookURL.Reveal())
}

// TestConfigReportsEveryProblem checks that one load lists every mistake,
// each with its key.
func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := notify.ParseConfig([]byte(`
realert: 10s
outbox: {max_age: 30s}
email:
  host: ""
  port: 70000
  tls: ssl
  auth: ntlm
  password: "${NOPE}"
  password_file: /nonexistent/pw
  from: not-an-address
  to: [ok@example.com, "bad address"]
  subject: "{{ .Nope }}"
  ca_file: /nonexistent/ca.pem
slack:
  webhook_url: "ftp://hooks.example/SECRETWEBHOOKPATH"
  token: xoxb-SECRETTOKEN
  api_url: "::"
`), "", env(nil))
	require.Error(t, err)
	var got []string
	for _, line := range strings.Split(err.Error(), "\n") {
		got = append(got, line[:strings.Index(line, ":")])
	}
	require.ElementsMatch(t, []string{
		"notify.realert", "notify.outbox.max_age",
		"notify.email.host", "notify.email.port", "notify.email.tls", "notify.email.auth",
		"notify.email.password", "notify.email.password", "notify.email.from", "notify.email.to[1]",
		"notify.email.subject", "notify.email.ca_file",
		"notify.slack", "notify.slack.webhook_url", "notify.slack.api_url",
	}, got, err.Error())
	require.Contains(t, err.Error(), "environment variable NOPE is not set")
	require.Contains(t, err.Error(), "set password or password_file, not both")
	require.Contains(t, err.Error(), "can't evaluate field Nope")
	require.NotContains(t, err.Error(), "SECRETWEBHOOKPATH", "a webhook URL is a credential: never echoed")
	require.NotContains(t, err.Error(), "SECRETTOKEN")
}

func TestConfigRules(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"plain auth over plain text": {`email: {host: h, tls: none, auth: plain, username: u, password: p, from: a@b.c, to: [d@e.f]}`,
			"notify.email.auth: plain over tls: none would send the password in clear"},
		"username without password": {`email: {host: h, username: u, from: a@b.c, to: [d@e.f]}`,
			"notify.email.password: required with auth auto"},
		"auth none with a password": {`email: {host: h, auth: none, password: p, from: a@b.c, to: [d@e.f]}`,
			"notify.email.auth: is none but a username or password is set"},
		"no recipients":             {`email: {host: h, from: a@b.c}`, "notify.email.to: at least one recipient is required"},
		"token without channel":     {`slack: {token: xoxb-1}`, "notify.slack.channel: required with a token"},
		"neither webhook nor token": {`slack: {channel: "#x"}`, "notify.slack: set webhook_url (incoming webhook) or token and channel"},
		"both webhook and file":     {`slack: {webhook_url: "https://h/x", webhook_url_file: f}`, "notify.slack.webhook_url: set webhook_url or webhook_url_file, not both"},
		"unknown key":               {"email:\n  host: h\n  pasword: x\n", "field pasword not found"},
		"duration without unit":     {`realert: 3600`, "want a duration with a unit"},
		"bad duration":              {`realert: soon`, `invalid duration "soon"`},
		"unterminated env":          {`slack: {webhook_url: "${SLACK"}`, "unterminated ${"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := notify.ParseConfig([]byte(tc.yaml), t.TempDir(), env(nil))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestHideConfigSecrets: no way of printing or logging a config or a
// secret shows the secret.
func TestHideConfigSecrets(t *testing.T) {
	c, err := notify.ParseConfig([]byte(`
email: {host: h, username: u, password: "`+testPassword+`", from: a@b.c, to: [d@e.f]}
slack: {webhook_url: "`+testWebhook+`"}
`), "", env(nil))
	require.NoError(t, err)
	tok := notify.Secret(testToken)

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("config", "cfg", c, "email", c.Email, "password", c.Email.Password, "token", tok, "slack", *c.Slack)
		l.Info("grouped", slog.Any("pw", c.Email.Password), slog.Group("g", "tok", tok))
	}
	js, err := json.Marshal(c)
	require.NoError(t, err)
	outputs := map[string]string{
		"String()": c.String(),
		"logs":     logs.String(),
		"json":     string(js),
		"fmt":      fmt.Sprintf("%v %+v %#v %s %q %x %X %d", c, c.Email, *c.Slack, tok, tok, tok, tok, tok),
	}
	for where, out := range outputs {
		for _, secret := range []string{testPassword, testWebhook, "SECRETWEBHOOKPATH", testToken} {
			require.NotContains(t, out, secret, where)
		}
	}
	require.Contains(t, c.String(), "password: <secret>")
	require.Contains(t, c.String(), "webhook_url: <secret>")
	require.Contains(t, logs.String(), "<secret>")
}

func TestRedactError(t *testing.T) {
	base := fmt.Errorf("post %q: %w", testWebhook, errors.New("connection refused"))
	err := notify.RedactError(notify.WithRetryAfter(base, 3*time.Second), testWebhook)
	require.Equal(t, `post "<secret>": connection refused`, err.Error())
	d, ok := notify.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, d)
	require.Nil(t, errors.Unwrap(err), "the unscrubbed chain is not reachable")
}
