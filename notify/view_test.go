package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/rules"
)

// titleOnly is what the built-in ActiveSync rule produces: no service
// name, a title that already says what fails.
func titleOnly() notify.Alert {
	a := notify.SampleAlert(time.Date(2024, 3, 5, 14, 10, 0, 0, time.UTC))
	a.Finding.Service = ""
	a.Finding.Advice = "Reserve the port.\n\nThen run iisreset."
	return a
}

func TestViewWhatFailed(t *testing.T) {
	v := notify.NewView(ptr(notify.SampleAlert(time.Now())))
	require.Equal(t, "ActiveSync on SBSHQ01 needs udp/2883", v.What(func(s string) string { return s }))

	v = notify.NewView(ptr(titleOnly()))
	require.True(t, v.ServiceIsTitle)
	require.Equal(t, "Exchange ActiveSync AUTD cannot bind its UDP port on SBSHQ01 (udp/2883)", v.What(func(s string) string { return s }))

	text := notify.RenderText([]notify.Alert{titleOnly()})
	require.Contains(t, text, "What failed:   Exchange ActiveSync AUTD cannot bind its UDP port on SBSHQ01 (udp/2883)\n")
	require.NotContains(t, text, "port needs", "a title is not followed by 'needs'")
	require.Contains(t, text, "  Reserve the port.\n\n  Then run iisreset.\n", "a paragraph break has no trailing blanks")
	for _, l := range strings.Split(text, "\n") {
		if l == "-- " {
			continue // the signature delimiter keeps its blank (RFC 3676)
		}
		require.Equal(t, strings.TrimRight(l, " "), l, "trailing blanks in %q", l)
	}
}

func TestViewVerdictCarriesTheNote(t *testing.T) {
	a := notify.SampleAlert(time.Now())
	a.Finding.Verdict, a.Finding.Culprit, a.Finding.Snapshot = rules.VerdictUnknown, nil, nil
	a.Finding.Note = "the port table is from VM01, not SBSHQ01"
	v := notify.NewView(&a)
	require.Equal(t, "port owner unknown (the port table is from VM01, not SBSHQ01)", v.Verdict)
	require.Contains(t, notify.RenderText([]notify.Alert{a}), "Verdict:       port owner unknown (the port table is from VM01, not SBSHQ01)")
}

func ptr[T any](v T) *T { return &v }
