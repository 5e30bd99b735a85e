package email_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// testServer is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 with STARTTLS on a certificate made for the test, AUTH PLAIN,
// LOGIN and CRAM-MD5, and hooks to misbehave.
type testServer struct {
	host   string
	port   int
	caFile string // PEM of the server's self-signed certificate

	mu       sync.Mutex
	received []received
	sessions int

	// Hooks; nil means accept.
	onSession func(c *smtp.Conn) error
	onRcpt    func(to string) error
	onData    func(c *smtp.Conn) error

	users map[string]string
	mechs []string
}

type received struct {
	From string
	To   []string
	Data string
	User string
	Mech string
	TLS  bool // the transaction ran over TLS
}

type serverOptions struct {
	noTLS       bool // no STARTTLS offered
	implicitTLS bool // TLS from the first byte
	insecure    bool // AUTH allowed without TLS
}

func newTestServer(t *testing.T, o serverOptions) *testServer {
	t.Helper()
	s := &testServer{
		host:  "127.0.0.1",
		users: map[string]string{"alerts@example.com": "s3cr3t-SMTP-pa55"},
		mechs: []string{"PLAIN", "LOGIN", "CRAM-MD5"},
	}
	cert, pemBytes := selfSignedCert(t)
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(s.caFile, pemBytes, 0o600))
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		hook := s.onSession
		s.mu.Unlock()
		if hook != nil {
			if err := hook(c); err != nil {
				return nil, err
			}
		}
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = o.insecure
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	switch {
	case o.implicitTLS:
		ln = tls.NewListener(ln, tlsConfig)
	case !o.noTLS:
		srv.TLSConfig = tlsConfig
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

func (s *testServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

func (s *testServer) portString() string { return strconv.Itoa(s.port) }

// selfSignedCert makes an ECDSA certificate for 127.0.0.1 and localhost
// that is its own CA.
func selfSignedCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "evtwatch test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

type session struct {
	s    *testServer
	conn *smtp.Conn
	user string
	mech string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return ss.s.mechs }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := ss.s.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	ss.mech = mech
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case "LOGIN":
		return &loginServer{check: check}, nil
	case "CRAM-MD5":
		return &cramMD5Server{users: ss.s.users, done: func(u string) { ss.user = u }}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.onRcpt != nil {
		if err := ss.s.onRcpt(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if ss.s.onData != nil {
		if err := ss.s.onData(ss.conn); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.received = append(ss.s.received, received{From: ss.from, To: ss.to, Data: string(b), User: ss.user, Mech: ss.mech, TLS: isTLS})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (go-sasl has only the
// client).
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(resp) > 0 { // initial response carries the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.step++
		l.user = string(resp)
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected LOGIN response")
}

// cramMD5Server is the server side of AUTH CRAM-MD5 (RFC 2195).
type cramMD5Server struct {
	users     map[string]string
	done      func(user string)
	challenge []byte
}

func (c *cramMD5Server) Next(resp []byte) ([]byte, bool, error) {
	if c.challenge == nil {
		c.challenge = []byte("<1896.697170952@mx.test>")
		return c.challenge, false, nil
	}
	user, digest, ok := strings.Cut(string(resp), " ")
	pass, known := c.users[user]
	if !ok || !known {
		return nil, false, smtp.ErrAuthFailed
	}
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write(c.challenge)
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(digest)) {
		return nil, false, smtp.ErrAuthFailed
	}
	c.done(user)
	return nil, true, nil
}
