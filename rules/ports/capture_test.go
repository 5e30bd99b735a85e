package ports

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
)

// crlf turns a sample into what cmd.exe redirection writes.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// utf16le encodes s as PowerShell's ">" redirection does, with a BOM.
func utf16le(s string, bom bool) []byte {
	var b bytes.Buffer
	if bom {
		b.Write([]byte{0xFF, 0xFE})
	}
	for _, u := range utf16.Encode([]rune(strings.ReplaceAll(s, "\n", "\r\n"))) {
		_ = binary.Write(&b, binary.LittleEndian, u)
	}
	return b.Bytes()
}

func oem850(t *testing.T, s string) []byte {
	b, err := charmap.CodePage850.NewEncoder().Bytes(crlf(s))
	require.NoError(t, err)
	return b
}

const netstat2003 = `
Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:25             0.0.0.0:0              LISTENING       1888
  TCP    0.0.0.0:53             0.0.0.0:0              LISTENING       1692
  TCP    192.168.16.2:139       0.0.0.0:0              LISTENING       4
  TCP    192.168.16.2:3389      192.168.16.50:1290     ESTABLISHED     1296
  TCP    127.0.0.1:1033         127.0.0.1:1034         TIME_WAIT       0
  UDP    0.0.0.0:445            *:*                                    4
  UDP    0.0.0.0:500            *:*                                    664
  UDP    0.0.0.0:2883           *:*                                    1692
  UDP    192.168.16.2:137       *:*                                    4
`

const netstatGerman = `
Aktive Verbindungen

  Proto  Lokale Adresse         Remoteadresse          Status           PID
  TCP    0.0.0.0:135            0.0.0.0:0              ABHÖREN         1004
  TCP    0.0.0.0:445            0.0.0.0:0              ABHÖREN         4
  TCP    192.168.178.20:49702   52.113.194.132:443     HERGESTELLT     7124
  TCP    [::]:135               [::]:0                 ABHÖREN         1004
  TCP    [::1]:49669            [::1]:49670            HERGESTELLT     3056
  TCP    [::]:53                [::]:0                 ABHÖREN         2384
  UDP    0.0.0.0:500            *:*                                    4264
  UDP    [::]:53                *:*                                    2384
  UDP    [fe80::1c4d:5b2e:9a3f:1%12]:1900  *:*                         5560
`

const netstatOwners2019 = `
Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:53             0.0.0.0:0              LISTENING       2384
 [dns.exe]
  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       904
  RpcSs
 [svchost.exe]
  TCP    0.0.0.0:445            0.0.0.0:0              LISTENING       4
 Can not obtain ownership information
  TCP    0.0.0.0:3389           0.0.0.0:0              LISTENING       1012
  TermService
 [svchost.exe]
  UDP    0.0.0.0:52311          *:*                                    3012
 [BESClient.exe]
  UDP    [::]:500               *:*                                    2996
  IKEEXT
 [svchost.exe]
`

const netstatOwnersGerman = `
Aktive Verbindungen

  Proto  Lokale Adresse         Remoteadresse          Status           PID
  TCP    0.0.0.0:135            0.0.0.0:0              ABHÖREN         1004
  RpcSs
 [svchost.exe]
  TCP    0.0.0.0:445            0.0.0.0:0              ABHÖREN         4
 Es konnten keine Besitzerinformationen abgerufen werden.
  UDP    0.0.0.0:2883           *:*                                    2384
 [dns.exe]
  UDP    [::]:53                *:*                                    2384
 [dns.exe]
`

const netstatOwners2003 = `
Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:25             0.0.0.0:0              LISTENING       1888
  [inetinfo.exe]

  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       936
  c:\windows\system32\WS2_32.dll
  C:\WINDOWS\system32\RPCRT4.dll
  c:\windows\system32\rpcss.dll
  C:\WINDOWS\system32\svchost.exe
  -- unknown component(s) --
  [svchost.exe]

  TCP    0.0.0.0:445            0.0.0.0:0              LISTENING       4
  [System]

  UDP    0.0.0.0:2883           *:*                                    1692
  [dns.exe]

`

func b(proto Protocol, addr string, port uint16, state, remote string, pid int) Binding {
	return Binding{Protocol: proto, Addr: netip.MustParseAddr(addr), Port: port, State: state, Remote: remote, PID: pid}
}

