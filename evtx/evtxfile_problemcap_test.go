package evtx

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEVTXProblemsAreBounded damages every record of a real log, every
// other one so that it is lost (record signature) and the rest so that it
// is emitted with an error (BinXML): the readers list the first problems
// and sum up the rest in one, with the exact count of lost records, as the
// other formats' readers do. Sequential and parallel readers agree.
func TestEVTXProblemsAreBounded(t *testing.T) {
	quietEVTXLibrary(t)
	fx := loadEVTXFixture(t, "plaso__System.evtx")
	data := bytes.Clone(fx.data)
	lost, undecoded := 0, 0
	for i, ev := range fx.all {
		off := ev.Origin.Offset
		if i%2 == 0 {
			copy(data[off:], "ZZ")
			lost++
		} else {
			data[off+evtxRecordHeaderSize] = 0xff // not a fragment header
			undecoded++
		}
	}
	require.Greater(t, lost+undecoded, 2*maxListedProblems)
	path := writeTemp(t, data)

	read := func(t *testing.T, workers int) ([]*Event, []Problem) {
		var r Reader
		var err error
		if workers == 0 {
			r, err = Open(path, Options{})
		} else {
			r, err = OpenParallel(path, Options{}, workers)
			require.IsType(t, &parallelEVTX{}, r)
		}
		require.NoError(t, err)
		defer func() { require.NoError(t, r.Close()) }()
		return readAllReader(t, r), r.Problems()
	}
	evs, problems := read(t, 0)
	require.Len(t, evs, undecoded, "records whose BinXML is broken are still emitted")
	require.Len(t, problems, maxListedProblems+1)
	skipped := 0
	for i, p := range problems {
		require.Equal(t, path, p.Path)
		if i > 0 {
			require.Greater(t, p.Offset, problems[i-1].Offset, "in file order")
		}
		skipped += p.Skipped
	}
	require.Equal(t, lost, skipped, "every lost record is counted")
	last := problems[maxListedProblems]
	require.Equal(t, int64(-1), last.ChunkOffset)
	require.ErrorContains(t, last, "more problems from here on, not listed (only the first 1000 are)")
	wantMore := lost + undecoded - maxListedProblems
	require.ErrorContains(t, last, ": "+strconv.Itoa(wantMore)+" more problems")

	pevs, pproblems := read(t, 3)
	require.Equal(t, evs, pevs)
	require.Equal(t, problems, pproblems)
}
