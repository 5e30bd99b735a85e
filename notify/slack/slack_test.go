package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/notifytest"
	"github.com/evtwatch/evtwatch/notify/slack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixedNow = time.Date(2024, 3, 5, 14, 10, 0, 0, time.UTC)

func tokenConfig(t *testing.T, f *notifytest.Slack, token, channel string) *notify.SlackConfig {
	t.Helper()
	c, err := notify.ParseConfig([]byte(fmt.Sprintf("slack: {token: %q, channel: %q, api_url: %q}", token, channel, f.APIURL())), "", nil)
	require.NoError(t, err)
	return c.Slack
}

func webhookConfig(t *testing.T, hook string) *notify.SlackConfig {
	t.Helper()
	c, err := notify.ParseConfig([]byte(fmt.Sprintf("slack: {webhook_url: %q}", hook)), "", nil)
	require.NoError(t, err)
	return c.Slack
}

func newNotifier(t *testing.T, cfg *notify.SlackConfig, logger *slog.Logger) *slack.Notifier {
	t.Helper()
	n, err := slack.New(cfg, logger)
	require.NoError(t, err)
	return n
}

func post(t *testing.T, n notify.Notifier, alerts ...notify.Alert) (bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Notify(ctx, alerts...)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./notify/slack -update to create it")
	require.Equal(t, string(want), string(got), "golden %s differs (go test -update rewrites it)", path)
}

func indent(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return append(b, '\n')
}

func TestPostMessage(t *testing.T) {
	f := notifytest.NewSlack(t)
	n := newNotifier(t, tokenConfig(t, f, f.Token, "#alerts"), nil)
	retry, err := post(t, n, notify.SampleAlert(fixedNow))
	require.NoError(t, err)
	require.False(t, retry)

	posts := f.Accepted()
	require.Len(t, posts, 1)
	p := posts[0]
	require.Equal(t, "#alerts", p.Channel)
	require.Equal(t, "SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)", p.Text)
	require.Equal(t, "false", p.Form.Get("unfurl_links"))
	require.Equal(t, "false", p.Form.Get("unfurl_media"))
	require.Equal(t, "header", p.Blocks[0]["type"])
	require.Equal(t, "🔴 SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)", p.Blocks[0]["text"].(map[string]any)["text"])
	fields := p.Blocks[2]["fields"].([]any)
	require.Equal(t, "*Culprit*\ndns.exe (PID 2216, DNS)", fields[0].(map[string]any)["text"])

	// What Slack received, field by field, blocks pretty-printed.
	var blocks any
	require.NoError(t, json.Unmarshal([]byte(p.Form.Get("blocks")), &blocks))
	form := map[string]any{}
	for k := range p.Form {
		form[k] = p.Form.Get(k)
	}
	form["blocks"] = blocks
	golden(t, "postmessage.golden.json", indent(t, form))
}

func TestWebhook(t *testing.T) {
	f := notifytest.NewSlack(t)
	n := newNotifier(t, webhookConfig(t, f.WebhookURL()), nil)
	_, err := post(t, n, notify.SampleAlert(fixedNow))
	require.NoError(t, err)
	posts := f.Accepted()
	require.Len(t, posts, 1)
	require.Equal(t, "webhook", posts[0].Kind)
	golden(t, "webhook.golden.json", indent(t, posts[0].JSON))

	preview, err := n.Preview(notify.SampleAlert(fixedNow))
	require.NoError(t, err)
	var fromPreview map[string]any
	require.NoError(t, json.Unmarshal(preview, &fromPreview))
	require.Equal(t, posts[0].JSON, fromPreview, "the dry run shows exactly what is posted")
}