func TestParseNetstat(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		kind     CaptureKind
		count    int
		want     []Binding // must be among the bindings
		images   map[int]string
		services map[int][]string
		paths    map[int]string
	}{
		{
			name: "2003 English", data: crlf(netstat2003), kind: KindNetstat, count: 9,
			want: []Binding{
				b(TCP, "0.0.0.0", 25, "LISTENING", "", 1888),
				b(TCP, "192.168.16.2", 3389, "ESTABLISHED", "192.168.16.50:1290", 1296),
				b(TCP, "127.0.0.1", 1033, "TIME_WAIT", "127.0.0.1:1034", 0),
				b(UDP, "0.0.0.0", 2883, "", "", 1692),
				b(UDP, "192.168.16.2", 137, "", "", 4),
			},
			images: map[int]string{4: "System", 0: "System Idle Process"},
		},
		{
			name: "Windows 10 German UTF-8", data: crlf(netstatGerman), kind: KindNetstat, count: 9,
			want: []Binding{
				b(TCP, "0.0.0.0", 135, "LISTENING", "", 1004),
				b(TCP, "192.168.178.20", 49702, "ESTABLISHED", "52.113.194.132:443", 7124),
				b(TCP, "::", 53, "LISTENING", "", 2384),
				b(TCP, "::1", 49669, "ESTABLISHED", "[::1]:49670", 3056),
				b(UDP, "::", 53, "", "", 2384),
				b(UDP, "fe80::1c4d:5b2e:9a3f:1%12", 1900, "", "", 5560),
			},
		},
		{
			name: "Windows 10 German OEM 850", data: oem850(t, netstatGerman), kind: KindNetstat, count: 9,
			want: []Binding{b(TCP, "0.0.0.0", 445, "LISTENING", "", 4)},
		},
		{
			name: "Windows 10 German UTF-16", data: utf16le(netstatGerman, true), kind: KindNetstat, count: 9,
			want: []Binding{b(TCP, "::", 135, "LISTENING", "", 1004)},
		},
		{
			name: "-anob Server 2019", data: crlf(netstatOwners2019), kind: KindNetstatOwner, count: 6,
			want:     []Binding{b(UDP, "0.0.0.0", 52311, "", "", 3012), b(UDP, "::", 500, "", "", 2996)},
			images:   map[int]string{2384: "dns.exe", 904: "svchost.exe", 3012: "BESClient.exe", 4: "System"},
			services: map[int][]string{904: {"RpcSs"}, 1012: {"TermService"}, 2996: {"IKEEXT"}},
		},
		{
			// PowerShell ">" of a German netstat -anob: UTF-16 LE with BOM,
			// localized header and state, and a sentence (whatever its
			// wording) in place of an owner for kernel sockets.
			name: "-anob Windows 10 German UTF-16", data: utf16le(netstatOwnersGerman, true), kind: KindNetstatOwner, count: 4,
			want:     []Binding{b(TCP, "0.0.0.0", 135, "LISTENING", "", 1004), b(UDP, "0.0.0.0", 2883, "", "", 2384)},
			images:   map[int]string{1004: "svchost.exe", 2384: "dns.exe", 4: "System"},
			services: map[int][]string{1004: {"RpcSs"}, 2384: nil, 4: nil},
		},
		{
			name: "-anob 2003 with components", data: crlf(netstatOwners2003), kind: KindNetstatOwner, count: 4,
			want:   []Binding{b(UDP, "0.0.0.0", 2883, "", "", 1692)},
			images: map[int]string{1888: "inetinfo.exe", 936: "svchost.exe", 4: "System", 1692: "dns.exe"},
			paths:  map[int]string{936: `C:\WINDOWS\system32\svchost.exe`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.kind, Sniff(tt.data))
			snap, facts, probs, err := ParseCapture("netstat.txt", bytes.NewReader(tt.data))
			require.NoError(t, err)
			require.Empty(t, probs)
			require.Len(t, snap.Bindings, tt.count)
			require.Equal(t, tt.kind, facts.Captures[0].Kind)
			for _, w := range tt.want {
				require.Contains(t, snap.Bindings, w)
			}
			for pid, img := range tt.images {
				p, ok := snap.Process(pid)
				require.True(t, ok, "pid %d", pid)
				require.Equal(t, img, p.Image)
			}
			for pid, svcs := range tt.services {
				require.Equal(t, svcs, snap.Processes[pid].Services)
			}
			for pid, path := range tt.paths {
				require.Equal(t, path, snap.Processes[pid].Path)
			}
		})
	}
}

