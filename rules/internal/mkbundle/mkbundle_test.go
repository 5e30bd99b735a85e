package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the bundles under testdata/ at the repository root")

// root is the repository's testdata folder, where the bundles live.
var root = filepath.Join("..", "..", "..", "testdata")

// TestBundlesAreCurrent regenerates every bundle and compares it with the
// committed files byte for byte, so the README's sample cannot drift from
// its generator (and the generator is shown to be deterministic).
func TestBundlesAreCurrent(t *testing.T) {
	bs, err := bundles()
	require.NoError(t, err)
	again, err := bundles()
	require.NoError(t, err)
	for i, b := range bs {
		for name, data := range b.files {
			require.True(t, bytes.Equal(data, again[i].files[name]), "%s/%s differs between two runs", b.name, name)
		}
		if *update {
			require.NoError(t, b.write(root))
			continue
		}
		dir := filepath.Join(root, b.name)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "run: go test ./rules/internal/mkbundle -update")
		var onDisk, want []string
		for _, e := range entries {
			onDisk = append(onDisk, e.Name())
		}
		for name := range b.files {
			want = append(want, name)
		}
		sort.Strings(want)
		require.Equal(t, want, onDisk, "files in %s", dir)
		for name, data := range b.files {
			got, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "%s/%s is stale: run go test ./rules/internal/mkbundle -update", b.name, name)
		}
	}
}