func TestDigestAndResolved(t *testing.T) {
	f := notifytest.NewSlack(t)
	n := newNotifier(t, webhookConfig(t, f.WebhookURL()), nil)
	resolved := notify.SampleAlert(fixedNow.Add(-3 * time.Hour))
	resolved.Status = notify.StatusResolved
	resolved.Finding.Evidence = nil
	resolved.Resolution = &notify.Resolution{At: fixedNow, Reason: "port udp/2883 is free now"}
	ias := notify.SampleAlert(fixedNow)
	ias.Finding.Service, ias.Finding.Port = "IAS", 1812
	ias.Sequence, ias.Suppressed, ias.SuppressedSince = 1, 14, fixedNow.Add(-4*time.Hour)

	_, err := post(t, n, notify.SampleAlert(fixedNow), ias, resolved)
	require.NoError(t, err)
	golden(t, "digest.golden.json", indent(t, f.Accepted()[0].JSON))

	// A huge digest stays inside Slack's 50-block limit.
	many := make([]notify.Alert, 40)
	for i := range many {
		many[i] = notify.SampleAlert(fixedNow)
		many[i].Finding.Port = uint16(2000 + i)
	}
	_, err = post(t, n, many...)
	require.NoError(t, err)
	last := f.Accepted()[1]
	require.LessOrEqual(t, len(last.Blocks), 50)
	tail := last.Blocks[len(last.Blocks)-1]["elements"].([]any)[0].(map[string]any)["text"].(string)
	require.Contains(t, tail, "more not shown here")
}

func TestSlackFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		webhook   bool
		token     string
		channel   string
		hook      func(f *notifytest.Slack) string
		script    []notifytest.SlackReply
		wantRetry bool
		wantAfter time.Duration
		wantErr   string
	}{
		"unknown channel": {channel: "#nope", wantErr: "channel_not_found"},
		"revoked token":   {token: "xoxb-revoked-SECRETTOKEN", wantErr: "invalid_auth"},
		"rate limited": {
			script:    []notifytest.SlackReply{{Status: 429, RetryAfter: "3", Body: "ratelimited"}},
			wantRetry: true, wantAfter: 3 * time.Second, wantErr: "rate limit",
		},
		"server error": {script: []notifytest.SlackReply{{Status: 500, Body: "oops"}}, wantRetry: true, wantErr: "500"},
		"ok false, internal_error": {
			script:    []notifytest.SlackReply{{Status: 200, Body: `{"ok":false,"error":"internal_error"}`}},
			wantRetry: true, wantErr: "internal_error",
		},
		"webhook gone": {
			webhook: true, hook: func(f *notifytest.Slack) string { return f.Server.URL + "/services/T000/B000/OTHERSECRETHOOK" },
			wantErr: "404 Not Found: no_service",
		},
		"webhook channel archived": {
			webhook: true, script: []notifytest.SlackReply{{Status: 410, Body: "channel_is_archived"}},
			wantErr: "channel_is_archived",
		},
		"webhook bad gateway": {webhook: true, script: []notifytest.SlackReply{{Status: 502}}, wantRetry: true, wantErr: "502"},
		"webhook rate limited": {
			webhook: true, script: []notifytest.SlackReply{{Status: 429, RetryAfter: "30"}},
			wantRetry: true, wantAfter: 30 * time.Second,
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := notifytest.NewSlack(t)
			f.Script(tc.script...)
			var cfg *notify.SlackConfig
			if tc.webhook {
				hook := f.WebhookURL()
				if tc.hook != nil {
					hook = tc.hook(f)
				}
				cfg = webhookConfig(t, hook)
			} else {
				token, channel := f.Token, "#alerts"
				if tc.token != "" {
					token = tc.token
				}
				if tc.channel != "" {
					channel = tc.channel
				}
				cfg = tokenConfig(t, f, token, channel)
			}
			var logs bytes.Buffer
			n := newNotifier(t, cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			retry, err := post(t, n, notify.SampleAlert(fixedNow))
			require.Error(t, err)
			require.Equal(t, tc.wantRetry, retry, "err: %v", err)
			require.ErrorContains(t, err, tc.wantErr)
			after, ok := notify.RetryAfter(err)
			require.Equal(t, tc.wantAfter != 0, ok)
			require.Equal(t, tc.wantAfter, after)
			for _, secret := range []string{"SECRETTOKEN", "SECRETWEBHOOKPATH", "OTHERSECRETHOOK"} {
				require.NotContains(t, err.Error(), secret)
				require.NotContains(t, logs.String(), secret)
			}
			require.Empty(t, f.Accepted())
		})
	}
}

