package rules

import (
	"slices"
	"strings"
)

// template is text with {placeholders}. Only names made of letters,
// digits, '.' and '_' inside single braces are placeholders, so GUIDs and
// JSON in advice text stay as written; "{{" is a literal brace.
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	text string
	name string // placeholder when set
}

func parseTemplate(s string, allowed []string) (template, []string) {
	var t template
	var bad []string
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '{' && i+1 < len(s) && s[i+1] == '{' {
			lit.WriteByte('{')
			i++
			continue
		}
		if s[i] == '{' {
			j := i + 1
			for j < len(s) && isPlaceholderByte(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '}' && j > i+1 {
				name := s[i+1 : j]
				if !slices.Contains(allowed, name) && !(slices.Contains(allowed, "data.*") && strings.HasPrefix(name, "data.") && len(name) > len("data.")) {
					bad = append(bad, name)
				}
				if lit.Len() > 0 {
					t.parts = append(t.parts, tmplPart{text: lit.String()})
					lit.Reset()
				}
				t.parts = append(t.parts, tmplPart{name: name})
				i = j
				continue
			}
		}
		lit.WriteByte(s[i])
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, tmplPart{text: lit.String()})
	}
	return t, bad
}

func isPlaceholderByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_'
}

func (t template) empty() bool { return len(t.parts) == 0 }

// render fills the placeholders from vals; a missing value renders as
// "unknown" so advice never shows a raw {placeholder}.
func (t template) render(vals map[string]string) string {
	return t.renderOr(vals, "unknown")
}

// renderOr is render with def for missing values.
func (t template) renderOr(vals map[string]string, def string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.text)
			continue
		}
		v, ok := vals[p.name]
		if !ok || v == "" {
			v = def
		}
		b.WriteString(v)
	}
	return b.String()
}
