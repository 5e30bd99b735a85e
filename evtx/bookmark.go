package evtx

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bookmark is one channel's read position as the Windows Event Log service
// writes it in bookmark XML (EvtRender with EvtRenderBookmark):
//
//	<BookmarkList>
//	  <Bookmark Channel='System' RecordId='123' IsCurrent='true'/>
//	</BookmarkList>
//
// The XML is the form we persist: it is what EvtCreateBookmark accepts back,
// and it is plain text a person can read in the state file. Parsing and
// building it is portable; only turning it into a bookmark handle is Windows
// code (live_windows.go).
type Bookmark struct {
	Channel  string
	RecordID uint64
	// Current marks the bookmark of the channel the last event came from,
	// when one query spans several channels.
	Current bool
}

// BookmarkList is a parsed bookmark XML document: one Bookmark per channel
// the query read.
type BookmarkList struct {
	// Direction is "backward" for a reverse-direction query, empty otherwise.
	Direction string
	Bookmarks []Bookmark
}

// ErrBadBookmark is returned for bookmark XML that cannot be used.
var ErrBadBookmark = errors.New("bad bookmark XML")

type bookmarkListXML struct {
	XMLName   xml.Name      `xml:"BookmarkList"`
	Direction string        `xml:"Direction,attr"`
	Bookmarks []bookmarkXML `xml:"Bookmark"`
}

type bookmarkXML struct {
	Channel   string `xml:"Channel,attr"`
	RecordID  string `xml:"RecordId,attr"`
	IsCurrent string `xml:"IsCurrent,attr"`
}

// ParseBookmarkXML decodes bookmark XML as rendered by Windows.
func ParseBookmarkXML(s string) (BookmarkList, error) {
	var raw bookmarkListXML
	if err := xml.Unmarshal([]byte(s), &raw); err != nil {
		return BookmarkList{}, fmt.Errorf("%w: %v", ErrBadBookmark, err)
	}
	if len(raw.Bookmarks) == 0 {
		return BookmarkList{}, fmt.Errorf("%w: no Bookmark element", ErrBadBookmark)
	}
	l := BookmarkList{Direction: raw.Direction}
	for i, b := range raw.Bookmarks {
		if b.Channel == "" {
			return BookmarkList{}, fmt.Errorf("%w: bookmark %d has no Channel", ErrBadBookmark, i+1)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(b.RecordID), 10, 64)
		if err != nil {
			return BookmarkList{}, fmt.Errorf("%w: bookmark for %q: RecordId %q is not a number", ErrBadBookmark, b.Channel, b.RecordID)
		}
		l.Bookmarks = append(l.Bookmarks, Bookmark{
			Channel:  b.Channel,
			RecordID: id,
			Current:  strings.EqualFold(strings.TrimSpace(b.IsCurrent), "true"),
		})
	}
	return l, nil
}

// NewBookmarkXML builds the bookmark XML for one channel positioned at
// recordID, in the exact shape Windows renders, so EvtCreateBookmark accepts
// it (used to resume from a record ID when only that was saved).
func NewBookmarkXML(channel string, recordID uint64) string {
	return BookmarkList{Bookmarks: []Bookmark{{Channel: channel, RecordID: recordID, Current: true}}}.XML()
}

// XML renders the list the way Windows does (single-quoted attributes, one
// bookmark per line).
func (l BookmarkList) XML() string {
	var b strings.Builder
	b.WriteString("<BookmarkList")
	if l.Direction != "" {
		b.WriteString(" Direction='")
		b.WriteString(escapeQueryAttr(l.Direction))
		b.WriteString("'")
	}
	b.WriteString(">\r\n")
	for _, bm := range l.Bookmarks {
		fmt.Fprintf(&b, "  <Bookmark Channel='%s' RecordId='%d'", escapeQueryAttr(bm.Channel), bm.RecordID)
		if bm.Current {
			b.WriteString(" IsCurrent='true'")
		}
		b.WriteString("/>\r\n")
	}
	b.WriteString("</BookmarkList>")
	return b.String()
}

// RecordID returns the bookmarked record ID for channel (case-insensitive,
// as channel names are on Windows).
func (l BookmarkList) RecordID(channel string) (uint64, bool) {
	for _, b := range l.Bookmarks {
		if strings.EqualFold(b.Channel, channel) {
			return b.RecordID, true
		}
	}
	return 0, false
}