// TestNetworkErrorsHideTheWebhook: transport errors quote the request
// URL, which for a webhook is the credential.
func TestNetworkErrorsHideTheWebhook(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	hook := "http://" + addr + "/services/T000/B000/SECRETWEBHOOKPATH"
	retry, err := post(t, newNotifier(t, webhookConfig(t, hook), nil), notify.SampleAlert(fixedNow))
	require.True(t, retry)
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), "SECRETWEBHOOKPATH")
	require.NotContains(t, err.Error(), "/services/")

	f := notifytest.NewSlack(t)
	cfg := tokenConfig(t, f, f.Token, "#alerts")
	cfg.APIURL = "http://" + addr + "/api/"
	retry, err = post(t, newNotifier(t, cfg, nil), notify.SampleAlert(fixedNow))
	require.True(t, retry)
	require.NotContains(t, err.Error(), "SECRETTOKEN")
}

// TestRetryHonoursRetryAfter: the retry wrapper waits exactly what Slack's
// 429 asked for, then the message goes through.
func TestRetryHonoursRetryAfter(t *testing.T) {
	f := notifytest.NewSlack(t)
	f.Script(notifytest.SlackReply{Status: 429, RetryAfter: "2", Body: "ratelimited"}, notifytest.SlackReply{Status: 503})
	var slept []time.Duration
	r := notify.Retry(newNotifier(t, tokenConfig(t, f, f.Token, "#alerts"), nil), notify.DefaultBackoff(), nil,
		notify.WithClock(time.Now, func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }))
	retry, err := r.Notify(context.Background(), notify.SampleAlert(fixedNow))
	require.NoError(t, err)
	require.False(t, retry)
	require.Equal(t, []time.Duration{2 * time.Second, 2 * time.Second}, slept, "Retry-After, then the 2nd backoff step after the 503")
	require.Len(t, f.Accepted(), 1)
}

// TestEscaping: event text cannot mention @channel, link, or inject
// mrkdwn, wherever it lands in the message.
func TestEscaping(t *testing.T) {
	f := notifytest.NewSlack(t)
	n := newNotifier(t, tokenConfig(t, f, f.Token, "#alerts"), nil)
	a := notify.SampleAlert(fixedNow)
	evil := "<!channel> <@U024BE7LH> <https://evil.example|click> @here & ```x``` `y`"
	a.Finding.Host = "SBSHQ01 " + evil
	a.Finding.Service = "ActiveSync " + evil
	a.Finding.Advice = evil
	a.Finding.Culprit.Image = "dns.exe " + evil
	a.Finding.Culprit.Path = `C:\x\` + evil
	a.Finding.Evidence = append([]evtx.Event{{Provider: "Evil", EventID: 1, Channel: "Application", Time: fixedNow, Message: evil}}, a.Finding.Evidence...)
	_, err := post(t, n, a)
	require.NoError(t, err)
	p := f.Accepted()[0]

	checkMrkdwn := func(where, s string) {
		for _, bad := range []string{"<!", "<@", "<http", "@here"} {
			require.NotContains(t, s, bad, "%s: %q", where, s)
		}
	}
	checkMrkdwn("text", p.Text)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "mrkdwn" {
				checkMrkdwn(path, x["text"].(string))
				if strings.Count(x["text"].(string), "```")%2 != 0 {
					t.Fatalf("%s: unbalanced code block: %q", path, x["text"])
				}
			}
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	var blocks []any
	require.NoError(t, json.Unmarshal([]byte(p.Form.Get("blocks")), &blocks))
	walk("blocks", blocks)
	require.Contains(t, p.Form.Get("blocks"), "\\u0026lt;!channel\\u0026gt;", "shown as text")
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := slack.New(nil, nil)
	require.Error(t, err)
	_, err = slack.New(&notify.SlackConfig{}, nil)
	require.ErrorContains(t, err, "exactly one of webhook_url and token")
	_, err = slack.New(&notify.SlackConfig{Token: "xoxb-1"}, nil)
	require.ErrorContains(t, err, "a token needs a channel")
}
