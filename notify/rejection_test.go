package notify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/email"
	"github.com/evtwatch/evtwatch/notify/notifytest"
	"github.com/evtwatch/evtwatch/notify/slack"
	"github.com/evtwatch/evtwatch/rules"
)

func TestRejectionHold(t *testing.T) {
	for n, want := range map[int]time.Duration{
		0: time.Hour, 1: time.Hour, 2: 2 * time.Hour, 3: 4 * time.Hour, 4: 8 * time.Hour,
		5: 16 * time.Hour, 6: 24 * time.Hour, 7: 24 * time.Hour, 1000: 24 * time.Hour,
	} {
		require.Equal(t, want, notify.RejectionHold(n), "n=%d", n)
	}
}

// A permanent failure (the server said retrying will not help) is kept in
// the outbox, but tried again after 1h, then 2h, 4h ... up to once a day,
// not on every run: a scan every 5 minutes (or watch every 30s) used to
// log the same error each time for a week.
func TestDispatchRejectedEntryIsHeldBack(t *testing.T) {
	r := newRig(t, func(c *notify.Config) {
		c.ResolveAfter = notify.Duration(30 * 24 * time.Hour)
		c.Outbox.MaxAge = notify.Duration(30 * 24 * time.Hour)
	})
	calls := 0
	r.email.fail = func() (bool, error) { calls++; return false, errors.New("550 5.1.1 no such user") }
	r.d.Add(r.finding())
	rep := r.flush()
	require.Equal(t, 1, calls)
	require.Equal(t, 1, rep.Sent, "slack")
	require.Equal(t, 1, rep.Pending)
	e := r.state.Outbox.Entries[0]
	require.True(t, e.Permanent)
	require.Equal(t, 1, e.Rejections)
	require.True(t, e.NotBefore.Equal(r.clock.Now().Add(time.Hour)), "%s", e.NotBefore)
	require.Contains(t, r.logs.String(), "next_attempt=\"2024-03-05 15:00:00 UTC (sooner when the channel's configuration changes)\"")

	rejected := func() int { return strings.Count(r.logs.String(), "alert rejected") }
	for i, hold := range []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour, 24 * time.Hour} {
		// Runs every 5 minutes within the hold: not tried, not logged.
		for range int(hold/(5*time.Minute)) - 1 {
			r.clock.Advance(5 * time.Minute)
			rep := r.flush()
			require.Zero(t, rep.Failed)
			require.Equal(t, 1, rep.Pending, "still queued")
		}
		require.Equal(t, i+1, calls, "held back for %s", hold)
		require.Equal(t, i+1, rejected())
		// The hold is over: tried once more, and held longer.
		r.clock.Advance(5 * time.Minute)
		rep := r.flush()
		require.Equal(t, 1, rep.Failed)
		require.Equal(t, i+2, calls)
		require.Equal(t, i+2, rejected())
		e := r.state.Outbox.Entries[0]
		require.Equal(t, i+2, e.Rejections)
		require.Equal(t, i+2, e.Attempts)
		require.True(t, e.NotBefore.Equal(r.clock.Now().Add(notify.RejectionHold(i+2))))
	}

	// Fixed in the end (the mailbox was created): sent on the next try.
	r.email.fail = nil
	r.clock.Advance(24 * time.Hour)
	rep = r.flush()
	require.Equal(t, 1, rep.Sent)
	require.Zero(t, rep.Pending)
}

