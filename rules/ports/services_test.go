package ports

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLookupService(t *testing.T) {
	tests := []struct {
		name string
		key  string
		port PortSpec
	}{
		{"IPSEC Services", "PolicyAgent", PortSpec{UDP, 4500}},
		{"Internet Authentication Service", "IAS", PortSpec{UDP, 1812}},
		{"network policy server", "IAS", PortSpec{UDP, 1645}},
		{"  Routing and   Remote Access ", "RemoteAccess", PortSpec{UDP, 1701}},
		{"IKE and AuthIP IPsec Keying Modules", "IKEEXT", PortSpec{UDP, 500}},
		{"Secure Socket Tunneling Protocol Service", "SstpSvc", PortSpec{TCP, 443}},
		{"Server ActiveSync", "ActiveSyncAUTD", PortSpec{UDP, 2883}},
		{"NPS", "IAS", PortSpec{UDP, 1813}},
		{"ias", "IAS", PortSpec{UDP, 1646}},
		{"DNS Server", "DNS", PortSpec{TCP, 53}},
		{"Microsoft Exchange ADAM", "ADAM_MSExchange", PortSpec{UDP, 50636}},
		{"BES Client", "BESClient", PortSpec{UDP, 52311}},
		{"SQL Server Browser", "SQLBrowser", PortSpec{UDP, 1434}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := LookupService(tt.name)
			require.True(t, ok)
			require.Equal(t, tt.key, s.Key)
			require.Contains(t, s.Ports, tt.port)
		})
	}
	_, ok := LookupService("Print Spooler")
	require.False(t, ok)
	_, ok = LookupService("")
	require.False(t, ok)
}

func TestKnownServicesIsACopy(t *testing.T) {
	a := KnownServices()
	a[0].Ports[0].Port = 1
	a[0].Key = "changed"
	b := KnownServices()
	require.NotEqual(t, "changed", b[0].Key)
	require.NotEqual(t, uint16(1), b[0].Ports[0].Port)
}

func TestKnownServicesNamesAreUnique(t *testing.T) {
	seen := map[string]string{}
	for _, s := range KnownServices() {
		require.NotEmpty(t, s.Ports, s.Key)
		names := append(append([]string{s.Key}, s.DisplayNames...), s.Aliases...)
		for _, n := range names {
			k := normName(n)
			if prev, dup := seen[k]; dup && prev != s.Key {
				t.Errorf("name %q used by %s and %s", n, prev, s.Key)
			}
			seen[k] = s.Key
		}
	}
}

func TestPoolExposed(t *testing.T) {
	ras, _ := LookupService("RemoteAccess")
	require.Equal(t, []PortSpec{{UDP, 1701}, {UDP, 4500}}, ras.PoolExposed())
	dhcp, _ := LookupService("DHCP Server")
	require.Empty(t, dhcp.PoolExposed())
	require.Equal(t, "udp/2883", PortSpec{UDP, 2883}.String())
	got := ServicesOnPort(UDP, 4500)
	require.Len(t, got, 3)
	require.True(t, got[0].ExpectedOwner("LSASS.EXE"))
}
