package wevtapi

// Functions from winevt.h, https://learn.microsoft.com/windows/win32/api/winevt/.
// A zero Handle for session means the local computer. EvtSubscribe is used
// in pull mode only (signal event, nil callback), so no Go callback ever runs
// on a thread the Event Log service owns.

//sys	EvtQuery(session Handle, path *uint16, query *uint16, flags uint32) (handle Handle, err error) = wevtapi.EvtQuery
//sys	EvtSubscribe(session Handle, signalEvent windows.Handle, channelPath *uint16, query *uint16, bookmark Handle, context uintptr, callback uintptr, flags uint32) (handle Handle, err error) = wevtapi.EvtSubscribe
//sys	EvtNext(resultSet Handle, eventsSize uint32, events *Handle, timeout uint32, flags uint32, returned *uint32) (err error) = wevtapi.EvtNext
//sys	EvtSeek(resultSet Handle, position int64, bookmark Handle, timeout uint32, flags uint32) (err error) = wevtapi.EvtSeek
//sys	EvtRender(context Handle, fragment Handle, flags uint32, bufferSize uint32, buffer *byte, bufferUsed *uint32, propertyCount *uint32) (err error) = wevtapi.EvtRender
//sys	EvtClose(object Handle) (err error) = wevtapi.EvtClose
//sys	EvtCreateBookmark(bookmarkXML *uint16) (handle Handle, err error) = wevtapi.EvtCreateBookmark
//sys	EvtUpdateBookmark(bookmark Handle, event Handle) (err error) = wevtapi.EvtUpdateBookmark
//sys	EvtOpenPublisherMetadata(session Handle, publisherID *uint16, logFilePath *uint16, locale uint32, flags uint32) (handle Handle, err error) = wevtapi.EvtOpenPublisherMetadata
//sys	EvtFormatMessage(publisherMetadata Handle, event Handle, messageID uint32, valueCount uint32, values *Variant, flags uint32, bufferSize uint32, buffer *uint16, bufferUsed *uint32) (err error) = wevtapi.EvtFormatMessage
//sys	EvtOpenLog(session Handle, path *uint16, flags uint32) (handle Handle, err error) = wevtapi.EvtOpenLog
//sys	EvtGetLogInfo(log Handle, propertyID uint32, bufferSize uint32, buffer *Variant, bufferUsed *uint32) (err error) = wevtapi.EvtGetLogInfo
