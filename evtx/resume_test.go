package evtx

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPlanResume(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	lookback := t0.Add(-24 * time.Hour)
	saved := Position{RecordID: 500, Time: t0}
	tests := map[string]struct {
		saved    Position
		log      LogRange
		savedNow time.Time
		found    bool
		want     Resume
	}{
		"first run uses the look-back": {
			log:  LogRange{Oldest: 1, Count: 900},
			want: Resume{Kind: ResumeFresh, Since: lookback},
		},
		"saved record still there": {
			saved: saved, log: LogRange{Oldest: 100, Count: 900}, savedNow: t0, found: true,
			want: Resume{Kind: ResumeContinue, AfterRecordID: 500},
		},
		"saved record is the newest (caught up)": {
			saved: saved, log: LogRange{Oldest: 1, Count: 500}, savedNow: t0, found: true,
			want: Resume{Kind: ResumeContinue, AfterRecordID: 500},
		},
		"saved record just rolled out: nothing lost": {
			saved: saved, log: LogRange{Oldest: 501, Count: 10},
			want: Resume{Kind: ResumeContinue, AfterRecordID: 500},
		},
		"log wrapped past us": {
			saved: saved, log: LogRange{Oldest: 731, Count: 1000},
			want: Resume{Kind: ResumeRolledOver, AfterRecordID: 730, Missed: 230},
		},
		"log cleared: IDs restarted below ours": {
			saved: saved, log: LogRange{Oldest: 1, Count: 20},
			want: Resume{Kind: ResumeCleared, Since: t0, MissedUnknown: true},
		},
		"log cleared and empty": {
			saved: saved, log: LogRange{},
			want: Resume{Kind: ResumeCleared, Since: t0, MissedUnknown: true},
		},
		"log cleared and refilled past our ID: time differs": {
			saved: saved, log: LogRange{Oldest: 1, Count: 800}, savedNow: t0.Add(3 * time.Hour), found: true,
			want: Resume{Kind: ResumeCleared, Since: t0, MissedUnknown: true},
		},
		"time rendering differs by rounding only": {
			saved: saved, log: LogRange{Oldest: 1, Count: 800}, savedNow: t0.Add(999 * time.Microsecond), found: true,
			want: Resume{Kind: ResumeContinue, AfterRecordID: 500},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := PlanResume(tc.saved, lookback, tc.log, tc.savedNow, tc.found)
			require.Equal(t, tc.want, got)
			if got.Kind == ResumeRolledOver || got.Kind == ResumeCleared {
				require.NotEmpty(t, got.Warning("System", tc.saved))
			} else {
				require.Empty(t, got.Warning("System", tc.saved))
			}
		})
	}
}

func TestResumeWarningSaysWhatWasMissed(t *testing.T) {
	saved := Position{RecordID: 500, Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	r := PlanResume(saved, time.Time{}, LogRange{Oldest: 731, Count: 1000}, time.Time{}, false)
	require.Equal(t, "System: the log rolled over since the last run (saved record 500 is gone): up to 230 record(s) were overwritten before they could be read; continuing from record 731", r.Warning("System", saved))
	r = PlanResume(saved, time.Time{}, LogRange{Oldest: 1, Count: 3}, time.Time{}, false)
	require.Contains(t, r.Warning("System", saved), "their number is unknown")
	require.Contains(t, r.Warning("System", saved), "2024-05-01T10:00:00Z")
}

func TestPositionAfter(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	p := Position{RecordID: 10, Time: t0}
	require.True(t, p.After(&Event{RecordID: 11, Time: t0.Add(-time.Hour)}), "record IDs win when both have one")
	require.False(t, p.After(&Event{RecordID: 10, Time: t0.Add(time.Hour)}))
	require.True(t, Position{Time: t0}.After(&Event{Time: t0.Add(time.Second)}))
	require.False(t, Position{Time: t0}.After(&Event{Time: t0}))
	require.True(t, Position{}.After(&Event{}))
}
