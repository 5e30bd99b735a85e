package evtx

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// bigEVTX builds a ~120 MB .evtx in dir with the shared mkbig-evtx.py (real
// chunks of the sample logs, renumbered).
func bigEVTX(dir string) (string, error) {
	tool := filepath.Join("..", "..", "shared", "tools", "mkbig-evtx.py")
	src := filepath.Join("..", "..", "shared", "testdata", "evtx-public")
	if _, err := os.Stat(tool); err != nil {
		return "", err
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "big.evtx")
	cmd := exec.Command(py, tool, out, "120",
		filepath.Join(src, "many-events-application.evtx"),
		filepath.Join(src, "evtx__system.evtx"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New(string(b))
	}
	return out, nil
}

// lastRecordID reads the last chunk header's last record number.
func lastRecordID(b *testing.B, path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	hdr := make([]byte, 24)
	if _, err := f.ReadAt(hdr, st.Size()-65536); err != nil {
		b.Fatal(err)
	}
	return binary.LittleEndian.Uint64(hdr[16:])
}

// BenchmarkFileReadCaughtUp is a scheduled scan of a 120 MB log that has
// nothing new: identify the file, open it after the saved record, find
// nothing. It must cost milliseconds (chunks are skipped by their header's
// record range), not a re-parse.
func BenchmarkFileReadCaughtUp(b *testing.B) {
	path, err := bigEVTX(b.TempDir()) // b.Loop runs this function once
	if err != nil {
		b.Skipf("cannot build the big .evtx (needs python3 and ../shared): %v", err)
	}
	id, err := IdentifyFile(path)
	if err != nil {
		b.Fatal(err)
	}
	last := lastRecordID(b, path)
	pos := FilePosition{File: id, Last: Position{RecordID: last}}
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size())/1e6, "MB")
	b.ReportMetric(float64(last), "records")
	b.ResetTimer()
	for b.Loop() {
		fr, err := OpenFileAfter(path, pos, time.Time{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		ev, err := fr.Next(context.Background())
		if !errors.Is(err, io.EOF) {
			b.Fatalf("caught-up read returned %v, %v", ev, err)
		}
		fr.Close()
	}
}

// BenchmarkFileReadFirstRun reads the whole 120 MB log, which is what every
// scheduled scan would cost without positions; run it with -benchtime=1x.
func BenchmarkFileReadFirstRun(b *testing.B) {
	path, err := bigEVTX(b.TempDir())
	if err != nil {
		b.Skipf("cannot build the big .evtx (needs python3 and ../shared): %v", err)
	}
	var n int
	for b.Loop() {
		fr, err := OpenFileAfter(path, FilePosition{}, time.Time{}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n = 0
		for {
			_, err := fr.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		fr.Close()
	}
	b.ReportMetric(float64(n), "events/op")
}
