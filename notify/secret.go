package notify

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Secret is a credential (SMTP password, Slack token, webhook URL). Every
// way of printing it — fmt verbs, slog, YAML and JSON — gives "<secret>";
// only Reveal returns the value, and only the code that sends uses it.
type Secret string

const redacted = "<secret>"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "<secret>", or "" when unset.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `notify.Secret("` + s.String() + `")` }

// Format makes every fmt verb (%s, %v, %q, %x, ...) print "<secret>".
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue keeps slog from logging the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML writes "<secret>".
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON writes "<secret>".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
