// Package notifytest provides real servers for testing alert delivery: an
// SMTP server (github.com/emersion/go-smtp) on 127.0.0.1 with STARTTLS on
// a certificate made for the test, AUTH PLAIN, LOGIN and CRAM-MD5, and
// hooks to answer 4xx/5xx or hang; and an HTTP server that speaks Slack's
// chat.postMessage and incoming-webhook shapes, checks what Slack checks
// and can be scripted to answer 429 with Retry-After, 5xx or ok:false.
// Only tests import it.
package notifytest
