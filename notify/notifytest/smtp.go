package notifytest

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// User and Password are the account the SMTP server accepts.
const (
	User     = "alerts@example.com"
	Password = "s3cr3t-SMTP-pa55"
)

// SMTPServer is a real SMTP server on 127.0.0.1.
type SMTPServer struct {
	Host   string // "127.0.0.1"
	Port   int
	CAFile string // PEM of the server's self-signed certificate, to trust it

	mu       sync.Mutex
	messages []SMTPMessage
	sessions int
	hooks    SMTPHooks
	users    map[string]string
	mechs    []string
}

// SMTPHooks make the server misbehave. A nil hook accepts.
type SMTPHooks struct {
	// OnSession runs at EHLO (go-smtp creates the session there); an
	// *smtp.SMTPError is answered as is (e.g. 421).
	OnSession func(c *smtp.Conn) error
	// OnRcpt runs for each RCPT TO.
	OnRcpt func(to string) error
	// OnData runs before the message is read; it may block (slow server)
	// or close c.Conn() (dropped connection).
	OnData func(c *smtp.Conn) error
}

// SMTPMessage is one accepted message.
type SMTPMessage struct {
	From string
	To   []string
	Data string
	User string // authenticated user, "" without AUTH
	Mech string // AUTH mechanism used
	TLS  bool   // the transaction ran over TLS
}

// SMTPOptions shape the server.
type SMTPOptions struct {
	NoTLS       bool // no STARTTLS offered
	ImplicitTLS bool // TLS from the first byte (SMTPS)
	Insecure    bool // AUTH allowed without TLS
	// Listener, if set, is served instead of a new 127.0.0.1:0 listener
	// (to bring a server up on a port a client already has configured).
	Listener net.Listener
}

// NewSMTPServer starts a server that stops when the test ends.
func NewSMTPServer(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{
		Host:  "127.0.0.1",
		users: map[string]string{User: Password},
		mechs: []string{"PLAIN", "LOGIN", "CRAM-MD5"},
	}
	cert, pemBytes := selfSignedCert(t)
	s.CAFile = filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(s.CAFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		hook := s.hooks.OnSession
		s.mu.Unlock()
		if hook != nil {
			if err := hook(c); err != nil {
				return nil, err
			}
		}
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = o.Insecure
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case o.ImplicitTLS:
		ln = tls.NewListener(ln, tlsConfig)
	case !o.NoTLS:
		srv.TLSConfig = tlsConfig
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		// Serve may not have registered the listener yet when a test ends
		// without connecting (go-smtp's Close then misses it).
		ln.Close()
		<-done
	})
	return s
}

// SetHooks replaces the hooks.
func (s *SMTPServer) SetHooks(h SMTPHooks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = h
}

func (s *SMTPServer) getHooks() SMTPHooks {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hooks
}

// Messages returns the messages accepted so far.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.messages...)
}

// selfSignedCert makes an ECDSA certificate for 127.0.0.1 and localhost
// that is its own CA.
func selfSignedCert(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "evtwatch test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

type session struct {
	s    *SMTPServer
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
	if h := ss.s.getHooks().OnRcpt; h != nil {
		if err := h(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	if h := ss.s.getHooks().OnData; h != nil {
		if err := h(ss.conn); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, SMTPMessage{From: ss.from, To: ss.to, Data: string(b), User: ss.user, Mech: ss.mech, TLS: isTLS})
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
		if len(resp) > 0 { // an initial response carries the user name
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