func TestParseNetstatBadRows(t *testing.T) {
	data := crlf(`
Active Connections

  Proto  Local Address          Foreign Address        State           PID
  TCP    0.0.0.0:25             0.0.0.0:0              LISTENING       1888
  TCP    0.0.0.0:99999          0.0.0.0:0              LISTENING       1888
  UDP    0.0.0.0:53             *:*
  UDP    garbage                *:*                                    12
  UDP    0.0.0.0:2883           *:*                                    1692
`)
	snap, _, probs, err := ParseCapture("bad.txt", bytes.NewReader(data))
	require.NoError(t, err)
	require.Len(t, snap.Bindings, 2)
	require.Len(t, probs, 3)
	require.Contains(t, probs[0].Error(), "bad.txt:6: bad port")
	require.Contains(t, probs[1].Error(), "bad.txt:7: no PID column")
	require.Contains(t, probs[2].Error(), "bad.txt:8: bad address")
}

func TestParseTasklist(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		kind     CaptureKind
		count    int
		images   map[int]string
		services map[int][]string
	}{
		{
			name: "svc csv 2003",
			data: crlf(`"Image Name","PID","Services"
"System Idle Process","0","N/A"
"System","4","N/A"
"lsass.exe","664","HTTPFilter,kdc,Netlogon,NtLmSsp,PolicyAgent,ProtectedStorage,SamSs"
"svchost.exe","1064","AudioSrv,Browser,CryptSvc,Dhcp,EventSystem,IAS,lanmanserver,Schedule"
"dns.exe","1692","DNS"
`),
			kind: KindTasklistSvc, count: 5,
			images: map[int]string{0: "System Idle Process", 664: "lsass.exe", 1692: "dns.exe"},
			services: map[int][]string{
				4:    nil,
				664:  {"HTTPFilter", "kdc", "Netlogon", "NtLmSsp", "PolicyAgent", "ProtectedStorage", "SamSs"},
				1692: {"DNS"},
			},
		},
		{
			name: "svc csv German, no header",
			data: oem850(t, `"System Idle Process","0","Nicht zutreffend"
"svchost.exe","1004","BrokerInfrastructure,DcomLaunch,PlugPlay,Power"
"BESClient.exe","3012","BESClient"
`),
			kind: KindTasklistSvc, count: 3,
			images:   map[int]string{3012: "BESClient.exe"},
			services: map[int][]string{0: nil, 1004: {"BrokerInfrastructure", "DcomLaunch", "PlugPlay", "Power"}},
		},
		{
			name: "plain csv",
			data: crlf(`"Image Name","PID","Session Name","Session#","Mem Usage"
"System Idle Process","0","Console","0","16 K"
"System","4","Console","0","236 K"
"dns.exe","1692","Console","0","19,460 K"
`),
			kind: KindTasklist, count: 3, images: map[int]string{1692: "dns.exe"},
		},
		{
			name: "plain csv German header",
			data: oem850(t, `"Abbildname","PID","Sitzungsname","Sitz.-Nr.","Speichernutzung"
"System Idle Process","0","Services","0","8 K"
"dns.exe","2384","Services","0","112.540 K"
`),
			kind: KindTasklist, count: 2, images: map[int]string{2384: "dns.exe"},
		},
		{
			name: "svc table with wrapped services",
			data: crlf(`
Image Name                     PID Services
========================= ======== ============================================
System Idle Process              0 N/A
System                           4 N/A
svchost.exe                    904 RpcEptMapper, RpcSs
svchost.exe                   1308 Appinfo, BITS, CertPropSvc, gpsvc, IKEEXT,
                                   iphlpsvc, LanmanServer, ProfSvc, Schedule,
                                   SENS, Winmgmt
dns.exe                       2384 DNS
`),
			kind: KindTasklistSvc, count: 5,
			images: map[int]string{0: "System Idle Process", 1308: "svchost.exe"},
			services: map[int][]string{
				904:  {"RpcEptMapper", "RpcSs"},
				1308: {"Appinfo", "BITS", "CertPropSvc", "gpsvc", "IKEEXT", "iphlpsvc", "LanmanServer", "ProfSvc", "Schedule", "SENS", "Winmgmt"},
				2384: {"DNS"},
			},
		},
		{
			// XP/2003 print a 6-wide PID column and wrap services at 45.
			name: "svc table 2003, wrapped",
			data: crlf(`
Image Name                   PID Services
========================= ====== =============================================
System Idle Process            0 N/A
System                         4 N/A
lsass.exe                    664 HTTPFilter, kdc, Netlogon, NtLmSsp,
                                 PolicyAgent, ProtectedStorage, SamSs
svchost.exe                 1064 AudioSrv, Browser, CryptSvc, Dhcp,
                                 EventSystem, IAS, lanmanserver, Schedule
dns.exe                     1692 DNS
`),
			kind: KindTasklistSvc, count: 5,
			images: map[int]string{0: "System Idle Process", 664: "lsass.exe", 1692: "dns.exe"},
			services: map[int][]string{
				4:    nil,
				664:  {"HTTPFilter", "kdc", "Netlogon", "NtLmSsp", "PolicyAgent", "ProtectedStorage", "SamSs"},
				1064: {"AudioSrv", "Browser", "CryptSvc", "Dhcp", "EventSystem", "IAS", "lanmanserver", "Schedule"},
			},
		},
		{
			name: "plain table German",
			data: oem850(t, `
Abbildname                     PID Sitzungsname       Sitz.-Nr. Speichernutzung
========================= ======== ================ =========== ===============
System Idle Process              0 Services                   0             8 K
dns.exe                       2384 Services                   0       112.540 K
`),
			kind: KindTasklist, count: 2, images: map[int]string{0: "System Idle Process", 2384: "dns.exe"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.kind, Sniff(tt.data))
			snap, facts, probs, err := ParseCapture("tasklist.csv", bytes.NewReader(tt.data))
			require.NoError(t, err)
			require.Empty(t, probs)
			require.Equal(t, tt.count, facts.Captures[0].Records)
			require.Equal(t, tt.kind, facts.Captures[0].Kind)
			require.Empty(t, snap.Bindings)
			for pid, img := range tt.images {
				require.Equal(t, img, snap.Processes[pid].Image)
			}
			for pid, svcs := range tt.services {
				require.Equal(t, svcs, snap.Processes[pid].Services, "pid %d", pid)
			}
		})
	}
}

