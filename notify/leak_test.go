package notify_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/email"
	"github.com/evtwatch/evtwatch/notify/notifytest"
	"github.com/evtwatch/evtwatch/notify/slack"
)

// TestNoSecretLeaks runs the whole pipeline against real servers that
// reject the credentials or are not there, and checks that no password,
// token or webhook URL reaches the logs, the errors or the state file.
func TestNoSecretLeaks(t *testing.T) {
	const wrongPassword = "Wr0ng-SMTP-Passw0rd-LEAKCHECK"
	smtpSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	fake := notifytest.NewSlack(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := ln.Addr().String()
	ln.Close()
	deadHook := "http://" + deadAddr + "/services/T000/B000/LEAKCHECKWEBHOOKPATH"
	revoked := "xoxb-9999-LEAKCHECKREVOKEDTOKEN"

	cfg, err := notify.ParseConfig([]byte(fmt.Sprintf(`
email:
  host: 127.0.0.1
  port: %d
  ca_file: %s
  username: %s
  password: %s
  from: alerts@example.com
  to: [ops@example.com]
slack:
  token: %s
  channel: "#alerts"
  api_url: %s
`, smtpSrv.Port, smtpSrv.CAFile, notifytest.User, wrongPassword, revoked, fake.APIURL())), "", nil)
	require.NoError(t, err)
	hookCfg, err := notify.ParseConfig([]byte(fmt.Sprintf("slack: {webhook_url: %q}", deadHook)), "", nil)
	require.NoError(t, err)

	logger, logs := notifytest.NewLogger()
	en, err := email.New(cfg.Email, logger)
	require.NoError(t, err)
	sn, err := slack.New(cfg.Slack, logger)
	require.NoError(t, err)
	hn, err := slack.New(hookCfg.Slack, logger)
	require.NoError(t, err)

	st := notify.NewState()
	path := filepath.Join(t.TempDir(), "state.json")
	clock := newFakeClock(time.Now())
	d, err := notify.NewDispatcher(cfg, []notify.Channel{
		{Name: "email", Notifier: en}, {Name: "slack", Notifier: sn}, {Name: "webhook", Notifier: hn},
	}, st, logger, notify.WithDispatchClock(clock.Now, clock.Sleep))
	require.NoError(t, err)
	d.Add(notify.SampleFinding(clock.Now()))
	rep, err := d.Flush(context.Background(), func() error { return writeState(st, path) })
	require.NoError(t, err)
	require.Equal(t, 3, rep.Failed)
	require.Equal(t, 3, rep.Pending, "all kept for the next run")

	saved, err := os.ReadFile(path)
	require.NoError(t, err)
	places := map[string]string{"logs": logs.String(), "state file": string(saved), "config": cfg.String() + hookCfg.String()}
	for name, cr := range rep.Channels {
		places["report "+name] = cr.LastError
	}
	for where, text := range places {
		for _, secret := range []string{wrongPassword, "LEAKCHECKWEBHOOKPATH", revoked, "LEAKCHECKREVOKEDTOKEN", fake.Token} {
			require.NotContains(t, text, secret, where)
		}
	}
	require.Contains(t, rep.Channels["email"].LastError, "535")
	require.Contains(t, rep.Channels["slack"].LastError, "invalid_auth")
	require.Contains(t, rep.Channels["webhook"].LastError, "connection refused")
}
