package notify

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Event text is written by whoever can log an event, so everything that
// comes from a Finding is passed through one of these before it reaches a
// terminal, a mail header, an HTML body or Slack.

// SanitizeText makes s valid UTF-8 and removes characters that can rewrite a
// terminal or a log line or disguise text: C0 and C1 controls (ESC, BEL,
// NUL, ...) except newline and tab, and the Unicode bidirectional overrides.
// Carriage returns become newlines.
func SanitizeText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			return -1
		case isBidiControl(r):
			return -1
		}
		return r
	}, s)
}

func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

var spaceRun = regexp.MustCompile(`[ \t\n]+`)

// SingleLine is SanitizeText with every run of line breaks and tabs folded
// to one space, so the result is safe as one line of a header or a log.
func SingleLine(s string) string {
	return strings.TrimSpace(spaceRun.ReplaceAllString(SanitizeText(s), " "))
}

// HeaderValue makes s safe as the value of an email header: no CR or LF (so
// no header injection) and no other control characters.
func HeaderValue(s string) string { return SingleLine(s) }

// broadcast matches the plain-text forms of Slack's group mentions.
var broadcast = regexp.MustCompile(`(?i)@(channel|here|everyone)`)

// EscapeMrkdwn escapes s for Slack mrkdwn text. Slack's control sequences
// are all written in angle brackets (<!channel>, <!here>, <@U123>,
// <#C123>, <https://x|label>), so escaping &, < and > as Slack documents
// makes them print literally. Plain @channel/@here/@everyone get a word
// joiner after the @ so no client or gateway that parses plain mentions
// turns them into a broadcast.
func EscapeMrkdwn(s string) string {
	s = SanitizeText(s)
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	return broadcast.ReplaceAllString(s, "@\u2060$1")
}

// MrkdwnCode escapes s for use inside a Slack code span or code block:
// EscapeMrkdwn, with backticks replaced so the text cannot close the block.
func MrkdwnCode(s string) string {
	return strings.ReplaceAll(EscapeMrkdwn(s), "`", "\u02cb")
}

// Truncate shortens s to at most n runes, marking the cut with an ellipsis.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	cut := strings.TrimRightFunc(string(r[:n-1]), unicode.IsSpace)
	return cut + "…"
}
