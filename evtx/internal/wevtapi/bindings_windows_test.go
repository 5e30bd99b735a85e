package wevtapi

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"
)

// TestBindingsResolve loads every function the bindings declare, so a
// misspelt export name fails here and not on a user's server. Wine exports
// them all (as stubs), so this runs in CI under Wine too.
func TestBindingsResolve(t *testing.T) {
	for _, p := range []*windows.LazyProc{
		procEvtClose, procEvtCreateBookmark, procEvtFormatMessage, procEvtGetLogInfo,
		procEvtNext, procEvtOpenLog, procEvtOpenPublisherMetadata, procEvtQuery,
		procEvtRender, procEvtSeek, procEvtSubscribe, procEvtUpdateBookmark,
	} {
		require.NoError(t, p.Find(), p.Name)
	}
}

// TestVariantLayout checks Variant against EVT_VARIANT: an 8-byte union,
// then the Count and Type DWORDs, 16 bytes in all.
func TestVariantLayout(t *testing.T) {
	var v Variant
	require.Equal(t, uintptr(16), unsafe.Sizeof(v))
	require.Equal(t, uintptr(8), unsafe.Offsetof(v.Count))
	require.Equal(t, uintptr(12), unsafe.Offsetof(v.Type))
}
