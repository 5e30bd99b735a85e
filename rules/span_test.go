package rules_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evtwatch/evtwatch/rules"
)

// A rule window prints the same in the text report (String) as in JSON.
func TestSpanText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		90 * time.Minute:   "1h30m",
		30 * time.Minute:   "30m",
		24 * time.Hour:     "1d",
		7 * 24 * time.Hour: "7d",
		51 * time.Hour:     "2d3h",
	} {
		s := rules.Span(d)
		require.Equal(t, want, s.String(), d)
		require.Equal(t, want, fmt.Sprintf("%s", s), d)
		b, err := json.Marshal(s)
		require.NoError(t, err)
		require.JSONEq(t, `"`+want+`"`, string(b), d)
	}
}
