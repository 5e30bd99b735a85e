// Package email is the email channel: it renders alerts as a plain-text
// message with an HTML alternative and sends it with
// github.com/wneessen/go-mail over STARTTLS (mandatory by default),
// implicit TLS or, only when configured, plain text, with PLAIN, LOGIN or
// CRAM-MD5 authentication. SMTP 4xx replies and network failures are
// retryable, 5xx replies are not.
package email
