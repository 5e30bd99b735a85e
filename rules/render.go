package rules

import (
	"strconv"
	"strings"

	"github.com/evtwatch/evtwatch/evtx"
)

// renderMessage formats a message template the way Windows does without
// the message DLLs: %N is insertion string N, %n/%t/%r are newline, tab and
// carriage return, %% is a percent sign, and %%N parameter references (in
// the template or in an insertion string) become the known error text.
func renderMessage(tmpl string, ev *evtx.Event) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 >= len(tmpl) {
			b.WriteByte(c)
			continue
		}
		next := tmpl[i+1]
		switch {
		case next == 'n':
			b.WriteByte('\n')
			i++
		case next == 't':
			b.WriteByte('\t')
			i++
		case next == 'r':
			i++
		case next == '%':
			j := i + 2
			for j < len(tmpl) && tmpl[j] >= '0' && tmpl[j] <= '9' {
				j++
			}
			if j > i+2 {
				b.WriteString(resolveParams(tmpl[i:j]))
				i = j - 1
			} else {
				b.WriteByte('%')
				i++
			}
		case next >= '1' && next <= '9':
			j := i + 1
			for j < len(tmpl) && tmpl[j] >= '0' && tmpl[j] <= '9' {
				j++
			}
			n, _ := strconv.Atoi(tmpl[i+1 : j])
			if v, ok := ev.Insertion(n); ok {
				b.WriteString(resolveParams(v))
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// resolveParams replaces %%N parameter references with the error text
// evtwatch knows, keeping the reference when it does not know it.
func resolveParams(s string) string {
	if !strings.Contains(s, "%%") {
		return s
	}
	return paramRefRe.ReplaceAllStringFunc(s, func(ref string) string {
		code, ok := parseCodeValue(ref)
		if !ok {
			return ref
		}
		if info, ok := knownCodes[code]; ok {
			return info.text
		}
		return ref
	})
}

// eventText is the text message conditions and regexes see: the message
// the input carried, else the rule's template for the event ID rendered,
// else nothing (binary logs hold only insertion strings).
func eventText(ev *evtx.Event, templates map[uint16]string) string {
	if ev.Message != "" {
		return ev.Message
	}
	if t, ok := templates[ev.EventID]; ok {
		return renderMessage(t, ev)
	}
	return ""
}

// describeEvent is a one-line summary of an event for reports.
func describeEvent(ev *evtx.Event, templates map[uint16]string) string {
	text := eventText(ev, templates)
	if text == "" {
		vals := make([]string, 0, len(ev.Data))
		for _, d := range ev.Data {
			v := resolveParams(d.Value)
			if d.Name != "" {
				v = d.Name + "=" + v
			}
			vals = append(vals, strconv.Quote(v))
		}
		text = "insertion strings: " + strings.Join(vals, ", ")
		if len(ev.Data) == 0 {
			text = "no insertion strings"
		}
	}
	return clip(strings.Join(strings.Fields(text), " "), 240)
}
