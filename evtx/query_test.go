package evtx

import (
	"encoding/xml"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ExampleQuery_QueryList() {
	q := Query{
		Channel:       "Application",
		Providers:     []string{"Server ActiveSync"},
		EventIDs:      []uint16{3024, 3015},
		Levels:        []Level{LevelError, LevelWarning},
		AfterRecordID: 41200,
	}
	s, err := q.QueryList()
	if err != nil {
		panic(err)
	}
	fmt.Println(s)
	// Output:
	// <QueryList><Query Id='0' Path='Application'><Select Path='Application'>*[System[Provider[@Name='Server ActiveSync' or @EventSourceName='Server ActiveSync'] and (EventID=3015 or EventID=3024) and (Level=2 or Level=3) and EventRecordID&gt;41200]]</Select></Query></QueryList>
}

func TestQueryXPath(t *testing.T) {
	many := make([]uint16, 0, 30)
	for i := range 30 {
		many = append(many, uint16(100+2*i)) // no runs: 30 clauses
	}
	tests := map[string]struct {
		q       Query
		want    string
		wantErr string
	}{
		"everything": {q: Query{Channel: "System"}, want: "*"},
		"one id":     {q: Query{EventIDs: []uint16{7000}}, want: "*[System[EventID=7000]]"},
		"runs become ranges, duplicates dropped": {
			q:    Query{EventIDs: []uint16{7031, 7000, 7023, 7024, 7025, 7024, 7001}},
			want: "*[System[(EventID=7000 or EventID=7001 or (EventID>=7023 and EventID<=7025) or EventID=7031)]]",
		},
		"too many ids are left to the caller": {
			q:    Query{EventIDs: many, Levels: []Level{LevelError}},
			want: "*[System[Level=2]]",
		},
		"since is UTC with milliseconds": {
			q:    Query{Since: time.Date(2024, 3, 1, 12, 30, 0, 123456789, time.FixedZone("CET", 3600))},
			want: "*[System[TimeCreated[@SystemTime>='2024-03-01T11:30:00.123Z']]]",
		},
		"provider with apostrophe uses double quotes": {
			q:    Query{Providers: []string{"Bob's service"}},
			want: `*[System[Provider[@Name="Bob's service" or @EventSourceName="Bob's service"]]]`,
		},
		"provider with both quotes": {
			q:       Query{Providers: []string{`a'b"c`}},
			wantErr: "both quote characters",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.q.XPath()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestQueryListIsWellFormedXML(t *testing.T) {
	q := Query{
		Channel:   `Odd<Channel>&'name'`,
		Providers: []string{`x<y&z`},
		EventIDs:  []uint16{1, 2, 3},
		Since:     time.Unix(0, 0),
	}
	s, err := q.QueryList()
	require.NoError(t, err)
	var doc struct {
		Query struct {
			Path   string `xml:"Path,attr"`
			Select struct {
				Path string `xml:"Path,attr"`
				Text string `xml:",chardata"`
			}
		}
	}
	require.NoError(t, xml.Unmarshal([]byte(s), &doc))
	require.Equal(t, q.Channel, doc.Query.Path)
	require.Equal(t, q.Channel, doc.Query.Select.Path)
	xp, err := q.XPath()
	require.NoError(t, err)
	require.Equal(t, xp, doc.Query.Select.Text)

	_, err = Query{}.QueryList()
	require.ErrorContains(t, err, "no channel")
}
