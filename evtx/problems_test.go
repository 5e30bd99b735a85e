package evtx

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const goodEventXML = `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Server ActiveSync"/><EventID Qualifiers="49152">3015</EventID><Level>2</Level><TimeCreated SystemTime="2024-01-01T10:00:00.000Z"/><EventRecordID>7</EventRecordID><Channel>Application</Channel><Computer>SBS01</Computer></System><EventData><Data>0x80004005</Data><Data>2883</Data></EventData></Event>`

// TestProblemsAreBounded: a file of garbage lists its first problems and
// sums up the rest in one, keeping the count of lost records exact, so a
// reader never holds (and dump never prints) millions of them; the good
// event after the garbage is still read.
func TestProblemsAreBounded(t *testing.T) {
	const bad = 2500
	dir := t.TempDir()
	cases := map[string]string{
		"unclosed.xml": strings.Repeat("<Event>", bad) + "\n" + goodEventXML + "\n",
		"rows.csv": "Level,Date and Time,Source,Event ID,Task Category\r\n" +
			strings.Repeat("Error,3/14/2019 10:31:07 AM,Service Control Manager,xx,None,\"m\"\r\n", bad) +
			"Error,3/14/2019 10:31:08 AM,Service Control Manager,7023,None,\"m\"\r\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			r, err := Open(path, Options{})
			require.NoError(t, err)
			defer r.Close()
			evs := readAll(t, r)
			require.Len(t, evs, 1, "the good event after the damage")
			problems := r.Problems()
			require.Len(t, problems, maxListedProblems+1)
			skipped := 0
			for _, p := range problems {
				skipped += p.Skipped
				require.Equal(t, path, p.Path)
			}
			require.Equal(t, bad, skipped, "every lost record is counted")
			last := problems[maxListedProblems]
			require.Equal(t, bad-maxListedProblems, last.Skipped)
			require.Greater(t, last.Offset, problems[maxListedProblems-1].Offset)
			require.ErrorContains(t, last, "1500 more problems from here on, not listed")
		})
	}
}

// TestXMLFramingAroundUnclosedElements: an unclosed <Event> is one
// problem, and the elements around it, even ones whose </Event> follows a
// later start, are framed as before.
func TestXMLFramingAroundUnclosedElements(t *testing.T) {
	in := goodEventXML + "<Event><System>" + goodEventXML + "<Events>" + goodEventXML + "</Events>"
	r := newXMLReader(bytes.NewReader([]byte(in)), nil, "x.xml", Options{})
	evs := readAll(t, r)
	require.Len(t, evs, 3)
	problems := r.Problems()
	require.Len(t, problems, 1)
	require.Equal(t, int64(len(goodEventXML)), problems[0].Offset)
	require.ErrorContains(t, problems[0], "element ends before its </Event>")
}

// BenchmarkXMLReaderUnclosed measures a file of nothing but unclosed
// <Event> starts: the close tag is looked for up to the next start only,
// so this runs at the speed of the input, not of input times buffer.
func BenchmarkXMLReaderUnclosed(b *testing.B) {
	data := []byte(strings.Repeat("<Event>", 150000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := newXMLReader(bytes.NewReader(data), nil, "x.xml", Options{})
		for {
			if _, err := r.Next(b.Context()); err != nil {
				break
			}
		}
	}
}
