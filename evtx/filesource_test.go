package evtx

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeChunks writes the file header and the first n chunks of a real .evtx
// to dst in place (same inode), the way a log grows: whole chunks appended.
func writeChunks(t *testing.T, src, dst string, n int) {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	end := 4096 + n*65536
	require.LessOrEqual(t, end, len(data), "source has fewer than %d chunks", n)
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.WriteAt(data[:end], 0)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(int64(end)))
	require.NoError(t, f.Close())
}

func manyEventsSample(t *testing.T) string {
	return filepath.Join(sharedTestdata(t), "evtx-public", "many-events-application.evtx")
}

func readAll(t *testing.T, r Reader) []*Event {
	t.Helper()
	var out []*Event
	for {
		ev, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, ev)
	}
}

func TestFileIdentitySurvivesAppendNotReplacement(t *testing.T) {
	src := manyEventsSample(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "Application.evtx")
	writeChunks(t, src, path, 2)
	id, err := IdentifyFile(path)
	require.NoError(t, err)
	require.Equal(t, int64(4096+512), id.PrintOffset, "fingerprint starts at the first record")
	require.Positive(t, id.PrintLen)

	writeChunks(t, src, path, 5) // grown in place
	same, err := id.SameFile(path)
	require.NoError(t, err)
	require.True(t, same, "an appended log is the same file")

	// The same bytes under a new inode: a re-export replaced the file.
	other := filepath.Join(dir, "new.evtx")
	writeChunks(t, src, other, 5)
	require.NoError(t, os.Rename(other, path))
	same, err = id.SameFile(path)
	require.NoError(t, err)
	if id.Index != 0 {
		require.False(t, same, "a new inode is a new file")
	}

	// Rewritten in place with another log: the first record differs.
	id, err = IdentifyFile(path)
	require.NoError(t, err)
	writeChunks(t, filepath.Join(sharedTestdata(t), "evtx-public", "evtx__security.evtx"), path, 2)
	same, err = id.SameFile(path)
	require.NoError(t, err)
	require.False(t, same, "other content in place is another file")

	// Shorter than before: truncated or rewritten, not grown.
	id, err = IdentifyFile(path)
	require.NoError(t, err)
	writeChunks(t, filepath.Join(sharedTestdata(t), "evtx-public", "evtx__security.evtx"), path, 1)
	same, err = id.SameFile(path)
	require.NoError(t, err)
	require.False(t, same)
}

func TestIdentifyTextFileGrowsByAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.xml")
	require.NoError(t, os.WriteFile(path, []byte("<Events>\n<Event>one</Event>\n"), 0o644))
	id, err := IdentifyFile(path)
	require.NoError(t, err)
	require.Equal(t, int64(0), id.PrintOffset)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("<Event>two</Event>\n</Events>\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	same, err := id.SameFile(path)
	require.NoError(t, err)
	require.True(t, same)
}

func TestFileReadIncremental(t *testing.T) {
	src := manyEventsSample(t)
	path := filepath.Join(t.TempDir(), "Application.evtx")
	writeChunks(t, src, path, 2)

	// First read, no look-back: everything.
	fr, err := OpenFileAfter(path, FilePosition{}, time.Time{}, Options{})
	require.NoError(t, err)
	require.Equal(t, ResumeFresh, fr.Resume().Kind)
	first := readAll(t, fr)
	require.NoError(t, fr.Close())
	require.NotEmpty(t, first)
	pos := fr.Position()
	last := first[len(first)-1]
	require.Equal(t, last.RecordID, pos.Last.RecordID)
	require.Equal(t, last.Time, pos.Last.Time)

	// Nothing new: nothing read, position unchanged.
	fr, err = OpenFileAfter(path, pos, time.Time{}, Options{})
	require.NoError(t, err)
	require.Equal(t, ResumeContinue, fr.Resume().Kind)
	require.Empty(t, readAll(t, fr))
	require.NoError(t, fr.Close())
	require.Equal(t, pos.Last, fr.Position().Last)

	// The log grows by three chunks: only the new records come back.
	writeChunks(t, src, path, 5)
	fr, err = OpenFileAfter(path, pos, time.Time{}, Options{})
	require.NoError(t, err)
	require.Equal(t, ResumeContinue, fr.Resume().Kind)
	next := readAll(t, fr)
	require.NoError(t, fr.Close())
	require.NotEmpty(t, next)
	require.Equal(t, pos.Last.RecordID+1, next[0].RecordID, "continues right after the saved record")
	for _, ev := range next {
		require.Greater(t, ev.RecordID, pos.Last.RecordID)
	}

	// The same as reading the five chunks at once.
	fr, err = OpenFileAfter(path, FilePosition{}, time.Time{}, Options{})
	require.NoError(t, err)
	all := readAll(t, fr)
	require.NoError(t, fr.Close())
	require.Len(t, all, len(first)+len(next))
}

func TestFileReadLookbackAndReplacement(t *testing.T) {
	src := manyEventsSample(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "Application.evtx")
	writeChunks(t, src, path, 3)
	fr, err := OpenFileAfter(path, FilePosition{}, time.Time{}, Options{})
	require.NoError(t, err)
	all := readAll(t, fr)
	require.NoError(t, fr.Close())
	require.Greater(t, len(all), 10)

	// Look-back at the time of the event in the middle: older ones are not
	// returned, but the position still covers the whole file.
	mid := all[len(all)/2].Time
	fr, err = OpenFileAfter(path, FilePosition{}, mid, Options{})
	require.NoError(t, err)
	recent := readAll(t, fr)
	require.NoError(t, fr.Close())
	require.NotEmpty(t, recent)
	require.Less(t, len(recent), len(all))
	for _, ev := range recent {
		require.False(t, ev.Time.Before(mid))
	}
	require.Equal(t, all[len(all)-1].RecordID, fr.Position().Last.RecordID)

	// Save a position in the middle, then replace the file (re-export):
	// resume by time, with a note, and only newer events come back.
	saved := FilePosition{Last: Position{RecordID: all[len(all)/2].RecordID, Time: all[len(all)/2].Time}}
	saved.File, err = IdentifyFile(path)
	require.NoError(t, err)
	tmp := filepath.Join(dir, "tmp.evtx")
	writeChunks(t, src, tmp, 4)
	require.NoError(t, os.Rename(tmp, path))
	fr, err = OpenFileAfter(path, saved, time.Time{}, Options{})
	require.NoError(t, err)
	if saved.File.Index == 0 {
		t.Skip("no inode on this file system: a byte-identical replacement is indistinguishable")
	}
	require.Equal(t, ResumeCleared, fr.Resume().Kind)
	require.Contains(t, fr.Resume().Note, "replaced")
	after := readAll(t, fr)
	require.NoError(t, fr.Close())
	require.NotEmpty(t, after)
	for _, ev := range after {
		require.True(t, afterByTime(saved.Last, ev))
	}
	require.Empty(t, fr.Gap(), "the new file overlaps the old one")
}
