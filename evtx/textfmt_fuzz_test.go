package evtx

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// addFixtures seeds a fuzz target with the fixtures matching pattern.
func addFixtures(f *testing.F, patterns ...string) {
	f.Helper()
	n := 0
	for _, p := range patterns {
		files, err := filepath.Glob(filepath.Join("testdata", p))
		require.NoError(f, err)
		for _, file := range files {
			b, err := os.ReadFile(file)
			require.NoError(f, err)
			f.Add(b)
			n++
		}
	}
	require.NotZero(f, n, "no seeds for %v", patterns)
}

// drainForFuzz reads everything and checks what every reader promises on
// any input: no panic, no fatal error from memory, events and problems
// located inside the input, events in file order.
func drainForFuzz(t *testing.T, data []byte, r Reader) []*Event {
	t.Helper()
	var events []*Event
	last := int64(-1)
	for {
		ev, err := r.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			// Only the forced-CSV "not an export" error is fatal here.
			require.ErrorIs(t, err, errNoExportLayout)
			break
		}
		require.NotNil(t, ev)
		require.GreaterOrEqual(t, ev.Origin.Offset, int64(0))
		require.Less(t, ev.Origin.Offset, int64(len(data)))
		require.Greater(t, ev.Origin.Offset, last, "events out of file order")
		last = ev.Origin.Offset
		require.Equal(t, r.Format(), ev.Origin.Format)
		events = append(events, ev)
	}
	for _, p := range r.Problems() {
		require.GreaterOrEqual(t, p.Offset, int64(0))
		require.LessOrEqual(t, p.Offset, int64(len(data)))
		require.NotEmpty(t, p.Error())
	}
	return events
}

func FuzzXML(f *testing.F) {
	addFixtures(f, "xml/*.xml")
	f.Add([]byte(scm7023))
	f.Add([]byte("<Event><UserData><A><B>1</B></A></UserData></Event><Event/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Sniff(data[:min(len(data), sniffLen)])

		ev, err := ParseEventXML(data)
		if err == nil {
			require.NotNil(t, ev)
		}
		requireSameAsEncodingXML(t, data)

		events := drainForFuzz(t, data, newXMLReader(bytes.NewReader(data), nil, "fuzz", Options{}))
		utf16 := bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || len(data) >= 4 && data[1] == 0 && data[3] == 0 && data[0] != 0
		for _, ev := range events {
			at := data[ev.Origin.Offset:]
			if utf16 {
				at = utf16ToUTF8(at[:min(len(at), 12)], false)
			}
			require.True(t, bytes.HasPrefix(at, []byte("<Event")), "offset %d", ev.Origin.Offset)
		}
		// Framing must not depend on how reads split the input.
		if len(data) < 4096 {
			split := drainForFuzz(t, data, newXMLReader(&oneByteReader{data}, nil, "fuzz", Options{}))
			require.Equal(t, len(events), len(split))
			for i := range events {
				require.Equal(t, events[i].Origin.Offset, split[i].Origin.Offset)
			}
		}
	})
}

func FuzzText(f *testing.F) {
	addFixtures(f, "export/*copy*.txt")
	f.Add([]byte("Event Type:\tError\r\nEvent ID:\t1\r\nData:\r\n0000: 00 01\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Sniff(data[:min(len(data), sniffLen)])
		drainForFuzz(t, data, newTextReader(bytes.NewReader(data), nil, "fuzz", Options{}))
	})
}

func FuzzCSV(f *testing.F) {
	addFixtures(f, "export/*.csv", "export/sbs2003-system.txt", "export/server2008-system-utf16.txt")
	f.Add([]byte("Level,Date and Time,Source,Event ID,Task Category\r\nError,3/14/2019 10:31:07 AM,S,1,None,\"a\r\nb\"\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Sniff(data[:min(len(data), sniffLen)])
		drainForFuzz(t, data, newCSVReader(bytes.NewReader(data), nil, "fuzz", Options{}))
	})
}
