package rules

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Winsock and Win32 codes the rules and reports talk about.
const (
	codeAddrInUse    uint32 = 10048      // WSAEADDRINUSE
	codeAccess       uint32 = 10013      // WSAEACCES
	codeAddrNotAvail uint32 = 10049      // WSAEADDRNOTAVAIL
	codeEFail        uint32 = 0x80004005 // E_FAIL
)

type codeInfo struct {
	name string
	text string // en-US rendering, as Event Viewer shows it
}

// knownCodes renders parameter references (%%N) and error codes without the
// message DLLs (WINDOWS-EVENTS.md §1.4).
var knownCodes = map[uint32]codeInfo{
	2:                {"ERROR_FILE_NOT_FOUND", "The system cannot find the file specified."},
	5:                {"ERROR_ACCESS_DENIED", "Access is denied."},
	32:               {"ERROR_SHARING_VIOLATION", "The process cannot access the file because it is being used by another process."},
	1053:             {"ERROR_SERVICE_REQUEST_TIMEOUT", "The service did not respond to the start or control request in a timely fashion."},
	1068:             {"ERROR_SERVICE_DEPENDENCY_FAIL", "The dependency service or group failed to start."},
	codeAccess:       {"WSAEACCES", "An attempt was made to access a socket in a way forbidden by its access permissions."},
	10022:            {"WSAEINVAL", "An invalid argument was supplied."},
	codeAddrInUse:    {"WSAEADDRINUSE", "Only one usage of each socket address (protocol/network address/port) is normally permitted."},
	codeAddrNotAvail: {"WSAEADDRNOTAVAIL", "The requested address is not valid in its context."},
	10050:            {"WSAENETDOWN", "A socket operation encountered a dead network."},
	0xC000020A:       {"STATUS_ADDRESS_ALREADY_EXISTS", "The address for the transport is already in use."},
	0xC0000043:       {"STATUS_SHARING_VIOLATION", "A file cannot be opened because the share access flags are incompatible."},
	0xC000012D:       {"STATUS_COMMITMENT_LIMIT", "The paging file is too small for this operation to complete."},
	codeEFail:        {"E_FAIL", "Unspecified error"},
}

// codeName describes a code for reports: "10048 (WSAEADDRINUSE)".
func codeName(c uint32) string {
	num := strconv.FormatUint(uint64(c), 10)
	if c > 0xFFFF {
		num = fmt.Sprintf("0x%08X", c)
	}
	if info, ok := knownCodes[c]; ok {
		return num + " (" + info.name + ")"
	}
	return num
}

// normCode folds an HRESULT built from a Win32 or Winsock error
// (0x8007xxxx) to the error itself, so rules can list plain codes.
func normCode(c uint32) uint32 {
	if c&0xFFFF0000 == 0x80070000 {
		return c & 0xFFFF
	}
	return c
}

// parseCodeValue reads an error code as events store it: "%%10048",
// "10048", "0x2740", "0x80072740", "-2147467259", "[0x80004005]".
func parseCodeValue(s string) (uint32, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
	s = strings.TrimSuffix(s, ".")
	if rest, ok := strings.CutPrefix(s, "%%"); ok {
		n, err := strconv.ParseUint(rest, 10, 32)
		if err != nil {
			return 0, false
		}
		return normCode(uint32(n)), true
	}
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		n, err := strconv.ParseUint(s[2:], 16, 32)
		if err != nil {
			return 0, false
		}
		return normCode(uint32(n)), true
	}
	if strings.HasPrefix(s, "-") {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, false
		}
		return normCode(uint32(int32(n))), true
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return normCode(uint32(n)), true
}

var (
	paramRefRe = regexp.MustCompile(`%%(\d{1,10})`)
	errorHexRe = regexp.MustCompile(`(?i)\berror(?: code)?:?\s*\[?(0x[0-9a-f]{1,8})\]?`)
	errorDecRe = regexp.MustCompile(`(?i)\berror(?: code)?:?\s*\[?(\d{1,10})\]?`)
	codeNameRe = regexp.MustCompile(`\b(WSAE[A-Z]+|STATUS_[A-Z_]+)\b`)
)

// codeFromText finds an error code in rendered text: a known en-US error
// message, a parameter reference, "error 0x2740" or a Winsock name.
func codeFromText(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	for code, info := range knownCodes {
		if info.text != "" && code != codeEFail && strings.Contains(s, strings.TrimSuffix(info.text, ".")) {
			return code, true
		}
	}
	if m := paramRefRe.FindStringSubmatch(s); m != nil {
		if c, ok := parseCodeValue("%%" + m[1]); ok {
			return c, true
		}
	}
	if m := codeNameRe.FindStringSubmatch(s); m != nil {
		for code, info := range knownCodes {
			if info.name == m[1] {
				return code, true
			}
		}
	}
	if m := errorHexRe.FindStringSubmatch(s); m != nil {
		return parseCodeValue(m[1])
	}
	if m := errorDecRe.FindStringSubmatch(s); m != nil {
		return parseCodeValue(m[1])
	}
	return 0, false
}

// codeFromBinary reads the first DWORD of an event's binary data, little
// endian, which is where Winsock and NTSTATUS codes live in DNS, DHCP,
// HTTP.sys and SMTPSVC events.
func codeFromBinary(b []byte) (uint32, bool) {
	if len(b) < 4 {
		return 0, false
	}
	return normCode(binary.LittleEndian.Uint32(b)), true
}

// stringFromBinary decodes binary data holding a UTF-16LE string (the
// service key name in EVTX SCM events), or "" when it does not look like
// one.
func stringFromBinary(b []byte) string {
	if len(b) < 2 || len(b)%2 != 0 || len(b) > 1024 {
		return ""
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		if c < 0x20 || c == 0x7F {
			return ""
		}
		u = append(u, c)
	}
	return strings.TrimSpace(string(utf16.Decode(u)))
}
