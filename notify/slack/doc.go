// Package slack is the Slack channel: alerts rendered as Block Kit (the
// culprit as fields, the advice, the latest evidence), posted with
// github.com/slack-go/slack to an incoming webhook or, with a bot token,
// through chat.postMessage (token in the Authorization header, never in
// the body). Slack 5xx and 429 (honouring Retry-After) and network
// failures are retryable; ok:false errors such as channel_not_found or
// invalid_auth are not.
package slack
