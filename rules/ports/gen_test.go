package ports

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata capture sets and golden files")

// The capture sets under testdata/ are what collect.cmd gathers on two
// servers, generated here so that the 2,500-row netstat tables are
// reproducible: testdata/sbs2003 is the seed's Small Business Server 2003,
// whose dns.exe (PID 1692) holds 2,500 random UDP ports between 1025 and
// 65529 including Exchange ActiveSync's 2883; testdata/server2019 is a
// Server 2019 domain controller with DNS and a BigFix agent. Run
// "go test ./rules/ports -run TestCaptureSets -update" after changing them.

type genProc struct {
	pid      int
	image    string
	path     string
	services []string
	session  string
	mem      string
	started  string // CIM datetime
}

type genSock struct {
	proto  string // "TCP" or "UDP"
	local  string
	remote string
	state  string
	pid    int
}

// pickPool draws n distinct ports from [lo, hi], always including the
// ports in must, never those in avoid.
func pickPool(r *rand.Rand, n int, lo, hi int, must []int, avoid func(int) bool) []int {
	set := map[int]bool{}
	for _, p := range must {
		set[p] = true
	}
	for len(set) < n {
		p := lo + r.IntN(hi-lo+1)
		if !avoid(p) {
			set[p] = true
		}
	}
	out := make([]int, 0, n)
	for p := range set {
		out = append(out, p)
	}
	// netstat lists sockets in creation order per protocol, ordered by
	// local address and port within a table.
	sort.Ints(out)
	return out
}

func knownPort(proto Protocol, p int) bool {
	return len(ServicesOnPort(proto, uint16(p))) > 0
}

func netstatText(socks []genSock, owners map[int]genProc, withOwners bool) []byte {
	var b strings.Builder
	b.WriteString("\r\nActive Connections\r\n\r\n  Proto  Local Address          Foreign Address        State           PID\r\n")
	for _, s := range socks {
		if s.proto == "TCP" {
			fmt.Fprintf(&b, "  %-6s %-22s %-22s %-15s %d\r\n", s.proto, s.local, s.remote, s.state, s.pid)
		} else {
			fmt.Fprintf(&b, "  %-6s %-22s %-22s %-15s %d\r\n", s.proto, s.local, "*:*", "", s.pid)
		}
		if withOwners {
			p := owners[s.pid]
			img := p.image
			if s.pid == 0 {
				img = "System Idle Process"
			}
			fmt.Fprintf(&b, "  [%s]\r\n\r\n", img)
		}
	}
	return []byte(b.String())
}

func tasklistSvcCSV(procs []genProc) []byte {
	var b strings.Builder
	b.WriteString("\"Image Name\",\"PID\",\"Services\"\r\n")
	for _, p := range procs {
		svc := "N/A"
		if len(p.services) > 0 {
			svc = strings.Join(p.services, ",")
		}
		fmt.Fprintf(&b, "%q,\"%d\",%q\r\n", p.image, p.pid, svc)
	}
	return []byte(b.String())
}

func tasklistCSV(procs []genProc) []byte {
	var b strings.Builder
	b.WriteString("\"Image Name\",\"PID\",\"Session Name\",\"Session#\",\"Mem Usage\"\r\n")
	for _, p := range procs {
		fmt.Fprintf(&b, "%q,\"%d\",%q,\"0\",%q\r\n", p.image, p.pid, p.session, p.mem)
	}
	return []byte(b.String())
}

// wmicProcesses is "wmic process get CreationDate,ExecutablePath,Name,
// ProcessId /value" redirected to a file: UTF-16 LE with a BOM, blocks
// separated by blank lines, lines ending "\r\r\n".
func wmicProcesses(procs []genProc) []byte {
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "\r\r\n\r\r\nCreationDate=%s\r\r\nExecutablePath=%s\r\r\nName=%s\r\r\nProcessId=%d\r\r\n", p.started, p.path, p.image, p.pid)
	}
	b.WriteString("\r\r\n\r\r\n")
	return utf16le(b.String(), true)
}

