package email_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/notifytest"
)

// TestWhatFailedWithARuleTitle: the built-in ActiveSync rule names no
// service; its title already says what fails, so the endpoint is named
// beside it, in both parts.
func TestWhatFailedWithARuleTitle(t *testing.T) {
	n := newNotifier(t, config(t, &notifytest.SMTPServer{Host: "mail.example.com", Port: 587}))
	a := notify.SampleAlert(fixedNow)
	a.Finding.Service = ""
	raw, err := n.Preview(a)
	require.NoError(t, err)
	m := parseMessage(t, string(raw))
	require.Contains(t, m.Text, "What failed:   Exchange ActiveSync AUTD cannot bind its UDP port on SBSHQ01 (udp/2883)\n")
	require.Contains(t, m.HTML, "Exchange ActiveSync AUTD cannot bind its UDP port on SBSHQ01 (<b>udp/2883</b>)")
	require.NotContains(t, m.HTML, "port needs")
}
