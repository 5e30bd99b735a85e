package email_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/email"
	"github.com/evtwatch/evtwatch/notify/notifytest"
	"github.com/evtwatch/evtwatch/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const password = notifytest.Password

var fixedNow = time.Date(2024, 3, 5, 14, 10, 0, 0, time.UTC)

// config loads an email section the way the config file is loaded; extra
// holds more "key: value" lines for notify.email.
func config(t *testing.T, s *notifytest.SMTPServer, extra ...string) *notify.EmailConfig {
	t.Helper()
	y := fmt.Sprintf("email:\n  host: 127.0.0.1\n  port: %d\n  from: \"evtwatch <alerts@example.com>\"\n  to: [ops@example.com, oncall@example.com]\n", s.Port)
	for _, e := range extra {
		y += "  " + e + "\n"
	}
	c, err := notify.ParseConfig([]byte(y), "", func(k string) (string, bool) {
		if k == "SMTP_PASSWORD" {
			return password, true
		}
		return "", false
	})
	require.NoError(t, err)
	return c.Email
}

func withCA(s *notifytest.SMTPServer) string { return "ca_file: " + s.CAFile }

const withAuth = `username: alerts@example.com
  password: ${SMTP_PASSWORD}`

func newNotifier(t *testing.T, cfg *notify.EmailConfig) *email.Notifier {
	t.Helper()
	n, err := email.New(cfg, nil, email.WithClock(func() time.Time { return fixedNow }))
	require.NoError(t, err)
	return n
}

func send(t *testing.T, n *email.Notifier, alerts ...notify.Alert) (bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Notify(ctx, alerts...)
}

type parsedMessage struct {
	Header mail.Header
	Text   string
	HTML   string
}

func parseMessage(t *testing.T, data string) parsedMessage {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	require.NoError(t, err)
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	out := parsedMessage{Header: m.Header}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p) // quoted-printable is decoded by NextPart
		require.NoError(t, err)
		body := strings.ReplaceAll(string(b), "\r\n", "\n")
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			out.Text = body
		case "text/html":
			out.HTML = body
		default:
			t.Fatalf("unexpected part %s", ct)
		}
	}
	return out
}

func decodeHeader(t *testing.T, h mail.Header, key string) string {
	t.Helper()
	v, err := new(mime.WordDecoder).DecodeHeader(h.Get(key))
	require.NoError(t, err)
	return v
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./notify/email -update to create it")
	require.Equal(t, string(want), got, "golden %s differs (go test -update rewrites it)", path)
}

func sampleResolved() notify.Alert {
	a := notify.SampleAlert(fixedNow.Add(-3 * time.Hour))
	a.Status = notify.StatusResolved
	a.Sequence = 0
	by := notify.SampleFinding(fixedNow)
	by.Verdict, by.Culprit, by.Evidence = rules.VerdictFree, nil, nil
	a.Resolution = &notify.Resolution{At: fixedNow, Reason: "port udp/2883 is free now", By: &by}
	a.Finding.Evidence = nil
	return a
}

func TestSendStartTLSWithPlainAuth(t *testing.T) {
	s := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	n := newNotifier(t, config(t, s, withCA(s), withAuth, "auth: plain"))
	retry, err := send(t, n, notify.SampleAlert(fixedNow))
	require.NoError(t, err)
	require.False(t, retry)

	msgs := s.Messages()
	require.Len(t, msgs, 1)
	got := msgs[0]
	require.True(t, got.TLS, "STARTTLS before anything else")
	require.Equal(t, "alerts@example.com", got.User)
	require.Equal(t, "PLAIN", got.Mech)
	require.Equal(t, "alerts@example.com", got.From)
	require.Equal(t, []string{"ops@example.com", "oncall@example.com"}, got.To)

	m := parseMessage(t, got.Data)
	require.Equal(t, "SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)", decodeHeader(t, m.Header, "Subject"))
	require.Equal(t, `"evtwatch" <alerts@example.com>`, m.Header.Get("From"))
	require.Equal(t, "<ops@example.com>, <oncall@example.com>", m.Header.Get("To"))
	require.Equal(t, "auto-generated", m.Header.Get("Auto-Submitted"))
	require.Regexp(t, `^<evtwatch\.[0-9a-f]{12}\.0\.firing@example\.com>$`, m.Header.Get("Message-Id"))
	require.Empty(t, m.Header.Get("In-Reply-To"))
	date, err := m.Header.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(fixedNow))

	golden(t, "firing.txt.golden", m.Text)
	golden(t, "firing.html.golden", m.HTML)
}