func sbs2003Set() map[string][]byte {
	const dnsPID = 1692
	procs := []genProc{
		{0, "System Idle Process", "", nil, "Console", "16 K", ""},
		{4, "System", "", nil, "Console", "236 K", ""},
		{340, "smss.exe", `C:\WINDOWS\System32\smss.exe`, nil, "Console", "388 K", "20090113080351.328125+060"},
		{404, "csrss.exe", `C:\WINDOWS\system32\csrss.exe`, nil, "Console", "4,312 K", "20090113080353.156250+060"},
		{428, "winlogon.exe", `C:\WINDOWS\system32\winlogon.exe`, nil, "Console", "5,876 K", "20090113080353.421875+060"},
		{652, "services.exe", `C:\WINDOWS\system32\services.exe`, []string{"Eventlog", "PlugPlay"}, "Console", "4,108 K", "20090113080354.203125+060"},
		{664, "lsass.exe", `C:\WINDOWS\system32\lsass.exe`, []string{"HTTPFilter", "kdc", "Netlogon", "NtLmSsp", "PolicyAgent", "ProtectedStorage", "SamSs"}, "Console", "38,540 K", "20090113080354.218750+060"},
		{848, "svchost.exe", `C:\WINDOWS\system32\svchost.exe`, []string{"DcomLaunch", "TermService"}, "Console", "3,220 K", "20090113080355.062500+060"},
		{936, "svchost.exe", `C:\WINDOWS\system32\svchost.exe`, []string{"RpcSs"}, "Console", "4,504 K", "20090113080355.343750+060"},
		{1008, "svchost.exe", `C:\WINDOWS\System32\svchost.exe`, []string{"Dnscache"}, "Console", "2,960 K", "20090113080356.015625+060"},
		{1064, "svchost.exe", `C:\WINDOWS\System32\svchost.exe`, []string{"AudioSrv", "Browser", "CryptSvc", "Dhcp", "EventSystem", "helpsvc", "IAS", "lanmanserver", "lanmanworkstation", "Netman", "Nla", "RemoteAccess", "Schedule", "seclogon", "SENS", "ShellHWDetection", "TrkWks", "W32Time", "winmgmt", "wuauserv"}, "Console", "28,932 K", "20090113080356.093750+060"},
		{1304, "spoolsv.exe", `C:\WINDOWS\system32\spoolsv.exe`, []string{"Spooler"}, "Console", "6,084 K", "20090113080358.734375+060"},
		{1412, "msdtc.exe", `C:\WINDOWS\system32\msdtc.exe`, []string{"MSDTC"}, "Console", "4,576 K", "20090113080359.015625+060"},
		{1532, "sqlservr.exe", `C:\Program Files\Microsoft SQL Server\MSSQL$SBSMONITORING\Binn\sqlservr.exe`, []string{"MSSQL$SBSMONITORING"}, "Console", "24,696 K", "20090113080359.562500+060"},
		{1588, "sqlservr.exe", `C:\Program Files\Microsoft SQL Server\MSSQL$SHAREPOINT\Binn\sqlservr.exe`, []string{"MSSQL$SHAREPOINT"}, "Console", "31,872 K", "20090113080359.609375+060"},
		{dnsPID, "dns.exe", `C:\WINDOWS\System32\dns.exe`, []string{"DNS"}, "Console", "19,460 K", "20090113080400.125000+060"},
		{1736, "inetinfo.exe", `C:\WINDOWS\system32\inetsrv\inetinfo.exe`, []string{"IISADMIN", "NntpSvc", "SMTPSVC"}, "Console", "27,112 K", "20090113080400.296875+060"},
		{1788, "tcpsvcs.exe", `C:\WINDOWS\System32\tcpsvcs.exe`, []string{"DHCPServer"}, "Console", "3,672 K", "20090113080400.343750+060"},
		{1868, "mad.exe", `C:\Program Files\Exchsrvr\bin\mad.exe`, []string{"MSExchangeSA"}, "Console", "41,220 K", "20090113080401.140625+060"},
		{1912, "store.exe", `C:\Program Files\Exchsrvr\bin\store.exe`, []string{"MSExchangeIS"}, "Console", "312,908 K", "20090113080432.765625+060"},
		{2036, "w3wp.exe", `C:\WINDOWS\system32\inetsrv\w3wp.exe`, nil, "Console", "58,316 K", "20090113080517.406250+060"},
		{2188, "svchost.exe", `C:\WINDOWS\system32\svchost.exe`, []string{"W3SVC"}, "Console", "5,052 K", "20090113080402.015625+060"},
		{2400, "snmp.exe", `C:\WINDOWS\System32\snmp.exe`, []string{"SNMP"}, "Console", "3,268 K", "20090113080402.250000+060"},
	}
	owners := map[int]genProc{}
	for _, p := range procs {
		owners[p.pid] = p
	}
	L := "LISTENING"
	tcp := func(local string, pid int) genSock { return genSock{"TCP", local, "0.0.0.0:0", L, pid} }
	conn := func(local, remote, state string, pid int) genSock { return genSock{"TCP", local, remote, state, pid} }
	udp := func(local string, pid int) genSock { return genSock{"UDP", local, "", "", pid} }
	socks := []genSock{
		tcp("0.0.0.0:25", 1736), tcp("0.0.0.0:53", dnsPID), tcp("0.0.0.0:80", 4), tcp("0.0.0.0:88", 664),
		tcp("0.0.0.0:119", 1736), tcp("0.0.0.0:135", 936), tcp("0.0.0.0:389", 664), tcp("0.0.0.0:443", 4),
		tcp("0.0.0.0:445", 4), tcp("0.0.0.0:464", 664), tcp("0.0.0.0:593", 936), tcp("0.0.0.0:636", 664),
		tcp("0.0.0.0:1025", 664), tcp("0.0.0.0:1027", 664), tcp("0.0.0.0:1030", 1412), tcp("0.0.0.0:1069", 1532),
		tcp("0.0.0.0:1070", 1588), tcp("0.0.0.0:1723", 4), tcp("0.0.0.0:3268", 664), tcp("0.0.0.0:3269", 664),
		tcp("0.0.0.0:3389", 848), tcp("0.0.0.0:6001", 1912), tcp("0.0.0.0:6002", 1912), tcp("0.0.0.0:6004", 1912),
		tcp("192.168.16.2:139", 4),
		conn("192.168.16.2:389", "192.168.16.2:1109", "ESTABLISHED", 664),
		conn("192.168.16.2:1109", "192.168.16.2:389", "ESTABLISHED", 1912),
		conn("192.168.16.2:1137", "192.168.16.2:389", "ESTABLISHED", 1868),
		conn("192.168.16.2:3389", "192.168.16.50:1290", "ESTABLISHED", 848),
		conn("192.168.16.2:1120", "192.168.16.10:445", "TIME_WAIT", 0),
		udp("0.0.0.0:67", 1788), udp("0.0.0.0:161", 2400), udp("0.0.0.0:445", 4), udp("0.0.0.0:500", 664),
		udp("0.0.0.0:1434", 1532), udp("0.0.0.0:1645", 1064), udp("0.0.0.0:1646", 1064), udp("0.0.0.0:1701", 4),
		udp("0.0.0.0:1812", 1064), udp("0.0.0.0:1813", 1064), udp("0.0.0.0:4500", 664),
		udp("127.0.0.1:53", dnsPID), udp("127.0.0.1:123", 1064), udp("127.0.0.1:1029", 1008),
		udp("192.168.16.2:53", dnsPID), udp("192.168.16.2:88", 664), udp("192.168.16.2:123", 1064),
		udp("192.168.16.2:137", 4), udp("192.168.16.2:138", 4), udp("192.168.16.2:389", 664), udp("192.168.16.2:464", 664),
	}
	heldUDP := map[int]bool{}
	for _, s := range socks {
		if s.proto == "UDP" {
			_, port, _ := strings.Cut(s.local, ":")
			var p int
			fmt.Sscan(port, &p)
			heldUDP[p] = true
		}
	}
	// The pool: 2,500 ports from 1024..MaxUserPort (65534), here spanning
	// 1025–65529 and including 2883, the one port of a known service it
	// took; the draw keeps off ports other processes hold and off other
	// known services' ports, so the sample has exactly one conflict.
	r := rand.New(rand.NewPCG(2009, 113))
	pool := pickPool(r, 2500, 1025, 65529, []int{1025, 2883, 65529}, func(p int) bool {
		return heldUDP[p] || knownPort(UDP, p)
	})
	for _, p := range pool {
		socks = append(socks, udp(fmt.Sprintf("0.0.0.0:%d", p), dnsPID))
	}
	slices.SortStableFunc(socks, func(a, b genSock) int { return strings.Compare(a.proto, b.proto) })

	sysinfo := "\r\nHost Name:                 SBS01\r\n" +
		"OS Name:                   Microsoft(R) Windows(R) Server 2003 for Small Business Server\r\n" +
		"OS Version:                5.2.3790 Service Pack 2 Build 3790\r\n" +
		"OS Manufacturer:           Microsoft Corporation\r\n" +
		"OS Configuration:          Primary Domain Controller\r\n" +
		"OS Build Type:             Uniprocessor Free\r\n" +
		"Registered Owner:          Contoso\r\n" +
		"Registered Organization:   Contoso Ltd\r\n" +
		"Product ID:                76871-OEM-2211906-00102\r\n" +
		"Original Install Date:     3/14/2007, 10:21:37 AM\r\n" +
		"System Up Time:            0 Days, 5 Hours, 59 Minutes, 21 Seconds\r\n" +
		"System Manufacturer:       Dell Inc.\r\n" +
		"System Model:              PowerEdge 840\r\n" +
		"System type:               X86-based PC\r\n" +
		"Processor(s):              1 Processor(s) Installed.\r\n" +
		"                           [01]: x86 Family 15 Model 6 Stepping 5 GenuineIntel ~2793 Mhz\r\n" +
		"BIOS Version:              DELL   - 1\r\n" +
		"Windows Directory:         C:\\WINDOWS\r\n" +
		"System Directory:          C:\\WINDOWS\\system32\r\n" +
		"Boot Device:               \\Device\\HarddiskVolume1\r\n" +
		"System Locale:             en-us;English (United States)\r\n" +
		"Input Locale:              en-us;English (United States)\r\n" +
		"Time Zone:                 (GMT+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna\r\n" +
		"Total Physical Memory:     2,047 MB\r\n" +
		"Available Physical Memory: 412 MB\r\n" +
		"Domain:                    contoso.local\r\n" +
		"Logon Server:              \\\\SBS01\r\n" +
		"Hotfix(s):                 3 Hotfix(s) Installed.\r\n" +
		"                           [01]: File 1\r\n" +
		"                           [02]: KB951746 - Update\r\n" +
		"                           [03]: KB951748 - Update\r\n" +
		"Network Card(s):           1 NIC(s) Installed.\r\n" +
		"                           [01]: Broadcom NetXtreme Gigabit Ethernet\r\n" +
		"                                 Connection Name: Server Local Area Connection\r\n" +
		"                                 DHCP Enabled:    No\r\n" +
		"                                 IP address(es)\r\n" +
		"                                 [01]: 192.168.16.2\r\n"
	regTcpip := "\r\n! REG.EXE VERSION 3.0\r\n\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\r\n" +
		"    NV Hostname\tREG_SZ\tSBS01\r\n" +
		"    DataBasePath\tREG_EXPAND_SZ\t%SystemRoot%\\System32\\drivers\\etc\r\n" +
		"    NameServer\tREG_SZ\t\r\n" +
		"    ForwardBroadcasts\tREG_DWORD\t0x0\r\n" +
		"    IPEnableRouter\tREG_DWORD\t0x1\r\n" +
		"    Domain\tREG_SZ\tcontoso.local\r\n" +
		"    Hostname\tREG_SZ\tSBS01\r\n" +
		"    SearchList\tREG_SZ\t\r\n" +
		"    UseDomainNameDevolution\tREG_DWORD\t0x1\r\n" +
		"    EnableICMPRedirect\tREG_DWORD\t0x1\r\n" +
		"    DeadGWDetectDefault\tREG_DWORD\t0x1\r\n" +
		"    DontAddDefaultGatewayDefault\tREG_DWORD\t0x0\r\n" +
		"    EnableSecurityFilters\tREG_DWORD\t0x0\r\n" +
		"    MaxUserPort\tREG_DWORD\t0xfffe\r\n" +
		"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Adapters\r\n" +
		"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\DNSRegisteredAdapters\r\n" +
		"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces\r\n" +
		"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\PersistentRoutes\r\n" +
		"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Winsock\r\n"
	regDNS := "\r\n! REG.EXE VERSION 3.0\r\n\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\DNS\\Parameters\r\n" +
		"    BootMethod\tREG_DWORD\t0x3\r\n" +
		"    EnableDirectoryPartitions\tREG_DWORD\t0x1\r\n" +
		"    Forwarders\tREG_MULTI_SZ\t203.0.113.53\\0\\0\r\n" +
		"    ForwardingTimeout\tREG_DWORD\t0x5\r\n" +
		"    IsSlave\tREG_DWORD\t0x0\r\n" +
		"    ListenAddresses\tREG_MULTI_SZ\t192.168.16.2\\0\\0\r\n"

	return map[string][]byte{
		"info.txt":         []byte("evtwatch-collect 1\r\ncomputer=SBS01\r\nLocalDateTime=20090113140312.450000+060\r\r\n"),
		"ver.txt":          []byte("\r\nMicrosoft Windows [Version 5.2.3790]\r\n"),
		"systeminfo.txt":   []byte(sysinfo),
		"netstat-ano.txt":  netstatText(socks, owners, false),
		"netstat-anob.txt": netstatText(socks, owners, true),
		"tasklist-svc.csv": tasklistSvcCSV(procs),
		"tasklist.csv":     tasklistCSV(procs),
		"processes.txt":    wmicProcesses(procs),
		"reg-tcpip.txt":    []byte(regTcpip),
		"reg-dns.txt":      []byte(regDNS),
	}
}

