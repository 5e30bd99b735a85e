package email

import (
	_ "embed"
	"fmt"
	"html/template"
	"strings"

	"github.com/evtwatch/evtwatch/notify"
)

//go:embed message.html.tmpl
var htmlSource string

// htmlTemplate is parsed once; html/template escapes every value, and the
// values are already free of control characters (notify.View).
var htmlTemplate = template.Must(template.New("html").Funcs(template.FuncMap{
	"lines": func(s string) []string { return strings.Split(s, "\n") },
}).Parse(htmlSource))

type htmlData struct {
	Title  string
	Digest bool
	Alerts []notify.View
}

func renderHTML(alerts []notify.Alert) (string, error) {
	d := htmlData{Title: notify.DigestTitle(alerts), Digest: len(alerts) > 1}
	for i := range alerts {
		d.Alerts = append(d.Alerts, notify.NewView(&alerts[i]))
	}
	var b strings.Builder
	if err := htmlTemplate.Execute(&b, d); err != nil {
		return "", fmt.Errorf("render email HTML: %w", err)
	}
	return b.String(), nil
}
