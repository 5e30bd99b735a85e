package evtx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEVTXFastHeaderMatchesDecoding reads every record of the public
// corpus twice over, through the fast path and through full decoding, and
// requires every field the fast path claims to know to equal the decoded
// event's. It also requires the fast path to know the fields for nearly
// every record, or it would be no fast path.
func TestEVTXFastHeaderMatchesDecoding(t *testing.T) {
	dir := evtxPublicDir(t)
	quietEVTXLibrary(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.evtx"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var total, fast, failed, provider, eventID, channel int
	for _, path := range files {
		name := filepath.Base(path)
		var calls []Header
		r, err := Open(path, Options{Filter: Filter{Keep: func(h Header) bool {
			calls = append(calls, h)
			return true
		}}})
		require.NoError(t, err)
		er := r.(*evtxReader)
		for {
			calls = calls[:0]
			before := er.fastRead
			ev, err := r.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			total++
			if er.fastRead == before {
				continue // full decoding only
			}
			fast++
			require.Len(t, calls, 2, "%s record %d: one fast and one full header", name, ev.RecordID)
			fh := calls[0]
			if ev.Err != "" {
				// The library could not decode what the fast path read.
				failed++
				t.Logf("%s: record %d (offset %d) not decoded (%s) but its header read: %+v", name, ev.RecordID, ev.Origin.Offset, ev.Err, fh)
				continue
			}
			where := func() string { return fmt.Sprintf("%s @%d", name, ev.Origin.Offset) }
			require.Equal(t, ev.RecordID, fh.RecordID, where())
			require.True(t, ev.Time.Equal(fh.Time), "%s: time %v, fast %v", where(), ev.Time, fh.Time)
			if fh.Provider != "" {
				provider++
				require.Equal(t, ev.Provider, fh.Provider, where())
				require.Equal(t, ev.Source, fh.Source, where())
			}
			if fh.EventID != 0 {
				eventID++
				require.Equal(t, ev.EventID, fh.EventID, where())
			}
			if fh.Channel != "" {
				channel++
				require.Equal(t, ev.Channel, fh.Channel, where())
			}
		}
		r.Close()
	}
	t.Logf("%d records: fast header for %d (provider %d, EventID %d, channel %d); %d of them not decodable by golang-evtx",
		total, fast, provider, eventID, channel, failed)
	require.Greater(t, fast, total*95/100)
	require.Greater(t, provider, fast*95/100)
	require.Greater(t, eventID, fast*95/100)
}