func server2019Set() map[string][]byte {
	const dnsPID = 2384
	procs := []genProc{
		{0, "System Idle Process", "", nil, "Services", "8 K", ""},
		{4, "System", "", nil, "Services", "152 K", ""},
		{88, "Registry", "", nil, "Services", "51,344 K", "20240304070118.500000+060"},
		{348, "smss.exe", `C:\Windows\System32\smss.exe`, nil, "Services", "1,216 K", "20240304070121.062500+060"},
		{560, "wininit.exe", `C:\Windows\system32\wininit.exe`, nil, "Services", "6,904 K", "20240304070122.312500+060"},
		{640, "services.exe", `C:\Windows\system32\services.exe`, nil, "Services", "10,232 K", "20240304070122.390625+060"},
		{660, "lsass.exe", `C:\Windows\system32\lsass.exe`, []string{"Kdc", "KeyIso", "Netlogon", "NTDS", "SamSs", "VaultSvc"}, "Services", "92,116 K", "20240304070122.406250+060"},
		{780, "svchost.exe", `C:\Windows\system32\svchost.exe`, []string{"RpcEptMapper", "RpcSs"}, "Services", "12,588 K", "20240304070123.093750+060"},
		{1012, "svchost.exe", `C:\Windows\System32\svchost.exe`, []string{"TermService"}, "Services", "15,804 K", "20240304070123.921875+060"},
		{1308, "svchost.exe", `C:\Windows\system32\svchost.exe`, []string{"IKEEXT"}, "Services", "7,340 K", "20240304070124.500000+060"},
		{1400, "svchost.exe", `C:\Windows\system32\svchost.exe`, []string{"W32Time"}, "Services", "6,112 K", "20240304070124.593750+060"},
		{1520, "svchost.exe", `C:\Windows\system32\svchost.exe`, []string{"Dnscache"}, "Services", "9,880 K", "20240304070124.687500+060"},
		{dnsPID, "dns.exe", `C:\Windows\system32\dns.exe`, []string{"DNS"}, "Services", "133,052 K", "20240304070131.156250+060"},
		{2740, "Microsoft.ActiveDirectory.WebServices.exe", `C:\Windows\ADWS\Microsoft.ActiveDirectory.WebServices.exe`, []string{"ADWS"}, "Services", "38,660 K", "20240304070131.250000+060"},
		{2996, "dfsrs.exe", `C:\Windows\system32\dfsrs.exe`, []string{"DFSR"}, "Services", "29,012 K", "20240304070131.312500+060"},
		{3012, "BESClient.exe", `C:\Program Files (x86)\BigFix Enterprise\BES Client\BESClient.exe`, []string{"BESClient"}, "Services", "44,480 K", "20240304070129.734375+060"},
		{3160, "svchost.exe", `C:\Windows\system32\svchost.exe`, []string{"IAS"}, "Services", "11,236 K", "20240304070132.015625+060"},
		{4012, "WmiPrvSE.exe", `C:\Windows\system32\wbem\wmiprvse.exe`, nil, "Services", "9,424 K", "20240304091458.968750+060"},
	}
	L := "LISTENING"
	tcp := func(local string, pid int) genSock {
		remote := "0.0.0.0:0"
		if strings.HasPrefix(local, "[") {
			remote = "[::]:0"
		}
		return genSock{"TCP", local, remote, L, pid}
	}
	conn := func(local, remote, state string, pid int) genSock { return genSock{"TCP", local, remote, state, pid} }
	udp := func(local string, pid int) genSock { return genSock{"UDP", local, "", "", pid} }
	socks := []genSock{
		tcp("0.0.0.0:53", dnsPID), tcp("0.0.0.0:88", 660), tcp("0.0.0.0:135", 780), tcp("0.0.0.0:389", 660),
		tcp("0.0.0.0:445", 4), tcp("0.0.0.0:464", 660), tcp("0.0.0.0:593", 780), tcp("0.0.0.0:636", 660),
		tcp("0.0.0.0:3268", 660), tcp("0.0.0.0:3269", 660), tcp("0.0.0.0:3389", 1012), tcp("0.0.0.0:5985", 4),
		tcp("0.0.0.0:9389", 2740), tcp("0.0.0.0:47001", 4), tcp("0.0.0.0:49664", 560), tcp("0.0.0.0:49665", 660),
		tcp("0.0.0.0:49667", 660), tcp("0.0.0.0:49672", 2996),
		tcp("[::]:53", dnsPID), tcp("[::]:88", 660), tcp("[::]:135", 780), tcp("[::]:445", 4), tcp("[::]:3389", 1012),
		tcp("[::]:5985", 4), tcp("[::]:47001", 4),
		conn("10.0.0.5:389", "10.0.0.5:49702", "ESTABLISHED", 660),
		conn("10.0.0.5:49702", "10.0.0.5:389", "ESTABLISHED", 2740),
		conn("10.0.0.5:3389", "10.0.0.50:51034", "ESTABLISHED", 1012),
		conn("10.0.0.5:49711", "10.0.0.9:52311", "ESTABLISHED", 3012),
		udp("0.0.0.0:123", 1400), udp("0.0.0.0:500", 1308), udp("0.0.0.0:1645", 3160), udp("0.0.0.0:1646", 3160),
		udp("0.0.0.0:1812", 3160), udp("0.0.0.0:1813", 3160), udp("0.0.0.0:3389", 1012), udp("0.0.0.0:4500", 1308),
		udp("0.0.0.0:5353", 1520), udp("0.0.0.0:5355", 1520), udp("0.0.0.0:52311", 3012),
		udp("10.0.0.5:53", dnsPID), udp("10.0.0.5:88", 660), udp("10.0.0.5:137", 4), udp("10.0.0.5:138", 4),
		udp("10.0.0.5:389", 660), udp("10.0.0.5:464", 660), udp("127.0.0.1:53", dnsPID),
		udp("[::]:123", 1400), udp("[::]:500", 1308), udp("[::]:1645", 3160), udp("[::]:1812", 3160),
		udp("[::]:4500", 1308), udp("[::1]:53", dnsPID), udp("[fe80::5d1c:2b4e:a1f3:9c02%6]:53", dnsPID),
	}
	r := rand.New(rand.NewPCG(2019, 304))
	excluded := func(p int) bool { return (p >= 49709 && p <= 49808) || (p >= 50000 && p <= 50059) }
	pool := pickPool(r, 2500, 49152, 65535, nil, func(p int) bool {
		return excluded(p) || p == 52311 || knownPort(UDP, p)
	})
	for _, p := range pool {
		socks = append(socks, udp(fmt.Sprintf("0.0.0.0:%d", p), dnsPID))
	}
	slices.SortStableFunc(socks, func(a, b genSock) int { return strings.Compare(a.proto, b.proto) })

	sysinfo := "\r\nHost Name:                 DC01\r\n" +
		"OS Name:                   Microsoft Windows Server 2019 Standard\r\n" +
		"OS Version:                10.0.17763 N/A Build 17763\r\n" +
		"OS Manufacturer:           Microsoft Corporation\r\n" +
		"OS Configuration:          Primary Domain Controller\r\n" +
		"OS Build Type:             Multiprocessor Free\r\n" +
		"Registered Owner:          Windows User\r\n" +
		"Registered Organization:   \r\n" +
		"Product ID:                00429-70000-00000-AA123\r\n" +
		"Original Install Date:     3/14/2020, 10:21:37 AM\r\n" +
		"System Boot Time:          3/4/2024, 7:01:55 AM\r\n" +
		"System Manufacturer:       VMware, Inc.\r\n" +
		"System Model:              VMware7,1\r\n" +
		"System Type:               x64-based PC\r\n" +
		"Processor(s):              2 Processor(s) Installed.\r\n" +
		"                           [01]: Intel64 Family 6 Model 85 Stepping 7 GenuineIntel ~2394 Mhz\r\n" +
		"                           [02]: Intel64 Family 6 Model 85 Stepping 7 GenuineIntel ~2394 Mhz\r\n" +
		"BIOS Version:              VMware, Inc. VMW71.00V.16707776.B64.2008070230, 8/7/2020\r\n" +
		"Windows Directory:         C:\\Windows\r\n" +
		"System Directory:          C:\\Windows\\system32\r\n" +
		"Boot Device:               \\Device\\HarddiskVolume2\r\n" +
		"System Locale:             en-us;English (United States)\r\n" +
		"Input Locale:              en-us;English (United States)\r\n" +
		"Time Zone:                 (UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna\r\n" +
		"Total Physical Memory:     8,191 MB\r\n" +
		"Domain:                    corp.example.com\r\n" +
		"Logon Server:              \\\\DC01\r\n" +
		"Hotfix(s):                 2 Hotfix(s) Installed.\r\n" +
		"                           [01]: KB5034619\r\n" +
		"                           [02]: KB5034768\r\n" +
		"Hyper-V Requirements:      A hypervisor has been detected. Features required for Hyper-V will not be displayed.\r\n"
	regTcpip := "\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\r\n" +
		"    NV Hostname    REG_SZ    DC01\r\n" +
		"    DataBasePath    REG_EXPAND_SZ    %SystemRoot%\\System32\\drivers\\etc\r\n" +
		"    NameServer    REG_SZ    \r\n" +
		"    ForwardBroadcasts    REG_DWORD    0x0\r\n" +
		"    IPEnableRouter    REG_DWORD    0x0\r\n" +
		"    Domain    REG_SZ    corp.example.com\r\n" +
		"    Hostname    REG_SZ    DC01\r\n" +
		"    SearchList    REG_SZ    \r\n" +
		"    UseDomainNameDevolution    REG_DWORD    0x1\r\n" +
		"    EnableICMPRedirect    REG_DWORD    0x1\r\n" +
		"    DeadGWDetectDefault    REG_DWORD    0x1\r\n" +
		"    DontAddDefaultGatewayDefault    REG_DWORD    0x0\r\n" +
		"    EnableWsd    REG_DWORD    0x0\r\n" +
		"    NV Domain    REG_SZ    corp.example.com\r\n" +
		"    SyncDomainWithMembership    REG_DWORD    0x1\r\n" +
		"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Adapters\r\n" +
		"HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\DNSRegisteredAdapters\r\n" +
		"HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces\r\n" +
		"HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\NsiObjectSecurity\r\n" +
		"HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\PersistentRoutes\r\n" +
		"HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Winsock\r\n"
	regDNS := "\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\DNS\\Parameters\r\n" +
		"    BootMethod    REG_DWORD    0x3\r\n" +
		"    DsPollingInterval    REG_DWORD    0xb4\r\n" +
		"    DsTombstoneInterval    REG_DWORD    0x127500\r\n" +
		"    EnableDirectoryPartitions    REG_DWORD    0x1\r\n" +
		"    SocketPoolSize    REG_DWORD    0x9c4\r\n" +
		"    Forwarders    REG_MULTI_SZ    192.0.2.53\r\n" +
		"    GlobalQueryBlockList    REG_MULTI_SZ    wpad\\0isatap\r\n" +
		"    PreviousLocalHostname    REG_SZ    dc01.corp.example.com\r\n"
	netshDyn := "\r\nProtocol tcp Dynamic Port Range\r\n---------------------------------\r\nStart Port      : 49152\r\nNumber of Ports : 16384\r\n\r\n" +
		"\r\nProtocol udp Dynamic Port Range\r\n---------------------------------\r\nStart Port      : 49152\r\nNumber of Ports : 16384\r\n\r\n"
	netshExcl := "\r\nProtocol udp Port Exclusion Ranges\r\n\r\nStart Port    End Port\r\n----------    --------\r\n" +
		"     49709       49808\r\n     50000       50059     *\r\n\r\n* - Administered port exclusions.\r\n\r\n" +
		"\r\nProtocol tcp Port Exclusion Ranges\r\n\r\nStart Port    End Port\r\n----------    --------\r\n" +
		"      5357        5357\r\n     50000       50059     *\r\n\r\n* - Administered port exclusions.\r\n\r\n"

	return map[string][]byte{
		"info.txt": []byte("evtwatch-collect 1\r\ncomputer=DC01\r\nLocalDateTime=20240304091500.125000+060\r\r\n" +
			"note=not run as administrator: netstat -b and some event logs may be missing\r\n" +
			"note=netstat -anob gave no socket rows (needs administrator rights); file removed\r\n"),
		"ver.txt":                     []byte("\r\nMicrosoft Windows [Version 10.0.17763.5458]\r\n"),
		"systeminfo.txt":              []byte(sysinfo),
		"netstat-ano.txt":             netstatText(socks, nil, false),
		"tasklist-svc.csv":            tasklistSvcCSV(procs),
		"tasklist.csv":                tasklistCSV(procs),
		"processes.txt":               wmicProcesses(procs),
		"reg-tcpip.txt":               []byte(regTcpip),
		"reg-dns.txt":                 []byte(regDNS),
		"netsh-dynamicport.txt":       []byte(netshDyn),
		"netsh-excludedportrange.txt": []byte(netshExcl),
	}
}

// captureSets are the generated capture folders under testdata/.
func captureSets() map[string]map[string][]byte {
	return map[string]map[string][]byte{
		"sbs2003":    sbs2003Set(),
		"server2019": server2019Set(),
	}
}

func TestCaptureSetsAreGenerated(t *testing.T) {
	for dir, files := range captureSets() {
		for name, want := range files {
			path := filepath.Join("testdata", dir, name)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, want, 0o644))
				continue
			}
			got, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./rules/ports -run TestCaptureSets -update")
			require.True(t, bytes.Equal(want, got), "%s is stale: run go test ./rules/ports -run TestCaptureSets -update", path)
		}
	}
}
