package notify

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Previewer renders exactly what a channel would send for alerts (the
// email as RFC 5322 text, the Slack request body), without sending it.
type Previewer interface {
	Preview(alerts ...Alert) ([]byte, error)
}

// Console is the dry-run notifier: it writes what would be sent to w
// instead of sending it.
type Console struct {
	mu      sync.Mutex
	w       io.Writer
	name    string
	preview Previewer
}

var _ Notifier = (*Console)(nil)

// NewConsole returns a console notifier for the named channel. With a nil
// Previewer it writes RenderText.
func NewConsole(w io.Writer, name string, p Previewer) *Console {
	return &Console{w: w, name: name, preview: p}
}

// DryRun marks the console as a notifier that sends nothing, so the
// dispatcher logs "printed", not "sent".
func (c *Console) DryRun() bool { return true }

// Notify writes the rendered message. Rendering errors are not retryable.
func (c *Console) Notify(_ context.Context, alerts ...Alert) (bool, error) {
	var body []byte
	if c.preview != nil {
		b, err := c.preview.Preview(alerts...)
		if err != nil {
			return false, fmt.Errorf("render %s message: %w", c.name, err)
		}
		body = b
	} else {
		body = []byte(RenderText(alerts))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintf(c.w, "===== %s (dry run: not sent) =====\n%s\n", c.name, body); err != nil {
		return false, fmt.Errorf("write dry run: %w", err)
	}
	return false, nil
}
