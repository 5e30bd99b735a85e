// Package notify owns how findings reach people: the Alert model (a
// rules.Finding plus its alerting state), the one-method Notifier interface
// that every channel implements, retry with backoff, the persisted outbox of
// alerts not yet delivered, throttling per (rule, host, port, culprit),
// resolved notices, optional digests, the notify section of the config file
// (with secrets that print as <secret>), and the escaping that keeps
// attacker-influenced event text inert in Slack, email and HTML.
//
// Channels live in sub-packages (notify/email, notify/slack); this package
// only holds what they share. A scan feeds findings to a Dispatcher, which
// records them in a State (persisted by the caller), and Flush delivers what
// is due.
//
// To add a channel: a sub-package whose New(cfg, logger) returns a type
// implementing Notifier (and Previewer, for --dry-run) that classifies its
// failures as retryable or not and scrubs secrets from its errors
// (RedactError); its config struct in config.go, with defaults in
// applyDefaults and checks in Resolve; a case in notifyChannels in
// cmd/evtwatch/config.go; tests against a real local server (see
// notifytest) and golden files of what it sends.
package notify
