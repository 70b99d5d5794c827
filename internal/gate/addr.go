package gate

import "net/netip"

// netipAddr parses the address part of a client address.
func netipAddr(s string) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.ParseAddr(s)
	}
	return ap.Addr(), nil
}
