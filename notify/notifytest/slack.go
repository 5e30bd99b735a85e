package notifytest

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Slack answers like Slack's Web API (chat.postMessage) and incoming
// webhooks, and checks what Slack checks: the bearer token, the content
// type, the fields, the channel, the blocks. It knows the channels
// "#alerts" and "C0123456".
type Slack struct {
	// Server is the HTTP server; Server.URL is its base.
	Server *httptest.Server
	// Token is the bot token it accepts.
	Token    string
	hookPath string
	channels map[string]bool

	mu       sync.Mutex
	posts    []SlackPost
	scripted []SlackReply
}

// SlackPost is one accepted message.
type SlackPost struct {
	Kind    string // "chat.postMessage" or "webhook"
	Form    url.Values
	JSON    map[string]any
	Channel string
	Text    string
	Blocks  []map[string]any
}

// SlackReply is answered instead of the normal handling, in order: a
// Status 200 Body is sent as JSON (an ok:false error), anything else as
// text with that status.
type SlackReply struct {
	Status     int
	RetryAfter string
	Body       string
}

// NewSlack starts a server that stops when the test ends.
func NewSlack(t testing.TB) *Slack {
	t.Helper()
	f := &Slack{
		Token:    "xoxb-1234-5678-SECRETTOKEN",
		hookPath: "/services/T000/B000/SECRETWEBHOOKPATH",
		channels: map[string]bool{"#alerts": true, "C0123456": true},
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// APIURL is the api_url to configure.
func (f *Slack) APIURL() string { return f.Server.URL + "/api/" }

// WebhookURL is the incoming webhook it accepts.
func (f *Slack) WebhookURL() string { return f.Server.URL + f.hookPath }

// Script queues replies given instead of the normal ones.
func (f *Slack) Script(r ...SlackReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripted = append(f.scripted, r...)
}

// Accepted returns the messages accepted so far.
func (f *Slack) Accepted() []SlackPost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SlackPost(nil), f.posts...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func slackError(w http.ResponseWriter, code string) {
	writeJSON(w, map[string]any{"ok": false, "error": code})
}

func (f *Slack) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if len(f.scripted) > 0 {
		s := f.scripted[0]
		f.scripted = f.scripted[1:]
		f.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		if s.RetryAfter != "" {
			w.Header().Set("Retry-After", s.RetryAfter)
		}
		if s.Status == http.StatusOK {
			writeJSON(w, json.RawMessage(s.Body))
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(s.Status)
		_, _ = io.WriteString(w, s.Body)
		return
	}
	f.mu.Unlock()
	if r.Method != http.MethodPost {
		http.Error(w, "method_not_allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == "/api/chat.postMessage":
		f.postMessage(w, r)
	case strings.HasPrefix(r.URL.Path, "/services/"):
		f.webhook(w, r)
	default:
		http.Error(w, "unknown_method", http.StatusNotFound)
	}
}

func (f *Slack) postMessage(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		slackError(w, "not_authed")
		return
	case auth != "Bearer "+f.Token:
		slackError(w, "invalid_auth")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" && ct != "application/json" {
		slackError(w, "invalid_form_data")
		return
	}
	raw, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		slackError(w, "invalid_form_data")
		return
	}
	if form.Has("token") || strings.Contains(string(raw), f.Token) {
		// Not what Slack does, but what we promise: the token stays out
		// of request bodies.
		slackError(w, "token_in_body")
		return
	}
	channel := form.Get("channel")
	if !f.channels[channel] {
		slackError(w, "channel_not_found")
		return
	}
	var blocks []map[string]any
	if b := form.Get("blocks"); b != "" {
		if err := json.Unmarshal([]byte(b), &blocks); err != nil || len(blocks) > 50 {
			slackError(w, "invalid_blocks")
			return
		}
	}
	if form.Get("text") == "" && len(blocks) == 0 {
		slackError(w, "no_text")
		return
	}
	f.mu.Lock()
	f.posts = append(f.posts, SlackPost{Kind: "chat.postMessage", Form: form, Channel: channel, Text: form.Get("text"), Blocks: blocks})
	f.mu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "channel": "C0123456", "ts": "1709647800.000100"})
}

func (f *Slack) webhook(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != f.hookPath {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	var payload map[string]any
	if err := json.NewDecoder(r.Body).Decode(&payload); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	var blocks []map[string]any
	if raw, ok := payload["blocks"]; ok {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &blocks); err != nil || len(blocks) > 50 {
			http.Error(w, "invalid_blocks", http.StatusBadRequest)
			return
		}
	}
	text, _ := payload["text"].(string)
	if text == "" && len(blocks) == 0 {
		http.Error(w, "no_text", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.posts = append(f.posts, SlackPost{Kind: "webhook", JSON: payload, Text: text, Blocks: blocks})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}
