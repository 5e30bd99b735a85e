package notify

import (
	"bytes"
	"fmt"
	"text/template"
)

// MessageData is what a subject template sees: the alerts of one message
// and ready-made summaries of them.
type MessageData struct {
	Alerts []Alert
	// Title is the alert's title, or the digest's summary line when the
	// message carries several alerts.
	Title    string
	Host     string // the first alert's host
	Rule     string // the first alert's rule
	Culprit  string // the first alert's culprit label, "" when none
	Endpoint string // the first alert's "udp/2883"
	Firing   int
	Resolved int
}

// NewMessageData summarises alerts for templates.
func NewMessageData(alerts []Alert) MessageData {
	d := MessageData{Alerts: alerts}
	if len(alerts) == 0 {
		return d
	}
	d.Title = DigestTitle(alerts)
	f := &alerts[0].Finding
	d.Host = SingleLine(f.Host)
	d.Rule = SingleLine(f.Rule)
	d.Culprit = CulpritLabel(f.Culprit)
	d.Endpoint = Endpoint(f)
	for _, a := range alerts {
		if a.Status == StatusResolved {
			d.Resolved++
		} else {
			d.Firing++
		}
	}
	return d
}

// DefaultSubject is the subject template used when none is configured.
const DefaultSubject = "{{ .Title }}"

// ParseSubject parses a subject template. Unknown fields are errors when
// the template runs, and Config validation runs it on a sample alert, so
// a typo is caught when the config is loaded, not when a real alert fires.
func ParseSubject(text string) (*template.Template, error) {
	if text == "" {
		text = DefaultSubject
	}
	t, err := template.New("subject").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse subject template: %w", err)
	}
	return t, nil
}

// Subject renders a subject for alerts: the template's output made safe
// for a mail header (one line, no control characters) and at most 250
// characters.
func Subject(t *template.Template, alerts []Alert) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, NewMessageData(alerts)); err != nil {
		return "", fmt.Errorf("render subject: %w", err)
	}
	return Truncate(HeaderValue(b.String()), 250), nil
}
