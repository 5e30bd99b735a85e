package evtx

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedTestdata returns the shared sample corpus (../shared/testdata beside
// the repository checkout), skipping the test when it is not there so a bare
// clone still passes.
func sharedTestdata(t testing.TB) string {
	t.Helper()
	// Tests run in the package directory, one level below the repo root.
	dir := filepath.Join("..", "..", "shared", "testdata")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("shared samples not found at %s (expected ../shared/testdata beside the checkout)", dir)
	}
	return dir
}
