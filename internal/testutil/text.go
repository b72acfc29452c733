package testutil

import (
	"math/rand/v2"
	"strings"
)

// Text returns n reproducible bytes of text: lines of up to 80 printable
// characters ended by LF, CR LF or a bare CR, every line end netascii
// converts.
func Text(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, 0, n+81)
	for len(b) < n {
		for range r.IntN(80) {
			b = append(b, byte(' '+r.IntN(95)))
		}
		b = append(b, [][]byte{{'\n'}, {'\r', '\n'}, {'\r'}}[r.IntN(3)]...)
	}
	return b[:n]
}

// Netascii is b as it travels in netascii (RFC 764), converted the
// obvious way: LF becomes CR LF, a bare CR becomes CR NUL.
func Netascii(b []byte) []byte {
	return []byte(strings.NewReplacer("\n", "\r\n", "\r", "\r\x00").Replace(string(b)))
}
