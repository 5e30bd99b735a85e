package wevtapi

// Handle is an EVT_HANDLE. Zero is the invalid handle; every non-zero handle
// must be closed with EvtClose.
type Handle uintptr

// EVT_QUERY_FLAGS,
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_query_flags
const (
	EvtQueryChannelPath         = 0x1
	EvtQueryFilePath            = 0x2
	EvtQueryForwardDirection    = 0x100
	EvtQueryReverseDirection    = 0x200
	EvtQueryTolerateQueryErrors = 0x1000
)

// EVT_SUBSCRIBE_FLAGS,
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_subscribe_flags
const (
	EvtSubscribeToFutureEvents      = 1
	EvtSubscribeStartAtOldestRecord = 2
	EvtSubscribeStartAfterBookmark  = 3
	EvtSubscribeOriginMask          = 0x3
	EvtSubscribeTolerateQueryErrors = 0x1000
	// EvtSubscribeStrict makes a subscription fail when the bookmarked event
	// is gone, instead of silently starting at the oldest record.
	EvtSubscribeStrict = 0x10000
)

// EVT_RENDER_FLAGS,
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_render_flags
const (
	EvtRenderEventValues = 0
	EvtRenderEventXML    = 1
	EvtRenderBookmark    = 2
)

// EVT_FORMAT_MESSAGE_FLAGS,
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_format_message_flags
const (
	EvtFormatMessageEvent    = 1
	EvtFormatMessageLevel    = 2
	EvtFormatMessageTask     = 3
	EvtFormatMessageOpcode   = 4
	EvtFormatMessageKeyword  = 5
	EvtFormatMessageChannel  = 6
	EvtFormatMessageProvider = 7
	EvtFormatMessageID       = 8
	EvtFormatMessageXML      = 9
)

// EVT_OPEN_LOG_FLAGS,
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_open_log_flags
const (
	EvtOpenChannelPath = 0x1
	EvtOpenFilePath    = 0x2
)

// EVT_LOG_PROPERTY_ID,
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_log_property_id
const (
	EvtLogCreationTime       = 0
	EvtLogLastAccessTime     = 1
	EvtLogLastWriteTime      = 2
	EvtLogFileSize           = 3
	EvtLogAttributes         = 4
	EvtLogNumberOfLogRecords = 5
	EvtLogOldestRecordNumber = 6
	EvtLogFull               = 7
)

// EVT_SEEK_FLAGS,
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_seek_flags
const (
	EvtSeekRelativeToFirst    = 1
	EvtSeekRelativeToLast     = 2
	EvtSeekRelativeToCurrent  = 3
	EvtSeekRelativeToBookmark = 4
	EvtSeekOriginMask         = 7
	EvtSeekStrict             = 0x10000
)

// EVT_VARIANT_TYPE (the ones we read),
// https://learn.microsoft.com/windows/win32/api/winevt/ne-winevt-evt_variant_type
const (
	EvtVarTypeNull     = 0
	EvtVarTypeUInt32   = 8
	EvtVarTypeUInt64   = 10
	EvtVarTypeBoolean  = 13
	EvtVarTypeFileTime = 17
)

// Variant is EVT_VARIANT: an 8-byte value (or pointer), a count and a type,
// https://learn.microsoft.com/windows/win32/api/winevt/ns-winevt-evt_variant
type Variant struct {
	Value uint64
	Count uint32
	Type  uint32
}

// System error codes the Event Log API returns,
// https://learn.microsoft.com/windows/win32/debug/system-error-codes--12000-15999-
// and https://learn.microsoft.com/windows/win32/debug/system-error-codes--0-499-.
const (
	ErrorInsufficientBuffer             = 122
	ErrorNoMoreItems                    = 259
	ErrorNotFound                       = 1168
	ErrorTimeout                        = 1460
	ErrorInvalidOperation               = 4317
	ErrorEvtInvalidChannelPath          = 15000
	ErrorEvtInvalidQuery                = 15001
	ErrorEvtPublisherMetadataNotFound   = 15002
	ErrorEvtChannelNotFound             = 15007
	ErrorEvtQueryResultStale            = 15011
	ErrorEvtQueryResultInvalidPosition  = 15012
	ErrorEvtFilterTooComplex            = 15026
	ErrorEvtMessageNotFound             = 15027
	ErrorEvtMessageIDNotFound           = 15028
	ErrorEvtUnresolvedValueInsert       = 15029
	ErrorEvtUnresolvedParameterInsert   = 15030
	ErrorEvtMaxInsertsReached           = 15031
	ErrorEvtMessageLocaleNotFound       = 15033
	ErrorEvtSubscriptionToDirectChannel = 15009
)
