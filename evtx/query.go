package evtx

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query selects events from one live channel. It builds the structured XML
// query (QueryList) that EvtQuery and EvtSubscribe take; see
// https://learn.microsoft.com/windows/win32/wes/consuming-events for the
// XPath 1.0 subset the Event Log service accepts.
//
// A Query is a pre-filter that spares rendering events nobody wants; it is
// not the last word. When a condition cannot be expressed within the
// service's limits (more than maxQueryClauses comparisons make EvtQuery
// fail with ERROR_EVT_INVALID_QUERY on some Windows builds), it is left out
// and the caller's own filtering (the rule engine) decides.
type Query struct {
	// Channel is the log to read ("System", "Application",
	// "Microsoft-Windows-DNSServer/Audit").
	Channel string
	// EventIDs, Providers and Levels narrow the selection; empty means any.
	EventIDs []uint16
	// Providers match either the provider name or the classic event source
	// name, as rules may use either form.
	Providers []string
	Levels    []Level
	// AfterRecordID selects only records with a higher EventRecordID
	// (resuming after a known record). 0 means no bound.
	AfterRecordID uint64
	// Since selects only events created at or after this time (the first
	// run's look-back). Zero means no bound.
	Since time.Time
}

// maxQueryClauses is how many comparisons we put in one query's XPath.
// Windows documents no number for a structured query; Winlogbeat measured
// 22 and later found situations where 21 fail, so stay below both.
const maxQueryClauses = 20

// errNoChannel is returned for a Query without a channel.
var errNoChannel = errors.New("query has no channel")

// XPath returns the Select expression: "*" when nothing narrows the query,
// else "*[System[...]]". The comparisons stay within maxQueryClauses in all:
// the bounds always count; providers (two comparisons each), then event IDs,
// then levels are added only while they fit, and a narrowing left out is
// left to the caller's own filtering.
func (q Query) XPath() (string, error) {
	var conds []string
	budget := maxQueryClauses
	if q.AfterRecordID > 0 {
		budget--
	}
	if !q.Since.IsZero() {
		budget--
	}
	if len(q.Providers) > 0 {
		var alts []string
		for _, p := range q.Providers {
			lit, err := xpathLiteral(p)
			if err != nil {
				return "", fmt.Errorf("provider %q: %w", p, err)
			}
			alts = append(alts, "@Name="+lit, "@EventSourceName="+lit)
		}
		if len(alts) <= budget {
			conds = append(conds, "Provider["+strings.Join(alts, " or ")+"]")
			budget -= len(alts)
		}
	}
	if ids, n := eventIDClauses(q.EventIDs); ids != "" && n <= budget {
		conds = append(conds, ids)
		budget -= n
	}
	if len(q.Levels) > 0 {
		levels := slices.Clone(q.Levels)
		slices.Sort(levels)
		levels = slices.Compact(levels)
		var alts []string
		for _, l := range levels {
			alts = append(alts, "Level="+strconv.Itoa(int(l)))
		}
		if len(alts) <= budget {
			conds = append(conds, group(alts))
		}
	}
	if q.AfterRecordID > 0 {
		conds = append(conds, "EventRecordID>"+strconv.FormatUint(q.AfterRecordID, 10))
	}
	if !q.Since.IsZero() {
		conds = append(conds, "TimeCreated[@SystemTime>='"+q.Since.UTC().Format("2006-01-02T15:04:05.000Z")+"']")
	}
	if len(conds) == 0 {
		return "*", nil
	}
	return "*[System[" + strings.Join(conds, " and ") + "]]", nil
}

// Bounds is the query without its narrowing conditions (providers, event
// IDs, levels): only the channel and the position bounds. Live readers fall
// back to it when the service rejects the full query (ERROR_EVT_INVALID_QUERY,
// ERROR_EVT_FILTER_TOO_COMPLEX): the narrowing is only a pre-filter, while
// dropping a bound would re-read old events or read the whole log.
func (q Query) Bounds() Query {
	return Query{Channel: q.Channel, AfterRecordID: q.AfterRecordID, Since: q.Since}
}

// narrowed reports whether Bounds drops anything.
func (q Query) narrowed() bool {
	return len(q.EventIDs) > 0 || len(q.Providers) > 0 || len(q.Levels) > 0
}

// QueryList returns the structured XML query for the channel. Live readers
// pass this form, not the bare XPath: Microsoft's "Consuming Events" page
// requires a structured query when the XPath is a compound of more than 20
// expressions (XPath keeps to maxQueryClauses comparisons, but the service
// may count the and/or structure too).
func (q Query) QueryList() (string, error) {
	if strings.TrimSpace(q.Channel) == "" {
		return "", errNoChannel
	}
	xp, err := q.XPath()
	if err != nil {
		return "", err
	}
	return "<QueryList><Query Id='0' Path='" + escapeQueryAttr(q.Channel) + "'><Select Path='" +
		escapeQueryAttr(q.Channel) + "'>" + escapeQueryText(xp) + "</Select></Query></QueryList>", nil
}

// eventIDClauses collapses IDs into single comparisons and ranges (a run of
// three or more consecutive IDs becomes one range of two comparisons) and
// returns the condition with its number of comparisons.
func eventIDClauses(ids []uint16) (string, int) {
	if len(ids) == 0 {
		return "", 0
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var alts []string
	clauses := 0
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if j-i >= 2 {
			alts = append(alts, fmt.Sprintf("(EventID>=%d and EventID<=%d)", sorted[i], sorted[j]))
			clauses += 2
		} else {
			for k := i; k <= j; k++ {
				alts = append(alts, "EventID="+strconv.Itoa(int(sorted[k])))
				clauses++
			}
		}
		i = j + 1
	}
	return group(alts), clauses
}

func group(alts []string) string {
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, " or ") + ")"
}

// xpathLiteral quotes s as an XPath 1.0 string literal, which has no escape
// sequences: it can contain one kind of quote but not both.
func xpathLiteral(s string) (string, error) {
	switch {
	case !strings.Contains(s, "'"):
		return "'" + s + "'", nil
	case !strings.Contains(s, `"`):
		return `"` + s + `"`, nil
	}
	return "", errors.New("contains both quote characters, which XPath 1.0 cannot express")
}

var queryTextEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeQueryText escapes XPath for an XML text node.
func escapeQueryText(s string) string { return queryTextEscaper.Replace(s) }

var queryAttrEscaper = strings.NewReplacer(
	"&", "&amp;",
	"<", "&lt;",
	">", "&gt;",
	"'", "&apos;",
	`"`, "&quot;",
	"\r", "&#xD;",
	"\n", "&#xA;",
	"\t", "&#x9;",
)

// escapeQueryAttr escapes a value for a quoted XML attribute.
func escapeQueryAttr(s string) string { return queryAttrEscaper.Replace(s) }
