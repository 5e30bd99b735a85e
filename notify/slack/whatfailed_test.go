package slack_test

import (
	"testing"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/notify"
	"github.com/evtwatch/evtwatch/notify/slack"
)

// TestWhatFailedWithARuleTitle: a rule title already says what fails; the
// endpoint is named beside it, as code, and the rest stays escaped.
func TestWhatFailedWithARuleTitle(t *testing.T) {
	summary := func(blocks []slackapi.Block) string {
		t.Helper()
		sec, ok := blocks[1].(*slackapi.SectionBlock)
		require.True(t, ok, "block 1 is the summary section, got %T", blocks[1])
		return sec.Text.Text
	}
	a := notify.SampleAlert(fixedNow)
	a.Finding.Service = ""
	a.Finding.Host = "SBSHQ01 <!channel>"
	_, blocks := slack.Render([]notify.Alert{a})
	require.Contains(t, summary(blocks), "*What failed:* Exchange ActiveSync AUTD cannot bind its UDP port on SBSHQ01 &lt;!channel&gt; (`udp/2883`)")

	a.Finding.Service = "ActiveSync"
	_, blocks = slack.Render([]notify.Alert{a})
	require.Contains(t, summary(blocks), "*What failed:* ActiveSync on SBSHQ01 &lt;!channel&gt; needs `udp/2883`")
}
