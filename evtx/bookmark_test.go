package evtx

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseBookmarkXML(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    BookmarkList
		wantErr string
	}{
		"as rendered by Windows": {
			in:   "<BookmarkList>\r\n  <Bookmark Channel='System' RecordId='123' IsCurrent='true'/>\r\n</BookmarkList>",
			want: BookmarkList{Bookmarks: []Bookmark{{Channel: "System", RecordID: 123, Current: true}}},
		},
		"several channels, one current": {
			in: `<BookmarkList Direction='backward'><Bookmark Channel='Application' RecordId='7'/>` +
				`<Bookmark Channel='Microsoft-Windows-DNSServer/Audit' RecordId='18446744073709551615' IsCurrent='True'/></BookmarkList>`,
			want: BookmarkList{Direction: "backward", Bookmarks: []Bookmark{
				{Channel: "Application", RecordID: 7},
				{Channel: "Microsoft-Windows-DNSServer/Audit", RecordID: 18446744073709551615, Current: true},
			}},
		},
		"escaped channel name": {
			in:   `<BookmarkList><Bookmark Channel='a&apos;b&amp;c' RecordId='1'/></BookmarkList>`,
			want: BookmarkList{Bookmarks: []Bookmark{{Channel: "a'b&c", RecordID: 1}}},
		},
		"empty list":         {in: `<BookmarkList></BookmarkList>`, wantErr: "no Bookmark element"},
		"not xml":            {in: `RecordId=12`, wantErr: "bad bookmark XML"},
		"wrong root":         {in: `<QueryList/>`, wantErr: "bad bookmark XML"},
		"record id not int":  {in: `<BookmarkList><Bookmark Channel='System' RecordId='x1'/></BookmarkList>`, wantErr: `RecordId "x1" is not a number`},
		"record id negative": {in: `<BookmarkList><Bookmark Channel='System' RecordId='-1'/></BookmarkList>`, wantErr: "not a number"},
		"no channel":         {in: `<BookmarkList><Bookmark RecordId='1'/></BookmarkList>`, wantErr: "has no Channel"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBookmarkXML(tc.in)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrBadBookmark)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestBookmarkXMLRoundTrip(t *testing.T) {
	want := "<BookmarkList>\r\n  <Bookmark Channel='System' RecordId='123' IsCurrent='true'/>\r\n</BookmarkList>"
	require.Equal(t, want, NewBookmarkXML("System", 123))

	l := BookmarkList{Direction: "backward", Bookmarks: []Bookmark{
		{Channel: `odd'<name>&"x"`, RecordID: 1},
		{Channel: "Application", RecordID: 99, Current: true},
	}}
	back, err := ParseBookmarkXML(l.XML())
	require.NoError(t, err)
	require.Equal(t, l, back)

	id, ok := back.RecordID("application")
	require.True(t, ok)
	require.Equal(t, uint64(99), id)
	_, ok = back.RecordID("Security")
	require.False(t, ok)
}

func FuzzParseBookmarkXML(f *testing.F) {
	f.Add(NewBookmarkXML("System", 5))
	f.Add(`<BookmarkList><Bookmark Channel='a' RecordId='1'/><Bookmark Channel='b' RecordId='2' IsCurrent='true'/></BookmarkList>`)
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseBookmarkXML(s)
		if err != nil {
			return
		}
		back, err := ParseBookmarkXML(l.XML())
		require.NoError(t, err)
		require.Equal(t, len(l.Bookmarks), len(back.Bookmarks))
		for i := range l.Bookmarks {
			require.Equal(t, l.Bookmarks[i].RecordID, back.Bookmarks[i].RecordID)
			require.Equal(t, l.Bookmarks[i].Current, back.Bookmarks[i].Current)
		}
	})
}