// Temporary failures keep the normal schedule (every run), and reset the
// hold-back: the next rejection waits an hour again.
func TestDispatchTemporaryFailureIsNotHeldBack(t *testing.T) {
	r := newRig(t, func(c *notify.Config) { c.ResolveAfter = notify.Duration(30 * 24 * time.Hour) })
	calls := 0
	var fail error
	permanent := false
	r.slack.fail = func() (bool, error) { calls++; return !permanent, fail }

	fail = errors.New("slack server error: 503")
	r.d.Add(r.finding())
	r.flush()
	require.Equal(t, 4, calls, "retried within the run")
	r.clock.Advance(time.Minute)
	r.flush()
	require.Equal(t, 8, calls, "and again on the next run, a minute later")
	e := r.state.Outbox.Entries[0]
	require.False(t, e.Permanent)
	require.Zero(t, e.Rejections)

	permanent, fail = true, errors.New("slack: invalid_auth")
	for range 2 {
		r.clock.Advance(time.Hour)
		r.flush()
	}
	require.Equal(t, 10, calls)
	require.Equal(t, 2, r.state.Outbox.Entries[0].Rejections)

	// The token is fine again but Slack is down: every run again.
	r.clock.Advance(2 * time.Hour)
	permanent, fail = false, errors.New("slack server error: 502")
	r.flush()
	require.Equal(t, 14, calls)
	e = r.state.Outbox.Entries[0]
	require.False(t, e.Permanent)
	require.Zero(t, e.Rejections)
	r.clock.Advance(time.Minute)
	r.flush()
	require.Equal(t, 18, calls)

	// Rejected again: an hour, not the 4h the earlier rejections had reached.
	permanent, fail = true, errors.New("slack: invalid_auth")
	r.clock.Advance(time.Minute)
	r.flush()
	require.Equal(t, 19, calls)
	e = r.state.Outbox.Entries[0]
	require.Equal(t, 1, e.Rejections)
	require.True(t, e.NotBefore.Equal(r.clock.Now().Add(time.Hour)))
}

// A server's Retry-After moves every entry of the channel, but never
// shortens the hold of a rejected one.
func TestDispatchRetryAfterKeepsARejectionHold(t *testing.T) {
	r := newRig(t, nil)
	r.slack.fail = func() (bool, error) { return false, errors.New("slack: channel_not_found") }
	r.d.Add(r.finding())
	r.flush()
	held := r.state.Outbox.Entries[0].NotBefore
	require.True(t, held.Equal(r.clock.Now().Add(time.Hour)))

	r.clock.Advance(5 * time.Minute)
	r.slack.fail = func() (bool, error) {
		return true, notify.WithRetryAfter(errors.New("slack rate limit exceeded"), 40*time.Minute)
	}
	r.d.Add(r.finding(func(f *rules.Finding) { f.Port = 1812; f.Service = "IAS" }))
	rep := r.flush()
	require.Equal(t, 1, rep.Channels["slack"].Failed, "only the new alert was due")
	require.Len(t, r.state.Outbox.Entries, 2)
	require.True(t, r.state.Outbox.Entries[0].NotBefore.Equal(held), "the rejection hold stays")
	require.True(t, r.state.Outbox.Entries[1].NotBefore.Equal(r.clock.Now().Add(40*time.Minute)))
}

// realDispatcher builds the email and Slack channels from a config, as a
// scan does on every run.
func realDispatcher(t *testing.T, yaml string, st *notify.State, clock *fakeClock) (*notify.Dispatcher, *notifytest.LogBuffer) {
	t.Helper()
	cfg, err := notify.ParseConfig([]byte(yaml), t.TempDir(), nil)
	require.NoError(t, err)
	var chans []notify.Channel
	if cfg.Email != nil {
		n, err := email.New(cfg.Email, nil)
		require.NoError(t, err)
		chans = append(chans, notify.Channel{Name: "email", Notifier: n})
	}
	if cfg.Slack != nil {
		n, err := slack.New(cfg.Slack, nil)
		require.NoError(t, err)
		chans = append(chans, notify.Channel{Name: "slack", Notifier: n})
	}
	logger, logs := notifytest.NewLogger()
	d, err := notify.NewDispatcher(cfg, chans, st, logger, notify.WithDispatchClock(clock.Now, clock.Sleep))
	require.NoError(t, err)
	return d, logs
}

