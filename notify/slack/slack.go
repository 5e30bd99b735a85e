package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/evtwatch/evtwatch/notify"
)

// Notifier posts alerts to Slack.
type Notifier struct {
	cfg    notify.SlackConfig
	logger *slog.Logger
}

var (
	_ notify.Notifier  = (*Notifier)(nil)
	_ notify.Previewer = (*Notifier)(nil)
)

// New returns a Slack notifier for a resolved config (notify.Config.Resolve).
func New(cfg *notify.SlackConfig, logger *slog.Logger) (*Notifier, error) {
	if cfg == nil {
		return nil, errors.New("new slack notifier: no slack config")
	}
	if (cfg.WebhookURL == "") == (cfg.Token == "") {
		return nil, errors.New("new slack notifier: need exactly one of webhook_url and token")
	}
	if cfg.Token != "" && cfg.Channel == "" {
		return nil, errors.New("new slack notifier: a token needs a channel")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: *cfg, logger: logger}
	if n.cfg.APIURL == "" {
		n.cfg.APIURL = notify.DefaultSlackAPIURL
	}
	return n, nil
}

func (n *Notifier) secrets() []string {
	return []string{n.cfg.WebhookURL.Reveal(), n.cfg.Token.Reveal()}
}

// Webhook reports whether the notifier posts to an incoming webhook.
func (n *Notifier) Webhook() bool { return n.cfg.WebhookURL != "" }

// Preview returns the request body Slack would receive, as indented JSON:
// the webhook payload, or chat.postMessage's fields (sent form-encoded,
// blocks as JSON).
func (n *Notifier) Preview(alerts ...notify.Alert) ([]byte, error) {
	text, blocks := Render(alerts)
	var v any
	if n.Webhook() {
		v = webhookMessage(text, blocks)
	} else {
		v = struct {
			Channel     string           `json:"channel"`
			Text        string           `json:"text"`
			Blocks      []slackapi.Block `json:"blocks"`
			UnfurlLinks string           `json:"unfurl_links"`
			UnfurlMedia string           `json:"unfurl_media"`
		}{n.cfg.Channel, text, blocks, "false", "false"}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render slack message: %w", err)
	}
	return b, nil
}

func webhookMessage(text string, blocks []slackapi.Block) *slackapi.WebhookMessage {
	no := false
	return &slackapi.WebhookMessage{
		Text:        text,
		Blocks:      &slackapi.Blocks{BlockSet: blocks},
		UnfurlLinks: &no,
		UnfurlMedia: &no,
	}
}

// Notify posts one message for alerts.
func (n *Notifier) Notify(ctx context.Context, alerts ...notify.Alert) (bool, error) {
	if len(alerts) == 0 {
		return false, errors.New("post to slack: no alerts")
	}
	text, blocks := Render(alerts)
	capture := &bodyCapture{base: http.DefaultTransport}
	httpClient := &http.Client{Transport: capture}
	var err error
	var what string
	if n.Webhook() {
		what = "post to slack webhook"
		err = slackapi.PostWebhookCustomHTTPContext(ctx, n.cfg.WebhookURL.Reveal(), httpClient, webhookMessage(text, blocks))
	} else {
		what = "post to slack channel " + n.cfg.Channel
		api := slackapi.New("", slackapi.OptionAPIURL(n.cfg.APIURL),
			slackapi.OptionHTTPClient(&bearerClient{client: httpClient, token: n.cfg.Token.Reveal()}))
		_, _, err = api.PostMessageContext(ctx, n.cfg.Channel,
			slackapi.MsgOptionText(text, false),
			slackapi.MsgOptionBlocks(blocks...),
			slackapi.MsgOptionDisableLinkUnfurl(),
			slackapi.MsgOptionDisableMediaUnfurl(),
		)
	}
	if err == nil {
		return false, nil
	}
	retry, after, hasAfter := Classify(err)
	if ctx.Err() != nil {
		retry = true
	}
	msg := describe(err)
	if body := capture.body(); body != "" {
		msg += ": " + body
	}
	out := fmt.Errorf("%s: %s", what, msg)
	if ctx.Err() != nil {
		out = fmt.Errorf("%s: %w (%s)", what, ctx.Err(), msg)
	}
	if hasAfter {
		out = notify.WithRetryAfter(out, after)
	}
	return retry, notify.RedactError(out, n.secrets()...)
}

// describe is err's text without the request URL, which for a webhook is
// the credential.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " request: " + ue.Err.Error()
	}
	return err.Error()
}

// transient are chat.postMessage error codes worth retrying.
var transient = map[string]bool{
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
	"ratelimited":         true,
	"rate_limited":        true,
	"team_added_to_org":   true,
}

// Classify says whether a slack-go error is worth retrying and whether
// Slack said when (429 Retry-After).
func Classify(err error) (retry bool, after time.Duration, hasAfter bool) {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return true, rl.RetryAfter, true
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) {
		return sc.Retryable(), 0, false
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return transient[se.Err], 0, false
	}
	// Network failures, timeouts, a gateway answering with HTML: try again.
	return true, 0, false
}

// bodyCapture keeps the start of an error response's body: a webhook
// answers "channel_not_found" or "invalid_token" in plain text, which
// slack-go drops.
type bodyCapture struct {
	base http.RoundTripper
	mu   sync.Mutex
	text string
}

func (c *bodyCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 {
		return resp, err
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), rest), rest}
	if !strings.Contains(resp.Header.Get("Content-Type"), "html") {
		c.mu.Lock()
		c.text = notify.Truncate(notify.SingleLine(string(head)), 200)
		c.mu.Unlock()
	}
	return resp, nil
}

func (c *bodyCapture) body() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text
}

// bearerClient moves the token that slack-go puts in the form body into
// the Authorization header, where Slack asks for it and where proxies and
// request logs do not record it.
type bearerClient struct {
	client *http.Client
	token  string
}

func (b *bearerClient) Do(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && req.Body != nil {
		raw, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, fmt.Errorf("parse request body: %w", err)
		}
		form.Del("token")
		enc := form.Encode()
		req.Body = io.NopCloser(strings.NewReader(enc))
		req.ContentLength = int64(len(enc))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(enc)), nil }
		req.Header.Set("Content-Length", strconv.Itoa(len(enc)))
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.client.Do(req)
}
