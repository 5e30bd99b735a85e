// Package rules owns correlation: YAML rules that match events, find
// repeating failures within a window on event time, work out the port the
// failing service needs, and ask a port snapshot who holds it. The result is
// a Finding, which notify/ turns into alerts.
//
// Rule files are decoded strictly (unknown keys are errors) and compiled
// in one pass that reports every problem with file, line and rule ID
// (Load, LoadPath, ValidationError). The built-in pack is embedded
// (Builtin); Merge lets site rules replace or disable built-in ones by ID.
//
// Repeat semantics, the ones users trip over elsewhere: a group of
// failures (same rule and group_by values) is a pattern when at least
// threshold of them fall within one window, measured on event time, never
// on the time of reading, so an exported log gives the same answer as a
// live one. The window slides over the whole input and never resets; one
// analysis gives at most one Finding per group, covering every occurrence
// in it. Groups below the threshold are returned too (Result.Below), so
// nothing is dropped silently. Events that only carry a port through a
// companion (ActiveSync 3024 after 3015, SQL 17182 after 26023) join that
// companion's occurrence instead of counting twice.
//
// Port ownership comes from a rules/ports Snapshot given to Result; the
// verdict is held (an unexpected owner: the culprit), expected_owner
// (recovered), free (transient), unknown (no snapshot or no port) or
// not_a_conflict (the error code says so, e.g. WSAEADDRNOTAVAIL).
package rules
