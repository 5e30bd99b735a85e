// Package rules owns correlation: YAML rules that match events, find
// repeating failures within a window on event time, work out the port the
// failing service needs, and ask a port snapshot who holds it. The result is
// a Finding, which notify/ turns into alerts.
package rules
