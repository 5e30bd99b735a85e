package ports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// captureFiles lists a capture folder under testdata, as the CLI would
// (sorted, relative paths).
func captureFiles(t testing.TB, dir string) []string {
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, filepath.ToSlash(filepath.Join("testdata", dir, e.Name())))
	}
	sort.Strings(out)
	return out
}

func goldenCompare(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./rules/ports -update")
	require.Equal(t, string(want), string(got))
}

func TestGoldenPortsAndAudit(t *testing.T) {
	for _, dir := range []string{"sbs2003", "server2019"} {
		t.Run(dir, func(t *testing.T) {
			snap, facts, probs, err := LoadCaptures(captureFiles(t, dir)...)
			require.NoError(t, err)
			require.Empty(t, probs)

			var buf bytes.Buffer
			require.NoError(t, NewPortsReport(snap, 0).WriteText(&buf))
			goldenCompare(t, "ports-"+dir+".txt", buf.Bytes())

			rep := Audit(snap, facts, AuditOptions{})
			buf.Reset()
			require.NoError(t, rep.WriteText(&buf))
			goldenCompare(t, "audit-"+dir+".txt", buf.Bytes())

			js, err := json.MarshalIndent(rep, "", "  ")
			require.NoError(t, err)
			goldenCompare(t, "audit-"+dir+".json", append(js, '\n'))
		})
	}
}
