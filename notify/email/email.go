package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"text/template"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/evtwatch/evtwatch/notify"
)

// Notifier sends alerts by email.
type Notifier struct {
	cfg     notify.EmailConfig
	logger  *slog.Logger
	subject *template.Template
	now     func() time.Time
	hello   string
	domain  string // for Message-IDs: the From address's domain
}

var (
	_ notify.Notifier  = (*Notifier)(nil)
	_ notify.Previewer = (*Notifier)(nil)
)

// Option configures a Notifier.
type Option func(*Notifier)

// WithClock sets the clock used for the Date header.
func WithClock(now func() time.Time) Option {
	return func(n *Notifier) { n.now = now }
}

// New returns an email notifier for a resolved config (notify.Config.Resolve).
func New(cfg *notify.EmailConfig, logger *slog.Logger, opts ...Option) (*Notifier, error) {
	if cfg == nil {
		return nil, errors.New("new email notifier: no email config")
	}
	subject, err := notify.ParseSubject(cfg.Subject)
	if err != nil {
		return nil, fmt.Errorf("new email notifier: %w", err)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("new email notifier: from %q: %w", cfg.From, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: *cfg, logger: logger, subject: subject, now: time.Now, hello: cfg.Hello}
	n.domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	if n.hello == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			n.hello = h
		} else {
			n.hello = "localhost"
		}
	}
	for _, o := range opts {
		o(n)
	}
	return n, nil
}

// messageID names a message so that resending the same alert reuses it
// (receivers can de-duplicate) and reminders and the resolved notice can
// point back at the first message of their incident.
func (n *Notifier) messageID(alerts []notify.Alert) string {
	if len(alerts) == 1 {
		a := alerts[0]
		return fmt.Sprintf("evtwatch.%s.%d.%s@%s", a.ID, a.Sequence, a.Status, n.domain)
	}
	h := sha256.New()
	for _, a := range alerts {
		fmt.Fprintf(h, "%s.%d.%s|", a.ID, a.Sequence, a.Status)
	}
	return fmt.Sprintf("evtwatch.digest.%s@%s", hex.EncodeToString(h.Sum(nil)[:8]), n.domain)
}

func (n *Notifier) firstMessageID(a notify.Alert) string {
	return fmt.Sprintf("<evtwatch.%s.0.%s@%s>", a.ID, notify.StatusFiring, n.domain)
}

// Message builds the message for alerts: one alert, or a digest.
func (n *Notifier) Message(alerts ...notify.Alert) (*gomail.Msg, error) {
	if len(alerts) == 0 {
		return nil, errors.New("build email: no alerts")
	}
	subject, err := notify.Subject(n.subject, alerts)
	if err != nil {
		return nil, err
	}
	htmlBody, err := renderHTML(alerts)
	if err != nil {
		return nil, err
	}
	id := n.messageID(alerts)
	sum := sha256.Sum256([]byte(id))
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithBoundary("evtwatch-"+hex.EncodeToString(sum[:12])))
	if err := m.From(n.cfg.From); err != nil {
		return nil, fmt.Errorf("build email: from: %w", err)
	}
	if err := m.To(n.cfg.To...); err != nil {
		return nil, fmt.Errorf("build email: to: %w", err)
	}
	m.Subject(subject)
	m.SetDateWithValue(n.now())
	m.SetMessageIDWithValue(id)
	if len(alerts) == 1 && (alerts[0].Sequence > 0 || alerts[0].Status == notify.StatusResolved) {
		first := n.firstMessageID(alerts[0])
		m.SetGenHeader(gomail.HeaderInReplyTo, first)
		m.SetGenHeader(gomail.HeaderReferences, first)
	}
	m.SetGenHeader(gomail.HeaderUserAgent, "evtwatch")
	// RFC 3834: tells autoresponders (out-of-office) not to answer.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	ids := make([]string, 0, len(alerts))
	for _, a := range alerts {
		ids = append(ids, a.ID)
	}
	m.SetGenHeader("X-Evtwatch-Alert", strings.Join(ids, ", "))
	m.SetBodyString(gomail.TypeTextPlain, notify.RenderText(alerts))
	m.AddAlternativeString(gomail.TypeTextHTML, htmlBody)
	return m, nil
}

