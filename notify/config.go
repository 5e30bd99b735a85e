package notify

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the notify section of the config file:
//
//	notify:
//	  realert: 4h          # one message per finding and culprit per interval
//	  resolve_after: 2h    # no new events for this long: send "resolved"
//	  digest: false        # true: one message per run listing everything
//	  timeout: 30s         # per delivery attempt
//	  outbox:
//	    max_age: 7d        # undelivered alerts older than this are dropped (and logged)
//	  email: {...}         # see EmailConfig
//	  slack: {...}         # see SlackConfig
//
// Decode it strictly (yaml.v3 Decoder.KnownFields) into DefaultConfig(),
// then call Resolve, which fills defaults, expands ${ENV}, reads *_file
// secrets and validates, reporting every problem at once.
type Config struct {
	Realert      Duration     `yaml:"realert"`
	ResolveAfter Duration     `yaml:"resolve_after"`
	Digest       bool         `yaml:"digest"`
	Timeout      Duration     `yaml:"timeout"`
	Outbox       OutboxConfig `yaml:"outbox"`
	Email        *EmailConfig `yaml:"email,omitempty"`
	Slack        *SlackConfig `yaml:"slack,omitempty"`
}

// OutboxConfig configures the queue of undelivered alerts.
type OutboxConfig struct {
	MaxAge Duration `yaml:"max_age"`
}

// TLS modes for EmailConfig.TLS.
const (
	TLSStartTLS = "starttls" // STARTTLS, mandatory: no fallback to plain text
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, port 465)
	TLSNone     = "none"     // plain text; only when asked for
)

// Auth mechanisms for EmailConfig.Auth.
const (
	AuthAuto    = "auto" // the best of PLAIN, LOGIN, CRAM-MD5 the server offers
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthCRAMMD5 = "cram-md5"
	AuthNone    = "none"
)

// EmailConfig configures the email channel.
type EmailConfig struct {
	Host string `yaml:"host"`
	// Port defaults by TLS mode: 587 (starttls), 465 (tls), 25 (none).
	Port int `yaml:"port,omitempty"`
	// TLS is starttls (default), tls or none.
	TLS string `yaml:"tls,omitempty"`
	// Auth is auto (default when a username is set), plain, login,
	// cram-md5 or none.
	Auth         string   `yaml:"auth,omitempty"`
	Username     string   `yaml:"username,omitempty"`
	Password     Secret   `yaml:"password,omitempty"`
	PasswordFile string   `yaml:"password_file,omitempty"`
	From         string   `yaml:"from"`
	To           []string `yaml:"to"`
	// Subject is a text/template over MessageData; default "{{ .Title }}".
	Subject string `yaml:"subject,omitempty"`
	// CAFile is a PEM bundle to trust instead of the system roots (an
	// internal mail server with its own CA).
	CAFile string `yaml:"ca_file,omitempty"`
	// ServerName is the name expected in the server's certificate when it
	// differs from Host.
	ServerName string `yaml:"server_name,omitempty"`
	// Hello is the name sent in EHLO; default: this machine's host name.
	Hello string `yaml:"hello,omitempty"`

	// RootCAs is CAFile, loaded by Resolve.
	RootCAs *x509.CertPool `yaml:"-"`
}

// SlackConfig configures the Slack channel: an incoming webhook, or a bot
// token and a channel (chat.postMessage).
type SlackConfig struct {
	WebhookURL     Secret `yaml:"webhook_url,omitempty"`
	WebhookURLFile string `yaml:"webhook_url_file,omitempty"`
	Token          Secret `yaml:"token,omitempty"`
	TokenFile      string `yaml:"token_file,omitempty"`
	// Channel is required with a token ("#alerts" or a channel ID); with a
	// webhook it is ignored by Slack (the webhook is bound to its channel).
	Channel string `yaml:"channel,omitempty"`
	// APIURL overrides https://slack.com/api/ (self-hosted gateways, tests).
	APIURL string `yaml:"api_url,omitempty"`
}

// Defaults.
const (
	DefaultRealert      = 4 * time.Hour
	DefaultResolveAfter = 2 * time.Hour
	DefaultTimeout      = 30 * time.Second
	DefaultOutboxMaxAge = 7 * 24 * time.Hour
	DefaultSlackAPIURL  = "https://slack.com/api/"
)

// DefaultConfig is the configuration with every default filled in and no
// channel configured.
func DefaultConfig() Config {
	var c Config
	c.applyDefaults()
	return c
}