const psUDPRaw = `#TYPE Microsoft.Management.Infrastructure.CimInstance#ROOT/StandardCimv2/MSFT_NetUDPEndpoint
"Caption","Description","ElementName","InstanceID","CommunicationStatus","DetailedStatus","HealthState","InstallDate","Name","OperatingStatus","OperationalStatus","PrimaryStatus","Status","StatusDescriptions","AvailableRequestedStates","EnabledDefault","EnabledState","OtherEnabledState","RequestedState","TimeOfLastStateChange","TransitioningToState","AppliedSetting","CreationTime","LocalAddress","LocalPort","OwningProcess","PSComputerName","CimClass","CimInstanceProperties","CimSystemProperties"
,,,"::++53",,,,,,,,,,,,"2","5",,"5",,"12",,"3/4/2024 7:02:11 AM","::","53","2384",,"ROOT/StandardCimv2:MSFT_NetUDPEndpoint","Microsoft.Management.Infrastructure.CimPropertiesCollection","Microsoft.Management.Infrastructure.CimSystemProperties"
,,,"0.0.0.0++52311",,,,,,,,,,,,"2","5",,"5",,"12",,"3/4/2024 7:02:40 AM","0.0.0.0","52311","3012",,"ROOT/StandardCimv2:MSFT_NetUDPEndpoint","Microsoft.Management.Infrastructure.CimPropertiesCollection","Microsoft.Management.Infrastructure.CimSystemProperties"
,,,"fe80::5%6++1900",,,,,,,,,,,,"2","5",,"5",,"12",,"3/4/2024 7:03:00 AM","fe80::5%6","1900","5560",,"ROOT/StandardCimv2:MSFT_NetUDPEndpoint","Microsoft.Management.Infrastructure.CimPropertiesCollection","Microsoft.Management.Infrastructure.CimSystemProperties"
`