func TestAuthMechanisms(t *testing.T) {
	for name, tc := range map[string]struct {
		opts     notifytest.SMTPOptions
		extra    []string
		wantMech string
		wantTLS  bool
	}{
		"login over starttls":     {extra: []string{withAuth, "auth: login"}, wantMech: "LOGIN", wantTLS: true},
		"auto picks plain on TLS": {extra: []string{withAuth}, wantMech: "PLAIN", wantTLS: true},
		"cram-md5 without TLS":    {opts: notifytest.SMTPOptions{NoTLS: true, Insecure: true}, extra: []string{withAuth, "auth: cram-md5", "tls: none"}, wantMech: "CRAM-MD5"},
		"no auth, no TLS":         {opts: notifytest.SMTPOptions{NoTLS: true}, extra: []string{"tls: none"}},
		"implicit TLS":            {opts: notifytest.SMTPOptions{ImplicitTLS: true}, extra: []string{withAuth, "tls: tls"}, wantMech: "PLAIN", wantTLS: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := notifytest.NewSMTPServer(t, tc.opts)
			n := newNotifier(t, config(t, s, append(tc.extra, withCA(s))...))
			_, err := send(t, n, notify.SampleAlert(fixedNow))
			require.NoError(t, err)
			msgs := s.Messages()
			require.Len(t, msgs, 1)
			require.Equal(t, tc.wantMech, msgs[0].Mech)
			require.Equal(t, tc.wantTLS, msgs[0].TLS)
		})
	}
}

func TestSendFailures(t *testing.T) {
	smtpErr := func(code int, msg string) *smtp.SMTPError {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: msg}
	}
	for name, tc := range map[string]struct {
		opts      notifytest.SMTPOptions
		setup     func(*notifytest.SMTPServer)
		extra     []string
		noCA      bool
		wantRetry bool
		wantErr   string
	}{
		"421 at the greeting": {
			setup: func(s *notifytest.SMTPServer) {
				s.SetHooks(notifytest.SMTPHooks{OnSession: func(*smtp.Conn) error { return smtpErr(421, "too busy, try later") }})
			},
			wantRetry: true, wantErr: "421",
		},
		"451 on DATA": {
			setup: func(s *notifytest.SMTPServer) {
				s.SetHooks(notifytest.SMTPHooks{OnData: func(*smtp.Conn) error { return smtpErr(451, "local error in processing") }})
			},
			wantRetry: true, wantErr: "451",
		},
		"550 unknown recipient": {
			setup: func(s *notifytest.SMTPServer) {
				s.SetHooks(notifytest.SMTPHooks{OnRcpt: func(to string) error {
					if to == "oncall@example.com" {
						return smtpErr(550, "no such user")
					}
					return nil
				}})
			},
			wantRetry: false, wantErr: "550",
		},
		"wrong password": {
			extra:     []string{"username: alerts@example.com", "password: not-the-password"},
			wantRetry: false, wantErr: "535",
		},
		"connection dropped during DATA": {
			setup: func(s *notifytest.SMTPServer) {
				s.SetHooks(notifytest.SMTPHooks{OnData: func(c *smtp.Conn) error { c.Conn().Close(); return errors.New("gone") }})
			},
			wantRetry: true, wantErr: "send email via 127.0.0.1",
		},
		"server offers no STARTTLS": {
			opts:      notifytest.SMTPOptions{NoTLS: true},
			wantRetry: false, wantErr: "does not support STARTTLS",
		},
		"certificate not trusted": {
			noCA:      true,
			wantRetry: false, wantErr: "certificate",
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := notifytest.NewSMTPServer(t, tc.opts)
			if tc.setup != nil {
				tc.setup(s)
			}
			extra := tc.extra
			if !tc.noCA {
				extra = append(extra, withCA(s))
			}
			logger, logs := notifytest.NewLogger()
			n, err := email.New(config(t, s, extra...), logger)
			require.NoError(t, err)
			retry, err := send(t, n, notify.SampleAlert(fixedNow))
			require.Error(t, err)
			require.Equal(t, tc.wantRetry, retry, "err: %v", err)
			require.ErrorContains(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), "not-the-password")
			require.NotContains(t, err.Error(), password)
			require.NotContains(t, logs.String(), "not-the-password")
			require.Empty(t, s.Messages())
		})
	}
}

func TestNobodyListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n := newNotifier(t, config(t, &notifytest.SMTPServer{Port: port}))
	retry, err := send(t, n, notify.SampleAlert(fixedNow))
	require.True(t, retry)
	require.ErrorContains(t, err, "connection refused")
}

// TestSlowServer: a server that never answers DATA is given up on at the
// context's deadline, not after go-mail's own 15 s timeout.
func TestSlowServer(t *testing.T) {
	s := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.SetHooks(notifytest.SMTPHooks{OnData: func(*smtp.Conn) error { <-release; return nil }})
	n := newNotifier(t, config(t, s, withCA(s)))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	retry, err := n.Notify(ctx, notify.SampleAlert(fixedNow))
	require.True(t, retry)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second, "bounded by the context")
}