// applyDefaults is the one place defaults are set. It fills only what is
// unset, so it works on a freshly decoded config whatever YAML omitted.
func (c *Config) applyDefaults() {
	setDur := func(d *Duration, def time.Duration) {
		if *d == 0 {
			*d = Duration(def)
		}
	}
	setDur(&c.Realert, DefaultRealert)
	setDur(&c.ResolveAfter, DefaultResolveAfter)
	setDur(&c.Timeout, DefaultTimeout)
	setDur(&c.Outbox.MaxAge, DefaultOutboxMaxAge)
	if e := c.Email; e != nil {
		if e.TLS == "" {
			e.TLS = TLSStartTLS
		}
		if e.Port == 0 {
			switch e.TLS {
			case TLSImplicit:
				e.Port = 465
			case TLSNone:
				e.Port = 25
			default:
				e.Port = 587
			}
		}
		if e.Auth == "" {
			e.Auth = AuthNone
			if e.Username != "" || e.Password != "" || e.PasswordFile != "" {
				e.Auth = AuthAuto
			}
		}
	}
	if s := c.Slack; s != nil && s.APIURL == "" {
		s.APIURL = DefaultSlackAPIURL
	}
}

// ParseConfig decodes the body of a notify section strictly (unknown keys
// are errors) and resolves it. Commands decode the whole config file
// themselves and call Resolve; this is for tests and tools.
func ParseConfig(data []byte, baseDir string, lookupEnv func(string) (string, bool)) (Config, error) {
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("decode notify config: %w", err)
	}
	return c, c.Resolve(baseDir, lookupEnv)
}

// Resolve fills defaults, expands ${VAR} in string values, reads the
// *_file secrets (relative paths are taken from baseDir, the config file's
// folder), and validates. It reports every problem at once, each prefixed
// with its key ("notify.email.port: ..."); no message contains a secret.
// lookupEnv is os.LookupEnv outside tests.
func (c *Config) Resolve(baseDir string, lookupEnv func(string) (string, bool)) error {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	c.applyDefaults()
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("notify.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	expand := func(key string, s *string) {
		v, err := expandEnv(*s, lookupEnv)
		if err != nil {
			add(key, "%v", err)
			return
		}
		*s = v
	}
	expandSecret := func(key string, s *Secret) {
		v := string(*s)
		expand(key, &v)
		*s = Secret(v)
	}
	readSecret := func(key string, s *Secret, file *string) {
		expand(key+"_file", file)
		if *s != "" && *file != "" {
			add(key, "set %s or %s_file, not both", lastKey(key), lastKey(key))
			return
		}
		if *file == "" {
			return
		}
		p := *file
		if !filepath.IsAbs(p) && baseDir != "" {
			p = filepath.Join(baseDir, p)
		}
		*file = p // shown as read: relative to the config file's folder, not the working directory
		b, err := readFileLimited(p, 64<<10)
		if err != nil {
			add(key+"_file", "%v", err)
			return
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			add(key+"_file", "%s is empty", p)
			return
		}
		*s = Secret(v)
	}

	for _, d := range []struct {
		key string
		v   Duration
		min time.Duration
	}{
		{"realert", c.Realert, time.Minute},
		{"resolve_after", c.ResolveAfter, time.Minute},
		{"timeout", c.Timeout, time.Second},
		{"outbox.max_age", c.Outbox.MaxAge, time.Minute},
	} {
		if time.Duration(d.v) < d.min {
			add(d.key, "must be at least %s, got %s", HumanDuration(d.min), time.Duration(d.v))
		}
	}

	if e := c.Email; e != nil {
		for _, f := range []struct {
			key string
			p   *string
		}{
			{"email.host", &e.Host}, {"email.tls", &e.TLS}, {"email.auth", &e.Auth},
			{"email.username", &e.Username}, {"email.from", &e.From}, {"email.subject", &e.Subject},
			{"email.ca_file", &e.CAFile}, {"email.server_name", &e.ServerName}, {"email.hello", &e.Hello},
		} {
			expand(f.key, f.p)
		}
		for i := range e.To {
			expand(fmt.Sprintf("email.to[%d]", i), &e.To[i])
		}
		expandSecret("email.password", &e.Password)
		readSecret("email.password", &e.Password, &e.PasswordFile)
		e.TLS = strings.ToLower(e.TLS)
		e.Auth = strings.ToLower(e.Auth)

		if strings.TrimSpace(e.Host) == "" {
			add("email.host", "required")
		} else if strings.ContainsAny(e.Host, " /\r\n") {
			add("email.host", "%q is not a host name", e.Host)
		}
		if e.Port < 1 || e.Port > 65535 {
			add("email.port", "must be 1-65535, got %d", e.Port)
		}
		switch e.TLS {
		case TLSStartTLS, TLSImplicit, TLSNone:
		default:
			add("email.tls", "must be starttls, tls or none, got %q", e.TLS)
		}
		switch e.Auth {
		case AuthNone:
			if e.Username != "" || e.Password != "" {
				add("email.auth", "is none but a username or password is set")
			}
		case AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5:
			if e.Username == "" {
				add("email.username", "required with auth %s", e.Auth)
			}
			if e.Password == "" && e.PasswordFile == "" {
				add("email.password", "required with auth %s (or password_file, or ${ENV})", e.Auth)
			}
			if e.TLS == TLSNone && (e.Auth == AuthPlain || e.Auth == AuthLogin) {
				add("email.auth", "%s over tls: none would send the password in clear; use tls: starttls or tls, or auth: cram-md5", e.Auth)
			}
		default:
			add("email.auth", "must be auto, plain, login, cram-md5 or none, got %q", e.Auth)
		}
		if e.From == "" {
			add("email.from", "required")
		} else if _, err := mail.ParseAddress(e.From); err != nil {
			add("email.from", "%q is not an email address", e.From)
		}
		if len(e.To) == 0 {
			add("email.to", "at least one recipient is required")
		}
		for i, to := range e.To {
			if _, err := mail.ParseAddress(to); err != nil {
				add(fmt.Sprintf("email.to[%d]", i), "%q is not an email address", to)
			}
		}
		if t, err := ParseSubject(e.Subject); err != nil {
			add("email.subject", "%v", err)
		} else if _, err := Subject(t, []Alert{SampleAlert(time.Unix(0, 0))}); err != nil {
			add("email.subject", "%v", err)
		}
		if e.CAFile != "" {
			p := e.CAFile
			if !filepath.IsAbs(p) && baseDir != "" {
				p = filepath.Join(baseDir, p)
			}
			e.CAFile = p
			pem, err := readFileLimited(p, 4<<20)
			switch {
			case err != nil:
				add("email.ca_file", "%v", err)
			default:
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					add("email.ca_file", "%s holds no PEM certificate", p)
				} else {
					e.RootCAs = pool
				}
			}
		}
	}

	if s := c.Slack; s != nil {
		expand("slack.channel", &s.Channel)
		expand("slack.api_url", &s.APIURL)
		expandSecret("slack.webhook_url", &s.WebhookURL)
		expandSecret("slack.token", &s.Token)
		readSecret("slack.webhook_url", &s.WebhookURL, &s.WebhookURLFile)
		readSecret("slack.token", &s.Token, &s.TokenFile)
		hasHook := s.WebhookURL != "" || s.WebhookURLFile != ""
		hasToken := s.Token != "" || s.TokenFile != ""
		switch {
		case hasHook && hasToken:
			add("slack", "set webhook_url or token, not both")
		case !hasHook && !hasToken:
			add("slack", "set webhook_url (incoming webhook) or token and channel (chat.postMessage)")
		case hasToken && strings.TrimSpace(s.Channel) == "":
			add("slack.channel", "required with a token")
		}
		if s.WebhookURL != "" {
			// Never echo the URL: it is the credential.
			if u, err := url.Parse(s.WebhookURL.Reveal()); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				add("slack.webhook_url", "is not an http(s) URL")
			}
		}
		if u, err := url.Parse(s.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("slack.api_url", "%q is not an http(s) URL", s.APIURL)
		} else if !strings.HasSuffix(s.APIURL, "/") {
			s.APIURL += "/"
		}
	}
	return errors.Join(errs...)
}