const psTCPRaw = `#TYPE Microsoft.Management.Infrastructure.CimInstance#ROOT/StandardCimv2/MSFT_NetTCPConnection
"State","AppliedSetting","OwningProcess","CreationTime","OffloadState","Caption","Description","ElementName","InstanceID","CommunicationStatus","DetailedStatus","HealthState","InstallDate","Name","OperatingStatus","OperationalStatus","PrimaryStatus","Status","StatusDescriptions","AvailableRequestedStates","EnabledDefault","EnabledState","OtherEnabledState","RequestedState","TimeOfLastStateChange","TransitioningToState","AggregationBehavior","Directionality","LocalAddress","LocalPort","RemoteAddress","RemotePort","PSComputerName","CimClass","CimInstanceProperties","CimSystemProperties"
"Listen",,"2384","3/4/2024 7:02:11 AM","InHost",,,,"::++53++::++0",,,,,,,,,,,,"2","5",,"5",,"12",,,"::","53","::","0",,"ROOT/StandardCimv2:MSFT_NetTCPConnection","x","y"
"Established","Internet","7124","3/4/2024 9:12:44 AM","InHost",,,,"10.0.0.5++49702++52.113.194.132++443",,,,,,,,,,,,"2","5",,"5",,"12",,,"10.0.0.5","49702","52.113.194.132","443",,"ROOT/StandardCimv2:MSFT_NetTCPConnection","x","y"
"Bound",,"7124",,"InHost",,,,"",,,,,,,,,,,,"2","5",,"5",,"12",,,"0.0.0.0","49701","0.0.0.0","0",,"ROOT/StandardCimv2:MSFT_NetTCPConnection","x","y"
`

func TestParsePowerShellCSV(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		kind CaptureKind
		want []Binding
	}{
		{"UDP raw, UTF-16 with BOM", utf16le(psUDPRaw, true), KindPSUDP, []Binding{
			b(UDP, "::", 53, "", "", 2384), b(UDP, "0.0.0.0", 52311, "", "", 3012), b(UDP, "fe80::5%6", 1900, "", "", 5560)}},
		{"UDP projected, UTF-8 BOM, no #TYPE", append([]byte{0xEF, 0xBB, 0xBF}, crlf(`"LocalAddress","LocalPort","OwningProcess","CreationTime"
"0.0.0.0","2883","1692","1/13/2009 8:04:12 AM"
`)...), KindPSUDP, []Binding{b(UDP, "0.0.0.0", 2883, "", "", 1692)}},
		{"TCP raw, ASCII", crlf(psTCPRaw), KindPSTCP, []Binding{
			b(TCP, "::", 53, "LISTENING", "", 2384),
			b(TCP, "10.0.0.5", 49702, "ESTABLISHED", "52.113.194.132:443", 7124),
			b(TCP, "0.0.0.0", 49701, "BOUND", "", 7124)}},
		{"TCP projected, numeric state, UTF-16 without BOM", utf16le(`"LocalAddress","LocalPort","RemoteAddress","RemotePort","State","OwningProcess"
"::","3389","::","0","2","1012"
"fe80::1","49700","fe80::2","445","5","4"
`, false), KindPSTCP, []Binding{
			b(TCP, "::", 3389, "LISTENING", "", 1012),
			b(TCP, "fe80::1", 49700, "ESTABLISHED", "[fe80::2]:445", 4)}},
	}
	// Export-Csv -UseCulture on a German, French or Dutch system (or
	// -Delimiter ';' for Excel) separates fields with semicolons.
	tests = append(tests, struct {
		name string
		data []byte
		kind CaptureKind
		want []Binding
	}{"UDP projected, -UseCulture semicolons, UTF-16", utf16le(`#TYPE Selected.Microsoft.Management.Infrastructure.CimInstance
"LocalAddress";"LocalPort";"OwningProcess";"CreationTime"
"0.0.0.0";"2883";"1692";"13.01.2009 08:04:12"
"::";"53";"1692";"13.01.2009 08:04:12"
`, true), KindPSUDP, []Binding{b(UDP, "0.0.0.0", 2883, "", "", 1692), b(UDP, "::", 53, "", "", 1692)}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.kind, Sniff(tt.data))
			snap, facts, probs, err := ParseCapture("ps.csv", bytes.NewReader(tt.data))
			require.NoError(t, err)
			require.Empty(t, probs)
			require.Equal(t, tt.kind, facts.Captures[0].Kind)
			require.ElementsMatch(t, tt.want, snap.Bindings)
		})
	}
}

