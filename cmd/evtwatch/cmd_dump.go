package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/evtwatch/evtwatch/evtx"
)

const dumpUsage = `Print the events of log files, one per line.

USAGE
  evtwatch dump [--format jsonl|csv] FILE|DIR...

Reads .evtx, .evt, wevtutil/PowerShell XML and Event Viewer text/CSV exports;
the format is recognised from each file's content, not its name. Folders are
read recursively; files in them that are not event logs are skipped with a
note on stderr.

Damaged chunks and records do not stop the dump: each is reported on stderr
with the file and offset, records that could only be partly decoded are
still printed with an "error" key, and the exit status is 3. A file named
on the command line that cannot be read, or is not an event log, is
reported the same way (3). With no event log among the inputs at all (an
empty folder, a folder of other files) there is nothing to dump: dump says
so and exits 1. File names are printed with control characters escaped.

EXAMPLES
  $ evtwatch dump ../shared/testdata/evt-public/System.evt
  $ evtwatch dump --format csv exported/ > events.csv
`

func runDump(ctx context.Context, args []string, s streams) (exitCode, error) {
	fs := newFlagSet("dump", dumpUsage, s)
	format := fs.String("format", "jsonl", "output format: jsonl or csv")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage, err
	}
	if *format != "jsonl" && *format != "csv" {
		return exitUsage, usagef("--format must be jsonl or csv, not %q", *format)
	}
	if len(paths) == 0 {
		return exitUsage, usagef("no input: give at least one FILE or DIR")
	}
	files, err := expandInputs(paths)
	if err != nil {
		return exitError, err
	}
	explicit := make(map[string]bool, len(paths))
	for _, p := range paths {
		explicit[p] = true
	}

	defer tuneGCForDecoding()()
	out := bufio.NewWriterSize(s.Out, 256<<10)
	var w eventWriter
	if *format == "csv" {
		w = newCSVEventWriter(out)
	} else {
		w = jsonlEventWriter{out: out}
	}
	partial := false
	var events, logs, skipped int
	lastProgress := time.Now()
	for i, path := range files {
		// .evtx chunks are decoded on every core, events still in order.
		r, err := evtx.OpenParallel(path, evtx.Options{}, 0)
		if errors.Is(err, evtx.ErrUnknownFormat) && !explicit[path] {
			fmt.Fprintf(s.Err, "%s: skipped: not an event log\n", clean(path))
			skipped++
			continue
		}
		if err != nil {
			fmt.Fprintf(s.Err, "%s\n", clean(err.Error()))
			partial = true
			continue
		}
		logs++
		for ev, err := range evtx.All(ctx, r) {
			if err != nil {
				fmt.Fprintf(s.Err, "%s: %s\n", clean(path), clean(err.Error()))
				partial = true
				break
			}
			if err := w.write(ev); err != nil {
				r.Close()
				return exitError, fmt.Errorf("write output: %w", err)
			}
			events++
			if s.ErrIsTTY && events%4096 == 0 && time.Since(lastProgress) > 200*time.Millisecond {
				lastProgress = time.Now()
				fmt.Fprintf(s.Err, "\r%d/%d files, %d events", i+1, len(files), events)
			}
		}
		for _, p := range r.Problems() {
			fmt.Fprintf(s.Err, "%s\n", clean(p.Error()))
			partial = true
		}
		r.Close()
		if ctx.Err() != nil {
			out.Flush()
			return exitInterrupted, nil
		}
	}
	if s.ErrIsTTY && events >= 4096 {
		fmt.Fprintf(s.Err, "\r%d/%d files, %d events\n", len(files), len(files), events)
	}
	if err := w.flush(); err != nil {
		return exitError, fmt.Errorf("write output: %w", err)
	}
	if err := out.Flush(); err != nil {
		return exitError, fmt.Errorf("write output: %w", err)
	}
	if partial {
		return exitPartial, nil
	}
	if logs == 0 {
		// An empty dump must not read as a clean one.
		why := "no event log found among the inputs"
		if skipped > 0 {
			why += fmt.Sprintf(" (%s skipped: not an event log)", plural(skipped, "file"))
		}
		return exitError, errors.New("nothing to dump: " + why)
	}
	return exitOK, nil
}

type eventWriter interface {
	write(*evtx.Event) error
	flush() error
}

type jsonlEventWriter struct{ out *bufio.Writer }

func (w jsonlEventWriter) write(ev *evtx.Event) error {
	if ev.Data == nil {
		ev.Data = []evtx.Data{}
	}
	ev.Time = ev.Time.UTC()
	// What json.Encoder.Encode writes, without its second pass over
	// MarshalJSON's already compact, HTML-escaped output.
	b, err := ev.MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := w.out.Write(b); err != nil {
		return err
	}
	return w.out.WriteByte('\n')
}

func (jsonlEventWriter) flush() error { return nil }

type csvEventWriter struct {
	w      *csv.Writer
	header bool
}

func newCSVEventWriter(out io.Writer) *csvEventWriter {
	return &csvEventWriter{w: csv.NewWriter(out)}
}

var csvColumns = []string{"time", "record_id", "provider", "source", "event_id", "level", "channel", "computer", "user_sid", "data", "message", "path", "error"}

func (c *csvEventWriter) write(ev *evtx.Event) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvColumns); err != nil {
			return err
		}
	}
	data := make([]string, len(ev.Data))
	for i, d := range ev.Data {
		if d.Name != "" {
			data[i] = d.Name + "=" + d.Value
		} else {
			data[i] = d.Value
		}
	}
	return c.w.Write([]string{
		ev.Time.UTC().Format(time.RFC3339Nano),
		strconv.FormatUint(ev.RecordID, 10),
		ev.Provider,
		ev.Source,
		strconv.Itoa(int(ev.EventID)),
		ev.Level.String(),
		ev.Channel,
		ev.Computer,
		ev.UserSID,
		strings.Join(data, " | "),
		ev.Message,
		ev.Origin.Path,
		ev.Err,
	})
}

func (c *csvEventWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// tuneGCForDecoding makes the garbage collector run less often while logs
// are decoded, and returns what restores the settings. Decoding .evtx
// allocates about 14 KB per event that is garbage once the event is
// written, against a live heap of a few MB: with the default GOGC (100)
// the collector would run every few MB and take a fifth of the CPU time.
// GOGC 400 under a 48 MiB soft memory limit keeps the peak RSS well below
// 64 MB whatever the file size. GOGC or GOMEMLIMIT in the environment win.
func tuneGCForDecoding() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	pct := debug.SetGCPercent(400)
	limit := debug.SetMemoryLimit(48 << 20)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(limit)
	}
}
