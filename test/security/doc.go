// Package security replays known TFTP server vulnerabilities and hostile
// protocol inputs against phoneboot's TFTP server over real UDP sockets.
//
// Every test names the CVE or source it replays (see section 5 of
// docs/peers.md), sends raw datagrams only to 127.0.0.0/8 or ::1, and ends
// by checking that the server still serves a normal file: a hostile input
// must never crash it, hang it, or leak a file from outside its root.
package security
