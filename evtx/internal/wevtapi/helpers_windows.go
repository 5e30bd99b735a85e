package wevtapi

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Close closes h if it is valid and ignores the error: closing is cleanup
// and there is nothing useful to do when it fails.
func Close(h Handle) {
	if h != 0 {
		_ = EvtClose(h)
	}
}

// RenderXML renders an event handle as event XML (EvtRenderEventXml).
func RenderXML(event Handle) (string, error) {
	return render(event, EvtRenderEventXML)
}

// RenderBookmark renders a bookmark handle as bookmark XML.
func RenderBookmark(bookmark Handle) (string, error) {
	return render(bookmark, EvtRenderBookmark)
}

// render asks for the size first, then renders into a buffer of that size.
// The buffer size and BufferUsed are in bytes, the text is UTF-16.
func render(h Handle, flags uint32) (string, error) {
	var used, props uint32
	err := EvtRender(0, h, flags, 0, nil, &used, &props)
	if err == nil {
		return "", nil
	}
	if !errors.Is(err, windows.Errno(ErrorInsufficientBuffer)) {
		return "", fmt.Errorf("EvtRender: %w", err)
	}
	buf := make([]uint16, (used+1)/2+1)
	if err := EvtRender(0, h, flags, uint32(len(buf)*2), (*byte)(unsafe.Pointer(&buf[0])), &used, &props); err != nil {
		return "", fmt.Errorf("EvtRender: %w", err)
	}
	return windows.UTF16ToString(buf[:used/2]), nil
}

// FormatMessage renders an event's message with its publisher's message
// table (EvtFormatMessage with EvtFormatMessageEvent). A message with
// unresolved inserts is still returned, as Event Viewer shows it.
func FormatMessage(publisher, event Handle) (string, error) {
	var used uint32
	err := EvtFormatMessage(publisher, event, 0, 0, nil, EvtFormatMessageEvent, 0, nil, &used)
	if err == nil {
		return "", nil
	}
	// The sizing call is documented to fail with ERROR_INSUFFICIENT_BUFFER;
	// should it report an unresolved insert first, a size it gave is still
	// used, since the message is returned with the insert left as is.
	if !errors.Is(err, windows.Errno(ErrorInsufficientBuffer)) && !(partialMessage(err) && used > 0) {
		return "", fmt.Errorf("EvtFormatMessage: %w", err)
	}
	buf := make([]uint16, used+1) // BufferSize and BufferUsed count characters here, not bytes
	err = EvtFormatMessage(publisher, event, 0, 0, nil, EvtFormatMessageEvent, uint32(len(buf)), &buf[0], &used)
	if err == nil || partialMessage(err) {
		return windows.UTF16ToString(buf), nil
	}
	return "", fmt.Errorf("EvtFormatMessage: %w", err)
}

// partialMessage reports the EvtFormatMessage errors that still fill the
// buffer: an insert that could not be resolved is left in the text, as
// Event Viewer shows it.
func partialMessage(err error) bool {
	return errors.Is(err, windows.Errno(ErrorEvtUnresolvedValueInsert)) ||
		errors.Is(err, windows.Errno(ErrorEvtUnresolvedParameterInsert)) ||
		errors.Is(err, windows.Errno(ErrorEvtMaxInsertsReached))
}

// OpenPublisher opens a provider's metadata for FormatMessage (locale 0:
// the caller's). The handle must be closed.
func OpenPublisher(provider string) (Handle, error) {
	p, err := windows.UTF16PtrFromString(provider)
	if err != nil {
		return 0, err
	}
	h, err := EvtOpenPublisherMetadata(0, p, nil, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("EvtOpenPublisherMetadata %s: %w", provider, err)
	}
	return h, nil
}

// LogRange returns the oldest record number and the record count of a
// channel (EvtGetLogInfo).
func LogRange(channel string) (oldest, count uint64, err error) {
	p, err := windows.UTF16PtrFromString(channel)
	if err != nil {
		return 0, 0, err
	}
	h, err := EvtOpenLog(0, p, EvtOpenChannelPath)
	if err != nil {
		return 0, 0, fmt.Errorf("EvtOpenLog %s: %w", channel, err)
	}
	defer Close(h)
	get := func(prop uint32) (uint64, error) {
		var v Variant
		var used uint32
		if err := EvtGetLogInfo(h, prop, uint32(unsafe.Sizeof(v)), &v, &used); err != nil {
			return 0, fmt.Errorf("EvtGetLogInfo %s: %w", channel, err)
		}
		switch v.Type {
		case EvtVarTypeNull:
			return 0, nil
		case EvtVarTypeUInt32:
			return uint64(uint32(v.Value)), nil
		}
		return v.Value, nil
	}
	if oldest, err = get(EvtLogOldestRecordNumber); err != nil {
		return 0, 0, err
	}
	if count, err = get(EvtLogNumberOfLogRecords); err != nil {
		return 0, 0, err
	}
	return oldest, count, nil
}
