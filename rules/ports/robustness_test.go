package ports

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Damaged captures: every problem names file and line, stays short enough
// to read on a terminal, and nothing from the damage ends up as data.

func TestProblemsQuoteLongRowsShortly(t *testing.T) {
	huge := "  UDP " + strings.Repeat("A", 1<<20)
	data := crlf(netstat2003 + huge + "\n  UDP    0.0.0.0:4500           *:*                                    664\n")
	snap, _, probs, err := ParseCapture("big.txt", bytes.NewReader(data))
	require.NoError(t, err)
	require.Len(t, probs, 1)
	msg := probs[0].Error()
	require.True(t, strings.HasPrefix(msg, "big.txt:14: row too short"), msg)
	require.Less(t, len(msg), 300, "a 1 MB row must not be repeated in the problem")
	require.True(t, utf8.ValidString(msg))
	require.Len(t, snap.Lookup(UDP, 4500), 1, "rows after the long one are still read")
}

func TestNetstatOwnerLinesRejectBinaryGarbage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(r.IntN(256))
	}
	data := append(crlf(netstatOwners2019), garbage...)
	snap, _, probs, err := ParseCapture("mixed.bin", bytes.NewReader(data))
	require.NoError(t, err)
	require.NotEmpty(t, probs, "binary data after the table must be reported")
	for _, p := range probs {
		require.True(t, strings.HasPrefix(p.Error(), "mixed.bin:"), p.Error())
	}
	// The last row's process (svchost.exe, IKEEXT) gains no services made
	// of garbage.
	require.Equal(t, []string{"IKEEXT"}, snap.Processes[2996].Services)
	for _, p := range snap.Processes {
		for _, s := range p.Services {
			require.True(t, plausibleServiceName(s), "service %q", s)
		}
	}
}

func TestServiceNamesAreServiceKeys(t *testing.T) {
	for _, ok := range []string{"DNS", "MSSQL$SHAREPOINT", "RpcSs", "W32Time", "Dnscache", "BESClient", "CDPUserSvc_4a2b1", "MSExchangeIS", "{2BEE1E55-0000}", "ÜberDienst"} {
		require.True(t, plausibleServiceName(ok), ok)
	}
	// "N/D" is how Spanish, Italian and Portuguese tasklist say N/A;
	// service key names can hold neither slash.
	for _, bad := range []string{"", "N/D", `a\b`, "two words", "x\x01y", "╦2ÿál", "-- unknown component(s) --"} {
		require.False(t, plausibleServiceName(bad), bad)
	}
	require.Equal(t, []string{"Dhcp", "IAS"}, splitServices("Dhcp, N/D, IAS"))
}
