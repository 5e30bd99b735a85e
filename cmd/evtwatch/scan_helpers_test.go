package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/evtx"
	"github.com/evtwatch/evtwatch/evtx/evtxtest"
)

// fakeClock is the injected clock of the scan tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// received is one message the test SMTP server accepted.
type received struct {
	MessageID string
	Subject   string
	To        []string
	Body      string
}

// smtpSink is a real SMTP server on loopback (emersion/go-smtp) that
// records every message it accepts.
type smtpSink struct {
	srv  *smtp.Server
	addr string
	// delay holds each accepted message before the server answers, which
	// widens the window in which a killed client has been accepted
	// without knowing it.
	delay time.Duration
	mu    sync.Mutex
	msgs  []received
}

// startSMTP serves on addr ("127.0.0.1:0" for any port).
func startSMTP(t *testing.T, addr string) *smtpSink {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{sink: sink}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0) // killed clients drop connections: expected here
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	sink.srv, sink.addr = srv, l.Addr().String()
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return sink
}

func (s *smtpSink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

type smtpSession struct {
	sink *smtpSink
	to   []string
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(m.Body)
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	s.sink.msgs = append(s.sink.msgs, received{
		MessageID: m.Header.Get("Message-Id"),
		Subject:   decodeHeader(m.Header.Get("Subject")),
		To:        s.to,
		Body:      string(body),
	})
	if s.sink.delay > 0 {
		time.Sleep(s.sink.delay) // the server is slow to answer: a real mail server's latency, not test synchronisation
	}
	return nil
}

func (s *smtpSession) Reset()        { s.to = nil }
func (s *smtpSession) Logout() error { return nil }

// freePort returns a loopback address nobody listens on (yet).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// scanEnv is a scan set-up in a temporary folder: a log folder, port
// captures showing dns.exe holding UDP 2883, a config pointing at an SMTP
// address, and the fake clock.
type scanEnv struct {
	dir, logs, config, statePath string
	clock                        *fakeClock
	events                       []evtx.Event
	corrupt                      []evtxtest.Corruption
}

var scanT0 = time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)

func newScanEnv(t *testing.T, smtpAddr string) *scanEnv {
	t.Helper()
	dir := t.TempDir()
	env := &scanEnv{
		dir:       dir,
		logs:      filepath.Join(dir, "logs"),
		config:    filepath.Join(dir, "config.yaml"),
		statePath: filepath.Join(dir, "state", "state.json"),
		clock:     &fakeClock{t: scanT0},
	}
	require.NoError(t, os.MkdirAll(env.logs, 0o755))
	caps := filepath.Join(dir, "captures")
	require.NoError(t, os.MkdirAll(caps, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(caps, "netstat-ano.txt"), []byte(`
Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:53             0.0.0.0:0              LISTENING       1692
  TCP    0.0.0.0:80             0.0.0.0:0              LISTENING       4
  UDP    0.0.0.0:53             *:*                                    1692
  UDP    0.0.0.0:2883           *:*                                    1692
  UDP    0.0.0.0:2884           *:*                                    1692
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(caps, "tasklist-svc.csv"), []byte(`"Image Name","PID","Services"
"System","4","N/A"
"dns.exe","1692","DNS"
"w3wp.exe","2100","N/A"
`), 0o644))
	host, port, err := net.SplitHostPort(smtpAddr)
	require.NoError(t, err)
	cfg := fmt.Sprintf(`sources:
  - path: logs
state: state/state.json
lookback: 24h
ports:
  captures: [captures]
notify:
  realert: 4h
  email:
    host: %s
    port: %s
    tls: none
    from: evtwatch@sbs.example
    to: [admins@sbs.example]
`, host, port)
	require.NoError(t, os.WriteFile(env.config, []byte(cfg), 0o644))
	return env
}

// autd appends an ActiveSync 3015+3024 pair at time at, among an ordinary
// event, on host, and rewrites the log (in place: the same file grown).
func (env *scanEnv) autd(t *testing.T, host string, at time.Time) {
	t.Helper()
	env.add(t,
		evtx.Event{Provider: "Service Control Manager", EventID: 7036, Level: evtx.LevelInformation, Channel: "System", Computer: host, Time: at.Add(-time.Minute),
			Data: []evtx.Data{{Name: "param1", Value: "Print Spooler"}, {Name: "param2", Value: "running"}}},
		evtx.Event{Provider: "Server ActiveSync", EventID: 3015, Level: evtx.LevelError, Channel: "Application", Computer: host, Time: at,
			Data: []evtx.Data{{Value: "0x80004005"}, {Value: "2883"}}},
		evtx.Event{Provider: "Server ActiveSync", EventID: 3024, Level: evtx.LevelError, Channel: "Application", Computer: host, Time: at.Add(2 * time.Second),
			Data: []evtx.Data{{Value: "0x80004005"}}},
	)
}

func (env *scanEnv) add(t *testing.T, evs ...evtx.Event) {
	t.Helper()
	for _, ev := range evs {
		ev.RecordID = uint64(len(env.events) + 1)
		env.events = append(env.events, ev)
	}
	require.NoError(t, evtxtest.WriteEVTXFile(filepath.Join(env.logs, "Application.evtx"), env.events, evtxtest.EVTXOptions{RecordsPerChunk: 16, Corrupt: env.corrupt}))
}

func (env *scanEnv) opts() scanOptions {
	return scanOptions{
		ConfigPath: env.config,
		now:        env.clock.now,
		sleep:      noSleep,
		lookupEnv:  func(string) (string, bool) { return "", false },
		goos:       "linux",
	}
}

// scan runs one scan and returns its exit code and stderr.
func (env *scanEnv) scan(t *testing.T, extra ...func(*scanOptions)) (exitCode, string, string) {
	t.Helper()
	o := env.opts()
	for _, f := range extra {
		f(&o)
	}
	var out, errOut bytes.Buffer
	code, err := scanRun(context.Background(), o, streams{In: &bytes.Buffer{}, Out: &out, Err: &errOut})
	if err != nil {
		fmt.Fprintf(&errOut, "error: %v\n", err)
		code = codeFor(err)
	}
	return code, out.String(), errOut.String()
}

// decodeHeader decodes RFC 2047 encoded words.
func decodeHeader(s string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}