// The usual fixes of a rejection are configuration changes: the right
// address, a new token, the internal CA. The next run tries the held
// entries at once instead of waiting out the hold; a run with the same
// configuration does not. Real SMTP server and Slack API on loopback.
func TestDispatchRejectionHoldEndsWhenTheConfigChanges(t *testing.T) {
	srv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	var rcpts atomic.Int32
	srv.SetHooks(notifytest.SMTPHooks{OnRcpt: func(to string) error {
		rcpts.Add(1)
		if to != "admins@example.com" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	fake := notifytest.NewSlack(t)
	var slackCalls atomic.Int32
	inner := fake.Server.Config.Handler
	fake.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slackCalls.Add(1)
		inner.ServeHTTP(w, r)
	})
	// A CA bundle that is valid but not the server's: another server's.
	wrongCA, err := os.ReadFile(notifytest.NewSMTPServer(t, notifytest.SMTPOptions{}).CAFile)
	require.NoError(t, err)
	caCopy := filepath.Join(t.TempDir(), "ca.pem")

	emailCfg := func(to, tlsMode, ca string) string {
		s := fmt.Sprintf("email: {host: %s, port: %d, tls: %s, from: evtwatch@example.com, to: [%s]", srv.Host, srv.Port, tlsMode, to)
		if ca != "" {
			s += ", ca_file: " + ca
		}
		return s + "}\n"
	}
	slackCfg := func(token string) string {
		return fmt.Sprintf("slack: {token: %s, channel: \"#alerts\", api_url: %s}\n", token, fake.APIURL())
	}
	for _, tc := range []struct {
		name       string
		bad, fixed string
		calls      func() int32
		delivered  func() int
	}{
		{
			name: "smtp 550", bad: emailCfg("nobody@example.com", "none", ""), fixed: emailCfg("admins@example.com", "none", ""),
			calls: rcpts.Load, delivered: func() int { return len(srv.Messages()) },
		},
		{
			name: "unknown CA", bad: emailCfg("admins@example.com", "starttls", ""), fixed: emailCfg("admins@example.com", "starttls", srv.CAFile),
			calls: rcpts.Load, delivered: func() int { return len(srv.Messages()) },
		},
		{
			// Only the CA bundle's content changes: replaced in place.
			name: "CA file replaced", bad: emailCfg("admins@example.com", "starttls", caCopy), fixed: emailCfg("admins@example.com", "starttls", caCopy),
			calls: rcpts.Load, delivered: func() int { return len(srv.Messages()) },
		},
		{
			// Only a secret changes.
			name: "slack invalid_auth", bad: slackCfg("xoxb-revoked-0000"), fixed: slackCfg(fake.Token),
			calls: slackCalls.Load, delivered: func() int { return len(fake.Accepted()) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(mustTime(t, "2024-03-05T14:00:00Z"))
			st := notify.NewState()
			before := tc.delivered()
			if tc.name == "CA file replaced" {
				require.NoError(t, os.WriteFile(caCopy, wrongCA, 0o600))
			}
			d, logs := realDispatcher(t, tc.bad, st, clock)
			d.Add(notify.SampleFinding(clock.Now()))
			rep, err := d.Flush(context.Background(), nil)
			require.NoError(t, err)
			require.Equal(t, 1, rep.Failed, logs.String())
			require.True(t, st.Outbox.Entries[0].Permanent, logs.String())
			require.False(t, st.Outbox.Entries[0].NotBefore.IsZero(), "held back")
			require.Contains(t, logs.String(), "alert rejected")
			attempts := tc.calls()

			// The next run, same configuration: held back, nothing tried.
			clock.Advance(5 * time.Minute)
			d, logs = realDispatcher(t, tc.bad, st, clock)
			rep, err = d.Flush(context.Background(), nil)
			require.NoError(t, err)
			require.Zero(t, rep.Failed)
			require.Equal(t, 1, rep.Pending)
			require.Equal(t, attempts, tc.calls(), "not tried while held back")
			require.NotContains(t, logs.String(), "level=ERROR")
			require.Contains(t, logs.String(), "alerts held back after a rejection")

			// Fixed: the next run sends it.
			if tc.name == "CA file replaced" {
				pem, err := os.ReadFile(srv.CAFile)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(caCopy, pem, 0o600))
			}
			clock.Advance(5 * time.Minute)
			d, logs = realDispatcher(t, tc.fixed, st, clock)
			rep, err = d.Flush(context.Background(), nil)
			require.NoError(t, err)
			require.Equal(t, 1, rep.Sent, logs.String())
			require.Zero(t, rep.Pending)
			require.Equal(t, before+1, tc.delivered())
			require.Contains(t, logs.String(), "channel configuration changed: retrying alerts held back after a rejection")
		})
	}
}