// Preview returns the message exactly as it would be sent.
func (n *Notifier) Preview(alerts ...notify.Alert) ([]byte, error) {
	m, err := n.Message(alerts...)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("render email: %w", err)
	}
	return b.Bytes(), nil
}

// Notify sends one message for alerts to every recipient.
func (n *Notifier) Notify(ctx context.Context, alerts ...notify.Alert) (bool, error) {
	m, err := n.Message(alerts...)
	if err != nil {
		return false, err
	}
	// go-mail bounds each command by its own timeout, not by ctx; so the
	// connection is closed when ctx ends, which unblocks any read or write.
	sendCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	client, err := n.client(sendCtx)
	if err != nil {
		return false, n.wrap(err)
	}
	err = client.DialAndSendWithContext(sendCtx, m)
	if err == nil {
		return false, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return true, n.wrap(fmt.Errorf("%w (%v)", ctxErr, err))
	}
	return Retryable(err), n.wrap(err)
}

func (n *Notifier) wrap(err error) error {
	return notify.RedactError(fmt.Errorf("send email via %s: %w", net.JoinHostPort(n.cfg.Host, strconv.Itoa(n.cfg.Port)), err), n.cfg.Password.Reveal())
}

func (n *Notifier) client(ctx context.Context) (*gomail.Client, error) {
	tlsConfig := &tls.Config{
		ServerName: n.cfg.ServerName,
		RootCAs:    n.cfg.RootCAs,
		MinVersion: tls.VersionTLS12,
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = n.cfg.Host
	}
	// go-mail's own per-command timeout is set a little past the context's
	// deadline, so the context always ends first and the error says so.
	timeout := notify.DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), 0) + time.Second
	}
	implicit := n.cfg.TLS == notify.TLSImplicit
	dial := func(_ context.Context, network, addr string) (net.Conn, error) {
		// Dial on the send context, not the per-dial one go-mail passes
		// (it is cancelled as soon as the greeting is read).
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if implicit {
			conn, err = (&tls.Dialer{NetDialer: d, Config: tlsConfig}).DialContext(ctx, network, addr)
		} else {
			conn, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(n.cfg.Port),
		gomail.WithTimeout(timeout),
		gomail.WithHELO(n.hello),
		gomail.WithTLSConfig(tlsConfig),
		gomail.WithDialContextFunc(dial),
	}
	switch n.cfg.TLS {
	case notify.TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case notify.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	switch n.cfg.Auth {
	case notify.AuthPlain:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain))
	case notify.AuthLogin:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthLogin))
	case notify.AuthCRAMMD5:
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthCramMD5))
	case notify.AuthAuto:
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin, gomail.SMTPAuthCramMD5))
	}
	if n.cfg.Auth != notify.AuthNone && n.cfg.Auth != "" {
		opts = append(opts, gomail.WithUsername(n.cfg.Username), gomail.WithPassword(n.cfg.Password.Reveal()))
	}
	c, err := gomail.NewClient(n.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("set up SMTP client: %w", err)
	}
	return c, nil
}

// Retryable classifies a go-mail error: SMTP 4xx replies (go-mail's
// SendError.IsTemp) and network failures may pass; SMTP 5xx replies,
// certificate problems and missing server features need a person.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() {
			return true
		}
		if code := se.ErrorCode(); code >= 500 {
			return false
		}
		// No reply code: the connection broke mid-transaction.
		return true
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code < 500
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) || errors.As(err, &verifyErr) {
		return false
	}
	for _, perm := range []error{
		gosmtp.ErrUnencrypted, gosmtp.ErrWrongHostname,
		gomail.ErrPlainAuthNotSupported, gomail.ErrLoginAuthNotSupported,
		gomail.ErrCramMD5AuthNotSupported, gomail.ErrNoSupportedAuthDiscovered,
	} {
		if errors.Is(err, perm) {
			return false
		}
	}
	msg := err.Error()
	if strings.Contains(msg, "does not support STARTTLS") || strings.Contains(msg, "does not support SMTP AUTH") {
		return false
	}
	return true
}