func TestParseNetsh(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		kind     CaptureKind
		dynamic  map[Protocol]PortRange
		excluded map[Protocol][]ExcludedRange
	}{
		{
			name: "dynamicport tcp and udp",
			data: crlf(`
Protocol tcp Dynamic Port Range
---------------------------------
Start Port      : 49152
Number of Ports : 16384


Protocol udp Dynamic Port Range
---------------------------------
Start Port      : 10000
Number of Ports : 55535

`),
			kind:    KindNetshDynamic,
			dynamic: map[Protocol]PortRange{TCP: {49152, 65535}, UDP: {10000, 65534}},
		},
		{
			name: "dynamicport German",
			data: oem850(t, `
Protokoll udp Dynamischer Portbereich
---------------------------------
Startport       : 49152
Anzahl der Ports : 16384
`),
			kind:    KindNetshDynamic,
			dynamic: map[Protocol]PortRange{UDP: {49152, 65535}},
		},
		{
			name: "excludedportrange udp",
			data: crlf(`
Protocol udp Port Exclusion Ranges

Start Port    End Port
----------    --------
     50000       50059     *
     49709       49808
      2883        2883     *

* - Administered port exclusions.

`),
			kind: KindNetshExclude,
			excluded: map[Protocol][]ExcludedRange{UDP: {
				{PortRange{2883, 2883}, true}, {PortRange{49709, 49808}, false}, {PortRange{50000, 50059}, true}}},
		},
		{
			name: "excludedportrange French, empty tcp",
			data: oem850(t, `
Plages d'exclusion de ports du protocole tcp

Port de début    Port de fin
----------    --------

* - Exclusions de ports administrées.
`),
			kind:     KindNetshExclude,
			excluded: map[Protocol][]ExcludedRange{TCP: {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.kind, Sniff(tt.data))
			_, facts, probs, err := ParseCapture("netsh.txt", bytes.NewReader(tt.data))
			require.NoError(t, err)
			require.Empty(t, probs)
			if tt.dynamic != nil {
				require.Equal(t, tt.dynamic, facts.Dynamic)
			}
			if tt.excluded != nil {
				require.Equal(t, tt.excluded, facts.Excluded)
			}
		})
	}
}

func TestParseRegQuery(t *testing.T) {
	reg2003 := crlf("\n! REG.EXE VERSION 3.0\n\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\n" +
		"    NV Hostname\tREG_SZ\tSBS01\n" +
		"    DataBasePath\tREG_EXPAND_SZ\t%SystemRoot%\\System32\\drivers\\etc\n" +
		"    MaxUserPort\tREG_DWORD\t0xfffe\n" +
		"    ReservedPorts\tREG_MULTI_SZ\t1645-1646\\01812-1813\\0\\0\n" +
		"\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Adapters\n" +
		"\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces\n")
	regModern := crlf(`
HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\DNS\Parameters
    SocketPoolSize    REG_DWORD    0x9c4
    SocketPoolExcludedPortRanges    REG_MULTI_SZ    4000-5000\034000-34000
    (Default)    REG_SZ    

HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters
    TcpTimedWaitDelay    REG_DWORD    0x1e
`)
	regNoDNSValues := crlf(`
HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\DNS\Parameters
    BootMethod    REG_DWORD    0x3
    SocketPoolExcludedPortRanges    REG_MULTI_SZ    
`)

	require.Equal(t, KindRegQuery, Sniff(reg2003))
	_, f, probs, err := ParseCapture("reg.txt", bytes.NewReader(reg2003))
	require.NoError(t, err)
	require.Empty(t, probs)
	require.Equal(t, &TcpipParams{MaxUserPort: 65534, ReservedPorts: []PortRange{{1645, 1646}, {1812, 1813}}}, f.Tcpip)
	require.Nil(t, f.DNS)

	require.Equal(t, KindRegQuery, Sniff(regModern))
	_, f, probs, err = ParseCapture("reg.txt", bytes.NewReader(regModern))
	require.NoError(t, err)
	require.Empty(t, probs)
	require.Equal(t, 2500, f.DNS.PoolSize())
	require.Equal(t, []PortRange{{4000, 5000}, {34000, 34000}}, f.DNS.SocketPoolExcludedPortRanges)
	require.Equal(t, &TcpipParams{TcpTimedWaitDelay: 30}, f.Tcpip)

	_, f, probs, err = ParseCapture("reg.txt", bytes.NewReader(utf16le(string(regNoDNSValues), true)))
	require.NoError(t, err)
	require.Empty(t, probs)
	require.NotNil(t, f.DNS)
	require.Nil(t, f.DNS.SocketPoolSize)
	require.Equal(t, DefaultSocketPoolSize, f.DNS.PoolSize())
	require.Empty(t, f.DNS.SocketPoolExcludedPortRanges)
}