// readFileLimited reads a small file (a secret, a CA bundle) and refuses
// anything larger than limit, so a mistyped path such as a device cannot
// hang or exhaust the process. The error names the file, never its content.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, limit)
	}
	return b, nil
}

func lastKey(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}

var envRef = regexp.MustCompile(`\$\$|\$\{[^}]*\}?`)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandEnv replaces ${NAME} with the variable's value; "$$" is a literal
// "$". An unset variable is an error (a silently empty password only fails
// later and more obscurely). The error names the variable, never a value.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var errs []error
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if !strings.HasSuffix(m, "}") {
			errs = append(errs, errors.New("unterminated ${ in value"))
			return m
		}
		name := m[2 : len(m)-1]
		if !envName.MatchString(name) {
			errs = append(errs, fmt.Errorf("${%s}: not a variable name", name))
			return m
		}
		v, ok := lookup(name)
		if !ok {
			errs = append(errs, fmt.Errorf("environment variable %s is not set", name))
			return m
		}
		return v
	})
	return out, errors.Join(errs...)
}

// String is the config as YAML with every secret shown as <secret>.
func (c Config) String() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(b)
}

// Channels lists the configured channels' names.
func (c *Config) Channels() []string {
	var out []string
	if c.Email != nil {
		out = append(out, "email")
	}
	if c.Slack != nil {
		out = append(out, "slack")
	}
	return out
}

// Duration is a time.Duration in YAML that also accepts days ("7d",
// "1d12h") and prints in the shortest form ("4h", "7d").
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

var dayPrefix = regexp.MustCompile(`^(\d+)d`)

// ParseDuration parses Go durations plus a leading day count ("7d", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if m := dayPrefix.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 10000 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[len(m[0]):]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 90s, 30m, 4h, 7d)", s)
	}
	return days + d, nil
}

// UnmarshalYAML parses "4h", "7d", "90s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!int" || n.Tag == "!!float" {
		return fmt.Errorf("line %d: want a duration with a unit (e.g. 4h, 7d), got %q", n.Line, n.Value)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML prints the shortest form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d Duration) String() string {
	t := time.Duration(d)
	if t > 0 && t%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", t/(24*time.Hour))
	}
	s := t.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
