// Package evtx owns evtwatch's portable event model and the readers that
// turn every log format an affected server produces into it: exported .evtx
// (through github.com/0xrawsec/golang-evtx v1.2.9, wrapped so that its panics
// never escape), legacy .evt (our own parser), wevtutil/PowerShell XML, and
// Event Viewer text and CSV exports.
//
// Open sniffs the format from the first bytes of a file, never from its name,
// and returns a Reader. Readers keep going past damaged input and report what
// they skipped as Problems, so one bad chunk never hides the rest of a log.
// rules/ and notify/ see only Event.
package evtx
