package rules

import (
	"slices"
	"strings"

	"github.com/evtwatch/evtwatch/evtx"
)

// KeepHeader reports whether any enabled rule could use an event with this
// header: the identity part of a match or corroborate section (channel,
// provider or classic source name, event ID), as Relevant checks on whole
// events. Readers ask it before decoding a record (evtx.Filter.Keep), so a
// rule scan decodes only the records a rule names.
//
// Zero fields are unknown and match anything: KeepHeader is true for every
// header of an event Relevant would keep, so filtering with it never
// changes what an analysis finds.
func (e *Engine) KeepHeader(h evtx.Header) bool {
	for _, r := range e.rules {
		if (r.match != nil && r.match.identifiesHeader(h)) || (r.corroborate != nil && r.corroborate.identifiesHeader(h)) {
			return true
		}
	}
	return false
}

// identifiesHeader is identifies on what a header knows; the event ID is
// checked first as it rules out nearly every record.
func (m *matcher) identifiesHeader(h evtx.Header) bool {
	if h.EventID != 0 && !m.hasID(h.EventID) {
		return false
	}
	if len(m.providers) > 0 && h.Provider != "" && !slices.ContainsFunc(m.providers, func(p string) bool { return providerNameMatches(p, h.Provider, h.Source) }) {
		return false
	}
	if len(m.channels) > 0 && h.Channel != "" && !slices.ContainsFunc(m.channels, func(c string) bool { return strings.EqualFold(c, h.Channel) }) {
		return false
	}
	return true
}

// providerNameMatches is providerMatches on bare names.
func providerNameMatches(pattern, provider, source string) bool {
	if !strings.Contains(pattern, "*") {
		return strings.EqualFold(provider, pattern) || (source != "" && strings.EqualFold(source, pattern))
	}
	return globMatch(pattern, strings.ToLower(provider)) || (source != "" && globMatch(pattern, strings.ToLower(source)))
}

// Skipped counts n events a reader passed over because KeepHeader said no
// rule could use them: they were read, so Events counts them, but they
// cannot take part in any result.
func (a *Analysis) Skipped(n int) { a.events += n }
