package slack

import (
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/evtwatch/evtwatch/notify"
)

// Slack's limits (https://api.slack.com/reference/block-kit/blocks).
const (
	maxBlocks      = 50
	maxHeader      = 150
	maxSectionText = 3000
	maxField       = 2000
	maxFields      = 10
	// blocksPerAlert is the most Render spends on one alert in a digest.
	blocksPerAlert = 5
)

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, notify.Truncate(s, maxSectionText), false, false)
}

func plain(s string, limit int) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, notify.Truncate(notify.SingleLine(s), limit), false, false)
}

func field(label, value string) *slackapi.TextBlockObject {
	return mrkdwn(notify.Truncate("*"+label+"*\n"+value, maxField))
}

// Render lays alerts out as Block Kit blocks, with text as the fallback
// shown in notifications. Every value from the finding is escaped for
// mrkdwn (notify.EscapeMrkdwn), so event text cannot mention @channel,
// link, or break out of a code span.
func Render(alerts []notify.Alert) (text string, blocks []slackapi.Block) {
	if len(alerts) == 1 {
		v := notify.NewView(&alerts[0])
		blocks = append(blocks, slackapi.NewHeaderBlock(plain(icon(v.Status)+v.Title, maxHeader)))
		blocks = append(blocks, alertBlocks(v, true)...)
		blocks = append(blocks, footerBlock(v.Footer()))
		return notify.EscapeMrkdwn(v.Title), blocks
	}
	title := notify.DigestTitle(alerts)
	blocks = append(blocks, slackapi.NewHeaderBlock(plain(title, maxHeader)))
	shown := 0
	for i := range alerts {
		if len(blocks)+blocksPerAlert+2 > maxBlocks {
			break
		}
		v := notify.NewView(&alerts[i])
		blocks = append(blocks, slackapi.NewDividerBlock())
		blocks = append(blocks, alertBlocks(v, false)...)
		blocks = append(blocks, footerBlock(v.Footer()))
		shown++
	}
	if rest := len(alerts) - shown; rest > 0 {
		blocks = append(blocks, footerBlock(fmt.Sprintf("…and %d more not shown here (Slack's message size limit); the email and the log have them all", rest)))
	}
	return notify.EscapeMrkdwn(title), blocks
}

func icon(s notify.Status) string {
	if s == notify.StatusResolved {
		return "✅ "
	}
	return "🔴 "
}

// alertBlocks is one alert: a summary section, the culprit as fields, the
// advice and the evidence (the evidence only when standalone, to keep
// digests inside Slack's block limit).
func alertBlocks(v notify.View, standalone bool) []slackapi.Block {
	var out []slackapi.Block
	var lines []string
	if !standalone {
		lines = append(lines, "*"+icon(v.Status)+notify.EscapeMrkdwn(v.Title)+"*")
	}
	line := func(label, value string) {
		if value != "" {
			lines = append(lines, "*"+label+":* "+value)
		}
	}
	if v.Status == notify.StatusResolved {
		line("Resolved", notify.EscapeMrkdwn(v.Resolution))
	}
	what := ""
	if v.Service != "" {
		// View.What, with the endpoint as code and the rest escaped.
		what = notify.EscapeMrkdwn(v.Service)
		if v.Host != "" {
			what += " on " + notify.EscapeMrkdwn(v.Host)
		}
		if ep := "`" + notify.MrkdwnCode(v.Endpoint) + "`"; v.Endpoint != "" && v.ServiceIsTitle {
			what += " (" + ep + ")"
		} else if v.Endpoint != "" {
			what += " needs " + ep
		}
	}
	line("What failed", what)
	line("How often", notify.EscapeMrkdwn(v.Failures))
	line("Verdict", notify.EscapeMrkdwn(v.Verdict))
	line("Repeats", notify.EscapeMrkdwn(v.Suppressed))
	out = append(out, slackapi.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil))

	if c := v.Culprit; c != nil {
		label := "Culprit"
		if v.Status == notify.StatusResolved {
			label = "Culprit (when alerted)"
		}
		fields := []*slackapi.TextBlockObject{field(label, notify.EscapeMrkdwn(c.Label))}
		if c.Path != "" {
			fields = append(fields, field("Path", "`"+notify.MrkdwnCode(c.Path)+"`"))
		}
		if c.Services != "" {
			fields = append(fields, field("Services", notify.EscapeMrkdwn(c.Services)))
		}
		if c.PortsHeld != "" {
			fields = append(fields, field("Ports held", notify.EscapeMrkdwn(c.PortsHeld)))
		}
		if c.Started != "" {
			fields = append(fields, field("Started", notify.EscapeMrkdwn(c.Started)))
		}
		if len(fields) > maxFields {
			fields = fields[:maxFields]
		}
		out = append(out, slackapi.NewSectionBlock(nil, fields, nil))
	}
	if v.Advice != "" && v.Status != notify.StatusResolved {
		out = append(out, slackapi.NewSectionBlock(mrkdwn("*What to do*\n"+notify.EscapeMrkdwn(v.Advice)), nil, nil))
	}
	if standalone && len(v.Evidence) > 0 {
		head := fmt.Sprintf("*Evidence* (latest %d", len(v.Evidence))
		if v.EvidenceMore > 0 {
			head += fmt.Sprintf("; %d more not shown", v.EvidenceMore)
		}
		ev := make([]string, len(v.Evidence))
		for i, l := range v.Evidence {
			ev[i] = notify.MrkdwnCode(l)
		}
		body := notify.Truncate(strings.Join(ev, "\n"), maxSectionText-len(head)-20)
		out = append(out, slackapi.NewSectionBlock(mrkdwn(head+")\n```"+body+"```"), nil, nil))
	}
	return out
}

func footerBlock(text string) slackapi.Block {
	return slackapi.NewContextBlock("", mrkdwn(notify.EscapeMrkdwn(text)))
}
