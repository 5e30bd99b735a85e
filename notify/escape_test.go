package notify_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/rules"
)

// attacker is event text as someone who can write to the event log would
// shape it.
const attacker = "<!channel> <!here|here> <@U024BE7LH> <#C024BE7LR> <https://evil.example/x|click me> " +
	"@channel @Here &amp; a&b <b>bold</b> <script>alert(1)</script>\r\nBcc: victim@example.com\n" +
	"\x1b]0;pwned\x07\x1b[31mred\x1b[0m \u202egnp.exe\u202c `code` ```block```\x00end"

func TestEscapeMrkdwn(t *testing.T) {
	got := notify.EscapeMrkdwn(attacker)
	for _, bad := range []string{"<!", "<@", "<#", "<http", "@channel", "@Here", "\x1b", "\x07", "\x00", "\u202e", "<b>", "<script"} {
		require.NotContains(t, got, bad)
	}
	require.Contains(t, got, "&lt;!channel&gt;")
	require.Contains(t, got, "&lt;https://evil.example/x|click me&gt;")
	require.Contains(t, got, "&amp;amp;", "an existing entity is escaped again, so it prints as typed")
	require.Contains(t, got, "a&amp;b")
	require.Contains(t, got, "@\u2060channel")

	code := notify.MrkdwnCode(attacker)
	require.NotContains(t, code, "`", "a backtick would close the code span")
	require.NotContains(t, code, "<!")
}

func TestHeaderValue(t *testing.T) {
	got := notify.HeaderValue(attacker)
	require.NotContains(t, got, "\r")
	require.NotContains(t, got, "\n")
	require.NotContains(t, got, "\x1b")
	require.NotContains(t, got, "\x00")
	require.Contains(t, got, "alert(1)</script> Bcc: victim@example.com", "the line break is folded to a space, so Bcc: stays in the value")
}

func TestSanitizeText(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"keeps newlines and tabs": {"a\n\tb", "a\n\tb"},
		"CRLF becomes LF":         {"a\r\nb\rc", "a\nb\nc"},
		"terminal escapes go":     {"\x1b[2Jclear\x07", "[2Jclear"},
		"C1 controls go":          {"a\u0085b\u009bc", "abc"},
		"bidi overrides go":       {"invoice\u202efdp.exe", "invoicefdp.exe"},
		"invalid UTF-8 replaced":  {"a\xffb", "a\uFFFDb"},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, notify.SanitizeText(tc.in))
		})
	}
}

func TestHeadline(t *testing.T) {
	now := mustTime(t, "2024-03-05T14:10:00Z")
	f := notify.SampleFinding(now)
	require.Equal(t, "SBSHQ01: ActiveSync cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)", notify.Headline(&f))

	for name, tc := range map[string]struct {
		edit func(*rules.Finding)
		want string
	}{
		"free": {func(f *rules.Finding) { f.Verdict, f.Culprit = rules.VerdictFree, nil },
			"SBSHQ01: ActiveSync cannot bind udp/2883 — port is free now"},
		"expected owner": {func(f *rules.Finding) { f.Verdict, f.Culprit = rules.VerdictExpected, nil },
			"SBSHQ01: ActiveSync cannot bind udp/2883 — port is back with its expected owner"},
		"unknown": {func(f *rules.Finding) { f.Verdict, f.Culprit = rules.VerdictUnknown, nil },
			"SBSHQ01: ActiveSync cannot bind udp/2883 — owner unknown"},
		"not a conflict uses the title": {func(f *rules.Finding) { f.Verdict, f.Culprit = rules.VerdictNotConflict, nil },
			"SBSHQ01: Exchange ActiveSync AUTD cannot bind its UDP port"},
		"no service falls back to title": {func(f *rules.Finding) { f.Service = "" },
			"SBSHQ01: Exchange ActiveSync AUTD cannot bind its UDP port (udp/2883) — held by dns.exe (PID 2216, DNS)"},
		"many services are cut": {func(f *rules.Finding) {
			f.Culprit = &rules.Culprit{PID: 1100, Image: "svchost.exe", Services: []string{"Dnscache", "Dhcp", "LmHosts", "W32Time", "netprofm"}}
		}, "SBSHQ01: ActiveSync cannot bind udp/2883 — held by svchost.exe (PID 1100, Dnscache, Dhcp, LmHosts, +2 more)"},
		"injected line breaks are folded": {func(f *rules.Finding) { f.Host = "EVIL\r\nBcc: x@y"; f.Service = "A\nB" },
			"EVIL Bcc: x@y: A B cannot bind udp/2883 — held by dns.exe (PID 2216, DNS)"},
	} {
		t.Run(name, func(t *testing.T) {
			f := notify.SampleFinding(now)
			tc.edit(&f)
			require.Equal(t, tc.want, notify.Headline(&f))
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for in, want := range map[string]string{"45s": "45s", "6m": "6m", "6m30s": "6m30s", "4h": "4h", "4h30m": "4h30m", "50h": "2d2h", "168h": "7d"} {
		d, err := notify.ParseDuration(in)
		require.NoError(t, err)
		require.Equal(t, want, notify.HumanDuration(d), in)
	}
	require.Equal(t, "1,234,567", strings.TrimSpace(notify.NewView(&notify.Alert{Finding: rules.Finding{Culprit: &rules.Culprit{PortsHeld: 1234567}}}).Culprit.PortsHeld))
}
