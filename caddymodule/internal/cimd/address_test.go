package cimd

import (
	"net/netip"
	"testing"
)

func TestPublicAddress(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.255.0.9", "::1", // loopback
		"10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1", // RFC 1918
		"169.254.169.254", "169.254.0.1", "fe80::1", // link-local, cloud metadata
		"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", // IPv4-mapped
		"0.0.0.0", "0.1.2.3", "::", // unspecified, "this network"
		"100.64.0.1", "100.127.255.254", // CGNAT
		"224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", // multicast, broadcast, reserved
		"fc00::1", "fd12:3456::1", "fec0::1", // ULA, site-local
		"64:ff9b::a00:1", "64:ff9b:1::1", // NAT64 (to 10.0.0.1; local-use)
		"2002:a00:1::1", "2001:0:4136:e378::1", // 6to4, Teredo
		"::127.0.0.1",                                                           // IPv4-compatible
		"192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", "198.18.0.1", // documentation, benchmarking
		"192.0.0.8", "100::1",
		"fe80::1%lo", "2606:4700:4700::1111%eth0", // any zoned address: a zone names a local interface
	}
	for _, s := range refused {
		if PublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("PublicAddress(%s) = true, want false", s)
		}
	}
	for _, s := range []string{"93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "172.32.0.1", "100.128.0.1"} {
		if !PublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("PublicAddress(%s) = false, want true", s)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{
		"https://app.example.com/client.json",
		"https://app.example.com:8443/oauth/client",
		"https://app.example.com/client?v=2",
		"https://127.0.0.1:9/c.json",
	} {
		if err := CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"http://app.example.com/client.json", // scheme
		"HTTPS://app.example.com/client.json",
		"https://app.example.com",       // no path
		"https://app.example.com/",      // root path only
		"https://app.example.com/c#x",   // fragment
		"https://u:p@app.example.com/c", // userinfo
		"https://u@app.example.com/c",
		"https://app.example.com/a/../c", // dot segments
		"https://app.example.com/./c",
		"https://app.example.com/a/%2e%2e/c",
		"https:///c.json",                  // no host
		"https://app.example.com/c d",      // whitespace
		"https://app.example.com\\@evil/c", // backslash
	} {
		if err := CheckURL(bad); err == nil {
			t.Errorf("CheckURL(%q) = nil, want an error", bad)
		}
	}
	if IsMetadataURL("drio_abc") || IsMetadataURL("https://app.example.com/") || !IsMetadataURL("https://app.example.com/c") {
		t.Error("IsMetadataURL does not tell URL ids from registered ones")
	}
}
