package evtx

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventAccessors(t *testing.T) {
	ev := Event{
		Provider: "Microsoft-Windows-DNS-Server-Service",
		Source:   "DNS",
		EventID:  3015, Qualifiers: 0xC000,
		Data: []Data{{Value: "0x80004005"}, {Value: "2883"}, {Name: "Address", Value: "0.0.0.0:443"}},
	}
	tests := map[string]struct {
		got  func() (string, bool)
		want string
		ok   bool
	}{
		"insertion 1":        {func() (string, bool) { return ev.Insertion(1) }, "0x80004005", true},
		"insertion 2":        {func() (string, bool) { return ev.Insertion(2) }, "2883", true},
		"insertion 3 named":  {func() (string, bool) { return ev.Insertion(3) }, "0.0.0.0:443", true},
		"insertion 0":        {func() (string, bool) { return ev.Insertion(0) }, "", false},
		"insertion past end": {func() (string, bool) { return ev.Insertion(4) }, "", false},
		"field any case":     {func() (string, bool) { return ev.Field("address") }, "0.0.0.0:443", true},
		"field missing":      {func() (string, bool) { return ev.Field("Port") }, "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := tc.got()
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
	require.Equal(t, uint32(0xC0000BC7), ev.FullEventID())
	require.Equal(t, "DNS", ev.SourceName())
	require.True(t, ev.FromProvider("dns"))
	require.True(t, ev.FromProvider("microsoft-windows-dns-server-service"))
	require.False(t, ev.FromProvider("DNS Server"))

	plain := Event{Provider: "Server ActiveSync"}
	require.Equal(t, "Server ActiveSync", plain.SourceName())
	require.False(t, plain.FromProvider(""))
}

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
		ok   bool
	}{
		{"Error", LevelError, true},
		{"warning", LevelWarning, true},
		{"Informational", LevelInformation, true},
		{"info", LevelInformation, true},
		{"CRITICAL", LevelCritical, true},
		{"4", LevelInformation, true},
		{"loud", 0, false},
		{"300", 0, false},
	} {
		got, ok := ParseLevel(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	require.Equal(t, "Error", LevelError.String())
	require.Equal(t, "Level9", Level(9).String())

	for _, tc := range []struct {
		typ   uint16
		level Level
		kw    uint64
	}{
		{EventTypeError, LevelError, KeywordClassic},
		{EventTypeWarning, LevelWarning, KeywordClassic},
		{EventTypeInformation, LevelInformation, KeywordClassic},
		{EventTypeAuditFailure, LevelLogAlways, KeywordClassic | KeywordAuditFailure},
		{EventTypeAuditSuccess, LevelLogAlways, KeywordClassic | KeywordAuditSuccess},
	} {
		l, kw := LevelFromEventType(tc.typ)
		require.Equal(t, tc.level, l)
		require.Equal(t, tc.kw, kw)
	}
}

func TestSniffBinary(t *testing.T) {
	require.Equal(t, FormatEVTX, Sniff([]byte("ElfFile\x00\x00\x00")))
	require.Equal(t, FormatEVT, Sniff([]byte{0x30, 0, 0, 0, 'L', 'f', 'L', 'e'}))
	require.Equal(t, FormatUnknown, Sniff(nil))
	require.Equal(t, FormatUnknown, Sniff([]byte("Active Connections\r\n\r\n  Proto  Local Address")))
}

func TestEventJSONRoundTrip(t *testing.T) {
	ev := Event{
		Provider: "DNS", EventID: 407, Level: LevelError,
		Keywords: 0x8080000000000000,
		Binary:   []byte{0x40, 0x27, 0, 0},
		Data:     []Data{{Value: "0.0.0.0"}},
		Origin:   Origin{Path: "x.evtx", Format: FormatEVTX, Offset: 512},
	}
	b, err := json.Marshal(&ev)
	require.NoError(t, err)
	require.Contains(t, string(b), `"keywords":"0x8080000000000000"`)
	require.Contains(t, string(b), `"binary":"40270000"`)
	require.NotContains(t, string(b), `"Keywords"`)
	var back Event
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, ev, back)

	b, err = json.Marshal(Event{Provider: "x"})
	require.NoError(t, err)
	require.NotContains(t, string(b), "keywords")
	require.NotContains(t, string(b), "binary")

	require.Error(t, json.Unmarshal([]byte(`{"keywords":"0xZZ"}`), &back))
	require.Error(t, json.Unmarshal([]byte(`{"binary":"4"}`), &back))
}