const systeminfo2003 = `
Host Name:                 SBS01
OS Name:                   Microsoft(R) Windows(R) Server 2003 for Small Business Server
OS Version:                5.2.3790 Service Pack 2 Build 3790
OS Manufacturer:           Microsoft Corporation
OS Configuration:          Primary Domain Controller
OS Build Type:             Uniprocessor Free
Registered Owner:          Contoso
Registered Organization:   Contoso Ltd
Product ID:                76871-OEM-2211906-00102
Original Install Date:     3/14/2007, 10:21:37 AM
System Up Time:            0 Days, 6 Hours, 2 Minutes, 12 Seconds
System Manufacturer:       Dell Inc.
System Model:              PowerEdge 840
System type:               X86-based PC
Processor(s):              1 Processor(s) Installed.
                           [01]: x86 Family 15 Model 6 Stepping 5 GenuineIntel ~2793 Mhz
BIOS Version:              DELL   - 1
Windows Directory:         C:\WINDOWS
Hotfix(s):                 212 Hotfix(s) Installed.
                           [01]: File 1
                           [02]: KB951748 - Update
`

const systeminfoGerman = `
Hostname:                                      DC01
Betriebssystemname:                            Microsoft Windows Server 2019 Standard
Betriebssystemversion:                         10.0.17763 Nicht zutreffend Build 17763
Betriebssystemhersteller:                      Microsoft Corporation
Betriebssystemkonfiguration:                   Primärer Domänencontroller
Betriebssystem-Buildtyp:                       Multiprocessor Free
Registrierter Benutzer:                        Windows-Benutzer
Registrierte Organisation:
Produkt-ID:                                    00429-70000-00000-AA123
Ursprüngliches Installationsdatum:             14.03.2020, 10:21:37
Systemstartzeit:                               04.03.2024, 07:01:55
Systemhersteller:                              VMware, Inc.
Systemmodell:                                  VMware7,1
Systemtyp:                                     x64-based PC
`

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		kind   CaptureKind
		os     OSInfo
		host   string
		legacy bool
		family string
	}{
		{"ver 2003", crlf("\nMicrosoft Windows [Version 5.2.3790]\n"), KindVer,
			OSInfo{Version: "5.2.3790", Major: 5, Minor: 2, Build: 3790}, "", true, "Windows Server 2003 / XP x64"},
		{"ver German 2019", oem850(t, "\nMicrosoft Windows [Version 10.0.17763.5830]\n"), KindVer,
			OSInfo{Version: "10.0.17763", Major: 10, Minor: 0, Build: 17763}, "", false, "Windows Server 2019 / Windows 10"},
		{"ver French", crlf("\nMicrosoft Windows [version 6.1.7601]\n"), KindVer,
			OSInfo{Version: "6.1.7601", Major: 6, Minor: 1, Build: 7601}, "", false, "Windows Server 2008 R2 / 7"},
		{"systeminfo 2003", crlf(systeminfo2003), KindSystemInfo,
			OSInfo{Name: "Microsoft(R) Windows(R) Server 2003 for Small Business Server", Version: "5.2.3790", Major: 5, Minor: 2, Build: 3790}, "SBS01", true, "Windows Server 2003 / XP x64"},
		{"systeminfo German OEM", oem850(t, systeminfoGerman), KindSystemInfo,
			OSInfo{Name: "Microsoft Windows Server 2019 Standard", Version: "10.0.17763", Major: 10, Build: 17763}, "DC01", false, "Windows Server 2019 / Windows 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.kind, Sniff(tt.data))
			_, f, probs, err := ParseCapture("os.txt", bytes.NewReader(tt.data))
			require.NoError(t, err)
			require.Empty(t, probs)
			require.Equal(t, tt.os, f.OS)
			require.Equal(t, tt.host, f.Host)
			require.Equal(t, tt.legacy, f.OS.Legacy())
			require.Equal(t, tt.family, f.OS.Family())
		})
	}
}

