package notify

import (
	"fmt"
	"strings"
)

// RenderText is the plain-text message for alerts: one alert in full, or
// a digest with a summary line and each alert in turn. The email text
// part and the console use it. The result holds no control characters
// other than newlines.
func RenderText(alerts []Alert) string {
	var b strings.Builder
	if len(alerts) > 1 {
		fmt.Fprintf(&b, "%s\n\n", DigestTitle(alerts))
	}
	for i := range alerts {
		if i > 0 {
			b.WriteString("\n" + strings.Repeat("-", 72) + "\n\n")
		}
		writeTextAlert(&b, NewView(&alerts[i]))
	}
	b.WriteString("\n-- \nevtwatch: port-conflict alerts for Windows services\n")
	return b.String()
}

func writeTextAlert(b *strings.Builder, v View) {
	b.WriteString(v.Title + "\n\n")
	row := func(label, value string) {
		if value != "" {
			fmt.Fprintf(b, "%-14s %s\n", label+":", value)
		}
	}
	if v.Status == StatusResolved {
		row("Resolved", v.Resolution)
	}
	row("What failed", v.What(func(ep string) string { return ep }))
	row("How often", v.Failures)
	row("Verdict", v.Verdict)
	row("Repeats", v.Suppressed)
	if c := v.Culprit; c != nil {
		if v.Status == StatusResolved {
			b.WriteString("\nCulprit (when alerted)\n")
		} else {
			b.WriteString("\nCulprit\n")
		}
		row("  Process", c.Label)
		row("  Path", c.Path)
		row("  Started", c.Started)
		row("  Services", c.Services)
		row("  Ports held", c.PortsHeld)
	}
	if v.Advice != "" && v.Status != StatusResolved {
		b.WriteString("\nWhat to do\n")
		for _, l := range strings.Split(v.Advice, "\n") {
			if strings.TrimSpace(l) == "" {
				b.WriteString("\n") // no trailing blanks on a paragraph break
				continue
			}
			b.WriteString("  " + l + "\n")
		}
	}
	if len(v.Evidence) > 0 {
		fmt.Fprintf(b, "\nEvidence (latest %d", len(v.Evidence))
		if v.EvidenceMore > 0 {
			fmt.Fprintf(b, "; %d more not shown", v.EvidenceMore)
		}
		b.WriteString(")\n")
		for _, l := range v.Evidence {
			b.WriteString("  " + l + "\n")
		}
	}
	b.WriteString("\n" + v.Footer() + "\n")
}

// Footer is the line that ties a message to its incident: alert ID, rule,
// when it was first alerted and which port table the verdict came from.
func (v View) Footer() string {
	parts := []string{"alert " + v.ID}
	if v.Test {
		parts = []string{"test message from evtwatch notify test: nothing is wrong"}
	}
	if v.Rule != "" {
		parts = append(parts, "rule "+v.Rule)
	}
	if v.FirstNotified != "" {
		parts = append(parts, "first alerted "+v.FirstNotified)
	}
	if v.Snapshot != "" {
		parts = append(parts, v.Snapshot)
	}
	return strings.Join(parts, " · ")
}
