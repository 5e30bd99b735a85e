package evtx

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// eventJSON overrides the fields whose natural JSON encoding would mislead:
// keywords as a hex string, as Windows shows them (a uint64 above 2^53 also
// loses precision in most JSON parsers), and binary data as hex, as in the
// <Binary> element, rather than base64.
type eventJSON struct {
	plainEvent
	Keywords string `json:"keywords,omitempty"`
	Binary   string `json:"binary,omitempty"`
}

type plainEvent Event

// MarshalJSON writes keywords ("0x8080000000000000") and binary data (hex)
// the way Windows tools show them.
func (e Event) MarshalJSON() ([]byte, error) {
	out := eventJSON{plainEvent: plainEvent(e)}
	if e.Keywords != 0 {
		out.Keywords = "0x" + strconv.FormatUint(e.Keywords, 16)
	}
	if len(e.Binary) > 0 {
		out.Binary = strings.ToUpper(hex.EncodeToString(e.Binary))
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var in eventJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*e = Event(in.plainEvent)
	e.Keywords, e.Binary = 0, nil
	if in.Keywords != "" {
		k, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(in.Keywords), "0x"), 16, 64)
		if err != nil {
			return fmt.Errorf("event keywords %q: %w", in.Keywords, err)
		}
		e.Keywords = k
	}
	if in.Binary != "" {
		bin, err := hex.DecodeString(in.Binary)
		if err != nil {
			return fmt.Errorf("event binary data: %w", err)
		}
		e.Binary = bin
	}
	return nil
}