// TestRetryThrough451: the retry wrapper rides out a 451 from a real server.
func TestRetryThrough451(t *testing.T) {
	s := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	calls := 0
	s.SetHooks(notifytest.SMTPHooks{OnData: func(*smtp.Conn) error {
		calls++
		if calls == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again"}
		}
		return nil
	}})
	var slept []time.Duration
	r := notify.Retry(newNotifier(t, config(t, s, withCA(s))), notify.DefaultBackoff(), nil,
		notify.WithClock(time.Now, func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }))
	retry, err := r.Notify(context.Background(), notify.SampleAlert(fixedNow))
	require.NoError(t, err)
	require.False(t, retry)
	require.Equal(t, []time.Duration{time.Second}, slept)
	require.Len(t, s.Messages(), 1)
}

// TestHeaderInjection: event text with line breaks and markup cannot add
// headers or recipients, or markup to the HTML part.
func TestHeaderInjection(t *testing.T) {
	s := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	a := notify.SampleAlert(fixedNow)
	a.Finding.Host = "SBSHQ01\r\nBcc: victim@evil.example"
	a.Finding.Service = "ActiveSync\nX-Injected: yes\r\n\r\n<script>alert(1)</script>"
	a.Finding.Culprit.Image = "dns.exe\r\nReply-To: attacker@evil.example"
	a.Finding.Evidence = append([]evtx.Event{{
		Provider: "Evil", EventID: 1, Channel: "Application", Time: fixedNow,
		Message: "<img src=x onerror=alert(1)> \x1b[31m <!channel> \r\nSubject: fake",
	}}, a.Finding.Evidence...)
	n := newNotifier(t, config(t, s, withCA(s), "subject: \"[evtwatch] {{ .Host }}: {{ .Culprit }}\""))
	_, err := send(t, n, a)
	require.NoError(t, err)

	got := s.Messages()[0]
	require.Equal(t, []string{"ops@example.com", "oncall@example.com"}, got.To, "no recipient added")
	m := parseMessage(t, got.Data)
	for _, h := range []string{"Bcc", "X-Injected", "Reply-To"} {
		require.Empty(t, m.Header.Get(h), h)
	}
	require.Equal(t, "[evtwatch] SBSHQ01 Bcc: victim@evil.example: dns.exe Reply-To: attacker@evil.example (PID 2216, DNS)",
		decodeHeader(t, m.Header, "Subject"))
	require.NotContains(t, m.HTML, "<script>")
	require.NotContains(t, m.HTML, "<img")
	require.Contains(t, m.HTML, "&lt;img src=x onerror=alert(1)&gt;")
	require.NotContains(t, m.Text, "\x1b")
	require.NotContains(t, m.HTML, "\x1b")
}

func TestGoldenMessages(t *testing.T) {
	s := &notifytest.SMTPServer{Host: "mail.example.com", Port: 587}
	n := newNotifier(t, config(t, s))

	eml, err := n.Preview(notify.SampleAlert(fixedNow))
	require.NoError(t, err)
	golden(t, "firing.eml.golden", string(eml))

	resolved, err := n.Preview(sampleResolved())
	require.NoError(t, err)
	m := parseMessage(t, string(resolved))
	require.Equal(t, "Resolved: SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)", decodeHeader(t, m.Header, "Subject"))
	require.Regexp(t, `^<evtwatch\.[0-9a-f]{12}\.0\.firing@example\.com>$`, m.Header.Get("In-Reply-To"), "threads under the first alert")
	require.Equal(t, m.Header.Get("In-Reply-To"), m.Header.Get("References"))
	golden(t, "resolved.txt.golden", m.Text)
	golden(t, "resolved.html.golden", m.HTML)

	ias := notify.SampleAlert(fixedNow)
	ias.ID = "0a1b2c3d4e5f"
	ias.Finding.Service, ias.Finding.Port = "IAS", 1812
	ias.Sequence, ias.Suppressed, ias.SuppressedSince = 2, 14, fixedNow.Add(-4*time.Hour)
	digest, err := n.Preview(notify.SampleAlert(fixedNow), ias, sampleResolved())
	require.NoError(t, err)
	m = parseMessage(t, string(digest))
	require.Equal(t, "SBSHQ01: 2 problems, 1 resolved", decodeHeader(t, m.Header, "Subject"))
	require.Empty(t, m.Header.Get("In-Reply-To"))
	golden(t, "digest.txt.golden", m.Text)
	golden(t, "digest.html.golden", m.HTML)
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := email.New(nil, nil)
	require.Error(t, err)
	_, err = email.New(&notify.EmailConfig{From: "a@b.c", Subject: "{{ .Title"}, nil)
	require.ErrorContains(t, err, "parse subject template")
}
