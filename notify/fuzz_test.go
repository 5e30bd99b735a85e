package notify_test

import (
	"strings"
	"testing"

	"github.com/evtwatch/evtwatch/notify"
)

// FuzzParseConfig: any input gives a config or an error, never a panic;
// a config that loads prints without its secrets. (That errors never
// repeat a secret is checked by TestConfigReportsEveryProblem: a fuzzer
// moves secrets into fields that are rightly echoed.)
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("email: {host: mail.example.com, from: a@b.c, to: [d@e.f], username: u, password: FUZZSECRETPW}\nslack: {webhook_url: \"https://hooks.slack.com/services/FUZZSECRETHOOK\"}\n"))
	f.Add([]byte("realert: 7d\nresolve_after: 1d12h\noutbox: {max_age: 3d}\ndigest: true\n"))
	f.Add([]byte("slack: {token: xoxb-FUZZSECRETTOKEN, channel: '#x', api_url: 'http://[::1]:1/'}\n"))
	f.Add([]byte("email: {host: h, to: ['${X}'], subject: '{{ .Title }}'}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := notify.ParseConfig(data, t.TempDir(), func(string) (string, bool) { return "from-env", true })
		if err != nil {
			return
		}
		for _, line := range strings.Split(c.String(), "\n") {
			key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			switch key {
			case "password", "token", "webhook_url":
				if v := strings.TrimSpace(val); v != "<secret>" && v != "" && v != `""` {
					t.Fatalf("String() shows %s: %q", key, v)
				}
			}
		}
	})
}

// FuzzEscapeMrkdwn: whatever the event says, the escaped text has no
// Slack control sequence and no plain broadcast mention.
func FuzzEscapeMrkdwn(f *testing.F) {
	for _, s := range []string{attacker, "<!channel>", "@here", "a & b", "\x1b[2J", "```", "<@U1|x>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := notify.EscapeMrkdwn(s)
		if strings.ContainsAny(out, "<>") {
			t.Fatalf("angle bracket survived: %q -> %q", s, out)
		}
		low := strings.ToLower(out)
		for _, m := range []string{"@channel", "@here", "@everyone"} {
			if strings.Contains(low, m) {
				t.Fatalf("broadcast survived: %q -> %q", s, out)
			}
		}
		for _, r := range out {
			if r < 0x20 && r != '\n' && r != '\t' {
				t.Fatalf("control character survived: %q -> %q", s, out)
			}
		}
		if h := notify.HeaderValue(s); strings.ContainsAny(h, "\r\n") {
			t.Fatalf("line break in header value: %q", h)
		}
	})
}
