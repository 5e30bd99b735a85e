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
package notify
