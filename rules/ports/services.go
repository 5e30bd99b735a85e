package ports

import (
	"fmt"
	"strings"
)

// PortSpec is one fixed port a service needs.
type PortSpec struct {
	Protocol Protocol `json:"protocol"`
	Port     uint16   `json:"port"`
}

// String renders the spec as "udp/2883".
func (p PortSpec) String() string { return fmt.Sprintf("%s/%d", p.Protocol, p.Port) }

// ServicePorts says which fixed ports a Windows service (or a component
// hosted in one) must bind, so that a failure event that names only the
// service (SCM 7023 "The IPSEC Services service terminated ...") can be
// turned into "who holds udp/4500 now?".
type ServicePorts struct {
	// Key is the service key name (what EVTX carries in <Binary> of SCM
	// events, what tasklist /svc prints), e.g. "IAS".
	Key string `json:"key"`
	// DisplayNames are the names the SCM uses in event text, across
	// Windows versions ("Internet Authentication Service" on 2003,
	// "Network Policy Server" on 2008+).
	DisplayNames []string `json:"display_names"`
	// Aliases are other names admins and event sources use ("NPS",
	// "Server ActiveSync").
	Aliases []string `json:"aliases,omitempty"`
	// Ports are the fixed ports the service binds.
	Ports []PortSpec `json:"ports"`
	// Expected are the images that legitimately own these ports (the
	// service itself, its host process, or "System" for kernel/HTTP.sys
	// listeners). An owner outside this list is a candidate culprit.
	Expected []string `json:"expected,omitempty"`
	// RunsWith are service keys whose presence means this component runs
	// (ActiveSync AUTD has no service of its own; it runs when Exchange
	// 2003's information store does).
	RunsWith []string `json:"runs_with,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// PoolExposed returns the service's ports that a DNS socket pool can take:
// UDP ports at or above 1024. The pool (MS08-037) binds only UDP sockets and
// draws from 1024..MaxUserPort on 2003 or from the dynamic range (49152+ by
// default) on 2008 and later, so TCP listeners and ports below 1024 are
// never its victims; conflicts on them point to another culprit.
func (s ServicePorts) PoolExposed() []PortSpec {
	var out []PortSpec
	for _, p := range s.Ports {
		if p.Protocol == UDP && p.Port >= DynamicRangeStart {
			out = append(out, p)
		}
	}
	return out
}

// ExpectedOwner reports whether image (e.g. "svchost.exe", any case) is one
// of the processes that legitimately hold the service's ports.
func (s ServicePorts) ExpectedOwner(image string) bool {
	for _, e := range s.Expected {
		if strings.EqualFold(e, image) {
			return true
		}
	}
	return false
}

func udp(ports ...uint16) []PortSpec { return specs(UDP, ports) }
func tcp(ports ...uint16) []PortSpec { return specs(TCP, ports) }

func specs(proto Protocol, ports []uint16) []PortSpec {
	out := make([]PortSpec, len(ports))
	for i, p := range ports {
		out[i] = PortSpec{proto, p}
	}
	return out
}

func join(parts ...[]PortSpec) []PortSpec {
	var out []PortSpec
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// KnownServices returns the service→port table (WINDOWS-EVENTS.md §1.2,
// §1.3). Every call returns a fresh copy the caller may modify.
func KnownServices() []ServicePorts {
	return []ServicePorts{
		{
			Key:          "ActiveSyncAUTD",
			DisplayNames: []string{"Server ActiveSync"},
			Aliases:      []string{"Exchange ActiveSync", "ActiveSync", "AUTD", "IP-based AUTD", "MSExchangeAUTD"},
			Ports:        udp(2883),
			Expected:     []string{"w3wp.exe", "inetinfo.exe", "dllhost.exe"},
			RunsWith:     []string{"MSExchangeIS"},
			Note:         "Exchange 2003 Server ActiveSync IP-based Always-Up-To-Date notifications; not a service of its own (runs in the IIS worker process); logs Application 3015/3024 when udp/2883 is taken",
		},
		{
			Key:          "IAS",
			DisplayNames: []string{"Internet Authentication Service", "Network Policy Server"},
			Aliases:      []string{"NPS", "RADIUS", "IAS/NPS"},
			Ports:        udp(1645, 1646, 1812, 1813),
			Expected:     []string{"svchost.exe"},
			Note:         "RADIUS authentication and accounting (legacy 1645/1646 and RFC 1812/1813); IPv4 and IPv6",
		},
		{
			Key:          "PolicyAgent",
			DisplayNames: []string{"IPSEC Services", "IPsec Policy Agent", "IPSec Policy Agent"},
			Aliases:      []string{"IPsec", "IPSEC"},
			Ports:        udp(500, 4500),
			Expected:     []string{"lsass.exe", "svchost.exe"},
			Note:         "IKE 500 and NAT-T 4500; on 2003 IKE runs inside lsass.exe. When it cannot bind, the server falls into IPsec Block mode (KB 956188)",
		},
		{
			Key:          "IKEEXT",
			DisplayNames: []string{"IKE and AuthIP IPsec Keying Modules"},
			Aliases:      []string{"IKE", "AuthIP"},
			Ports:        udp(500, 4500),
			Expected:     []string{"svchost.exe"},
			Note:         "2008 and later IKE/AuthIP keying (udp 500, NAT-T 4500)",
		},
		{
			Key:          "RemoteAccess",
			DisplayNames: []string{"Routing and Remote Access"},
			Aliases:      []string{"RRAS", "VPN", "L2TP", "PPTP"},
			Ports:        join(udp(1701, 500, 4500), tcp(1723)),
			Expected:     []string{"svchost.exe", "System", "lsass.exe"},
			Note:         "L2TP/IPsec needs udp 1701 plus IKE 500/4500; PPTP needs tcp 1723 and GRE (IP 47). L2TP and PPTP sockets are kernel-owned (System)",
		},
		{
			Key:          "SstpSvc",
			DisplayNames: []string{"Secure Socket Tunneling Protocol Service"},
			Aliases:      []string{"SSTP"},
			Ports:        tcp(443),
			Expected:     []string{"System", "svchost.exe"},
			Note:         "SSTP VPN over HTTPS through HTTP.sys",
		},
		{
			Key:          "DNS",
			DisplayNames: []string{"DNS Server"},
			Aliases:      []string{"Microsoft-Windows-DNS-Server-Service"},
			Ports:        join(udp(53), tcp(53)),
			Expected:     []string{"dns.exe"},
			Note:         "the DNS server itself; when something else holds 53 it is usually the NAT/ICS DNS proxy",
		},
		{
			Key:          "DHCPServer",
			DisplayNames: []string{"DHCP Server"},
			Aliases:      []string{"DHCP", "Microsoft-Windows-DHCP-Server"},
			Ports:        udp(67),
			Expected:     []string{"svchost.exe", "tcpsvcs.exe"},
			Note:         "below 1024: never in a DNS socket pool",
		},
		{
			Key:          "W32Time",
			DisplayNames: []string{"Windows Time"},
			Aliases:      []string{"NTP", "Time-Service"},
			Ports:        udp(123),
			Expected:     []string{"svchost.exe"},
			Note:         "below 1024: never in a DNS socket pool",
		},
		{
			Key:          "SNMP",
			DisplayNames: []string{"SNMP Service"},
			Ports:        udp(161),
			Expected:     []string{"snmp.exe"},
			Note:         "below 1024: never in a DNS socket pool",
		},
		{
			Key:          "SNMPTRAP",
			DisplayNames: []string{"SNMP Trap", "SNMP Trap Service"},
			Ports:        udp(162),
			Expected:     []string{"snmptrap.exe"},
			Note:         "below 1024: never in a DNS socket pool; monitoring agents often hold 162",
		},
		{
			Key:          "ADAM_MSExchange",
			DisplayNames: []string{"Microsoft Exchange ADAM"},
			Aliases:      []string{"AD LDS", "ADAM", "EdgeSync"},
			Ports:        join(tcp(50389, 50636), udp(50389, 50636)),
			Expected:     []string{"dsamain.exe"},
			Note:         "Exchange 2007+ Edge Transport AD LDS/ADAM instance (LDAP 50389, LDAPS 50636); dns.exe holding 50636 stops it with 10013 (key name unconfirmed)",
		},
		{
			Key:          "BESClient",
			DisplayNames: []string{"BES Client"},
			Aliases:      []string{"BigFix", "BigFix Client", "IBM BigFix Client"},
			Ports:        udp(52311),
			Expected:     []string{"BESClient.exe"},
			Note:         "BigFix agent notification port; BES Support fixlet 765 reserves it on DNS servers",
		},
		{
			Key:          "W3SVC",
			DisplayNames: []string{"World Wide Web Publishing Service", "World Wide Web Publishing"},
			Aliases:      []string{"IIS", "HTTP", "HTTP.sys", "Microsoft-Windows-HttpEvent"},
			Ports:        tcp(80, 443),
			Expected:     []string{"System", "inetinfo.exe"},
			Note:         "IIS 6 and later listen through HTTP.sys, so netstat shows PID 4 (System); IIS 5 listens in inetinfo.exe",
		},
		{
			Key:          "WinRM",
			DisplayNames: []string{"Windows Remote Management (WS-Management)", "Windows Remote Management"},
			Aliases:      []string{"WS-Management"},
			Ports:        tcp(5985, 5986),
			Expected:     []string{"System", "svchost.exe"},
			Note:         "HTTP 5985 / HTTPS 5986 through HTTP.sys",
		},
		{
			Key:          "TermService",
			DisplayNames: []string{"Terminal Services", "Remote Desktop Services"},
			Aliases:      []string{"RDP", "Remote Desktop"},
			Ports:        tcp(3389),
			Expected:     []string{"svchost.exe"},
			Note:         "RDP listener RDP-Tcp (2012+ also listens on udp 3389 for the UDP transport)",
		},
		{
			Key:          "MSSQLSERVER",
			DisplayNames: []string{"SQL Server (MSSQLSERVER)", "MSSQLSERVER"},
			Aliases:      []string{"SQL Server"},
			Ports:        tcp(1433),
			Expected:     []string{"sqlservr.exe"},
			Note:         "default instance; named instances use dynamic ports unless configured",
		},
		{
			Key:          "SQLBrowser",
			DisplayNames: []string{"SQL Server Browser"},
			Ports:        udp(1434),
			Expected:     []string{"sqlbrowser.exe", "sqlservr.exe"},
			Note:         "SQL Server 2000 and MSDE answer udp 1434 in sqlservr.exe itself",
		},
		{
			Key:          "MSMQ",
			DisplayNames: []string{"Message Queuing"},
			Aliases:      []string{"MSMQ"},
			Ports:        join(tcp(1801, 2103, 2105, 2107), udp(1801, 3527)),
			Expected:     []string{"mqsvc.exe"},
			Note:         "Message Queuing (installed on many SBS boxes); its udp 1801 and 3527 are in a 2003 DNS pool's range",
		},
		{
			Key:          "SMTPSVC",
			DisplayNames: []string{"Simple Mail Transfer Protocol (SMTP)"},
			Aliases:      []string{"SMTP"},
			Ports:        tcp(25),
			Expected:     []string{"inetinfo.exe"},
			Note:         "IIS SMTP (Exchange 2003 transport); bind failures log SMTPSVC 115",
		},
	}
}

// LookupService finds a service by key, display name or alias, ignoring
// case and surrounding or repeated spaces. It is meant for the %1 of SCM
// 7000/7023/7024 (the display name) and for tasklist /svc key names.
func LookupService(name string) (ServicePorts, bool) {
	want := normName(name)
	if want == "" {
		return ServicePorts{}, false
	}
	for _, s := range KnownServices() {
		if normName(s.Key) == want {
			return s, true
		}
		for _, n := range s.DisplayNames {
			if normName(n) == want {
				return s, true
			}
		}
		for _, n := range s.Aliases {
			if normName(n) == want {
				return s, true
			}
		}
	}
	return ServicePorts{}, false
}

// ServicesOnPort returns the known services that need proto/port.
func ServicesOnPort(proto Protocol, port uint16) []ServicePorts {
	var out []ServicePorts
	for _, s := range KnownServices() {
		for _, p := range s.Ports {
			if p.Protocol == proto && p.Port == port {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func normName(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
