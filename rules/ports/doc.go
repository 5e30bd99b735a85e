// Package ports owns port ownership: which process holds which TCP/UDP
// port, with the process's image, path, start time and services, and what
// the machine's port settings let random binds take.
//
// Snapshots come from the live tables (Live: Windows GetExtendedTcpTable/
// UdpTable and the SCM; Linux /proc) or from captured command output
// (LoadCaptures: netstat -ano/-anob, tasklist /svc, PowerShell CSV, wmic,
// and the netsh, reg query, ver and systeminfo output that make up Facts),
// each file recognised by content (Sniff, IsCapture) whatever its language
// or encoding. collect/collect.cmd gathers all of them, plus the event
// logs, on servers evtwatch cannot run on (Server 2003 and later).
//
// KnownServices is the service→fixed-port table the rules use to turn
// "the IPSEC Services service terminated" into "who holds udp/4500?".
//
// DNS socket pool victims: since MS08-037 the DNS server binds
// SocketPoolSize (default 2,500) random UDP ports when it starts, from
// 1024..MaxUserPort on 2003 with MaxUserPort set (49152–65535 without it)
// and from the UDP dynamic range on 2008 and later. Only UDP ports at or
// above 1024 can be taken (ServicePorts.PoolExposed): Exchange ActiveSync
// AUTD 2883, IAS/NPS 1645/1646/1812/1813, IPsec NAT-T 4500, L2TP 1701, SQL
// Browser 1434, MSMQ 1801/3527, Exchange Edge ADAM 50389/50636, BigFix
// 52311. TCP listeners (PPTP 1723, RDP 3389, SQL 1433) and ports below
// 1024 (IKE 500, DNS 53, DHCP 67, NTP 123, SNMP 161/162) are never pool
// victims; when they are taken, another process is the culprit (for TCP
// in the ephemeral range, any outgoing connection can be).
//
// Summarize and PortsReport render "evtwatch ports"; Audit renders
// "evtwatch audit": the random ranges, the DNS pool and its odds, the
// exposed fixed ports and the commands that protect them.
package ports