func TestParseProcessListAndInfo(t *testing.T) {
	wmic := utf16le(`

CreationDate=20090113080355.625000+060
ExecutablePath=
Name=System
ProcessId=4




CreationDate=20090113080412.123456+060
ExecutablePath=C:\WINDOWS\System32\dns.exe
Name=dns.exe
ProcessId=1692


`, true)
	require.Equal(t, KindProcessList, Sniff(wmic))
	snap, _, probs, err := ParseCapture("processes.txt", bytes.NewReader(wmic))
	require.NoError(t, err)
	require.Empty(t, probs)
	p := snap.Processes[1692]
	require.Equal(t, `C:\WINDOWS\System32\dns.exe`, p.Path)
	require.Equal(t, "dns.exe", p.Image)
	require.True(t, p.Started.Equal(time.Date(2009, 1, 13, 7, 4, 12, 123456000, time.UTC)), p.Started)
	require.Equal(t, "System", snap.Processes[4].Image)

	ps := crlf("CreationDate=2024-03-04T07:02:11.1234567+01:00\nExecutablePath=C:\\Windows\\system32\\dns.exe\nName=dns.exe\nProcessId=2384\n")
	snap, _, _, err = ParseCapture("processes.txt", bytes.NewReader(ps))
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 3, 4, 6, 2, 11, 123456700, time.UTC), snap.Processes[2384].Started.UTC())

	info := crlf("evtwatch-collect 1\ncomputer=SBS01\nLocalDateTime=20090113140312.450000+060\r\n")
	require.Equal(t, KindCollectInfo, Sniff(info))
	_, f, _, err := ParseCapture("info.txt", bytes.NewReader(info))
	require.NoError(t, err)
	require.Equal(t, "SBS01", f.Host)
	require.True(t, f.Collected.Equal(time.Date(2009, 1, 13, 13, 3, 12, 450000000, time.UTC)))
}

func TestSniffRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":         nil,
		"event csv":     crlf("Level,Date and Time,Source,Event ID,Task Category\nError,1/13/2009 8:00:00 AM,Server ActiveSync,3015,None,IP-based AUTD failed\n"),
		"xml":           crlf(`<?xml version="1.0"?><Events><Event/></Events>`),
		"evt header":    {0x30, 0, 0, 0, 'L', 'f', 'L', 'e', 1, 0, 0, 0, 1, 0, 0, 0},
		"prose":         crlf("The quick brown fox\njumps over TCP and UDP\n"),
		"tasklist /m":   crlf(`"Image Name","PID","Modules"` + "\n" + `"svchost.exe","904","ntdll.dll,kernel32.dll"` + "\n"),
		"netstat -an":   crlf("\nActive Connections\n\n  Proto  Local Address  Foreign Address  State\n  TCP    0.0.0.0:135    0.0.0.0:0        LISTENING\n"),
		"collect error": crlf("ERROR: The system was unable to find the specified registry key or value.\n"),
	} {
		require.Equal(t, KindUnknown, Sniff(data), name)
		_, _, probs, err := ParseCapture(name, bytes.NewReader(data))
		require.ErrorIs(t, err, ErrNoCaptures, name)
		require.Len(t, probs, 1, name)
	}
}
