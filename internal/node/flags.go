package node

import (
	"flag"
	"fmt"
	"os"
	"time"

	"phoneboot/internal/discovery"
	"phoneboot/internal/stale"
	"phoneboot/internal/store"
	"phoneboot/internal/tftp"
)

// Flags defines `phoneboot serve`'s flags for the services on fs and
// returns what makes Options of them once fs is parsed (Data, ConfigFile
// and Logger are the caller's). Services add their flags here, so that
// the command stays wiring.
func Flags(fs *flag.FlagSet) func() (Options, error) {
	var (
		addr         = fs.String("tftp-addr", ":69", "TFTP listen `address`; \":69\" means every IPv4 and IPv6 address")
		maxTransfers = fs.Int("tftp-max-transfers", 10000, "concurrent TFTP transfers, and as many phone HTTP requests; more are refused with a \"server busy\" error")
		ratePerIP    = fs.Float64("tftp-rate", 20, "new TFTP requests per second allowed from one client address, and as many over phone HTTP (0: no limit)")
		rateBurst    = fs.Int("tftp-burst", 50, "burst of requests allowed above --tftp-rate")
		maxBlksize   = fs.Int("tftp-max-blksize", tftp.MaxBlksize, "largest block size granted to clients (8-65464)")
		maxWindow    = fs.Int("tftp-max-windowsize", 64, "largest RFC 7440 window granted to clients (1-65535)")
		timeout      = fs.Duration("tftp-timeout", time.Second, "retransmission timeout until the round trip to a client is measured")
		minTimeout   = fs.Duration("tftp-min-timeout", 50*time.Millisecond, "shortest adaptive retransmission timeout")
		maxTimeout   = fs.Duration("tftp-max-timeout", 5*time.Second, "longest adaptive retransmission timeout")
		retries      = fs.Int("tftp-retries", 8, "retransmissions of one packet before a transfer is abandoned")
		rollover     = fs.Int("tftp-rollover", 0, "block number after 65535 for files over 32 MB: 0 or 1")
		cacheMB      = fs.Int64("tftp-cache-mb", 512, "memory for file contents shared by all transfers, in MiB (0: read from disk every time)")
		uploadDir    = fs.String("upload-dir", "", "accept TFTP uploads (write requests) into this `directory`; off when empty")
		uploadMaxMB  = fs.Int64("upload-max-mb", 64, "largest upload accepted, in MiB")
		uploadTotal  = fs.Int64("upload-max-total-mb", 1024, "most MiB the upload directory may hold, its files and the uploads in progress (0: no limit)")
		dhcpIface    = fs.String("dhcp-iface", "", "serve DHCP (with option 150 = this machine) on this `interface` only; off when empty (or set [dhcp] in the config)")
		dhcpRange    = fs.String("dhcp-range", "", "DHCP pool `FROM-TO`, e.g. 10.0.0.100-10.0.0.199")
		httpAddr     = fs.String("http-addr", ":6970", "serve phones' files over HTTP on this TCP `address` too, where 79x1/79x2/79x5/797x look first (\"\": off)")
		adminAddr    = fs.String("admin-addr", "127.0.0.1:8069", "admin web pages, JSON API and /metrics on this TCP `address` (\"\": off)")
		adminToken   = fs.String("admin-token", os.Getenv("PHONEBOOT_ADMIN_TOKEN"), "`token` the admin server asks of clients; needed for any address but loopback (default $PHONEBOOT_ADMIN_TOKEN)")
		syslogAddr   = fs.String("syslog-addr", ":514", "receive phones' syslog on this UDP `address` (\"\": off); if it cannot be opened, serve warns and goes on")
		record       = fs.Bool("record-events", true, "record every phone's transfers in its timeline (off: only provision's decisions; for measuring what tracking costs)")
		keepAge      = fs.Duration("events-max-age", 365*24*time.Hour, "delete phone events older than this (0: keep all)")
		keepCount    = fs.Int("events-max", 2000000, "keep at most this many phone events, the newest (0: no limit)")
		eventRate    = fs.Float64("events-rate", 20, "phone events stored per second per phone, in bursts of 10 seconds' worth; the rest are counted (0: no limit)")
		unknownMax   = fs.Int("unknown-phones-max", 5000, "keep at most this many phones outside the inventory, those seen last, with their events (0: no limit)")
		unknownAge   = fs.Duration("unknown-phones-max-age", 30*24*time.Hour, "forget phones outside the inventory not seen for this long, with their events (0: keep)")
		reload       = fs.Duration("reload-interval", 2*time.Second, "how often to look for changes to the config, the templates and the TFTP root (0: only on SIGHUP)")
		grace        = fs.Duration("shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long running transfers may take to finish")
		discover     = fs.String("discover", "", "learn phones' model, load and address from their CDP/LLDP on this `interface` (needs CAP_NET_RAW; docs/discovery.md)")
		announce     = fs.String("announce-voice-vlan", "", "send CDP/LLDP-MED voice VLAN `IF:VLAN` as a switch would (0: none); off by default, see docs/discovery.md")
		staleIface   = fs.String("answer-stale", "", "answer phones' ARP for an old network's TFTP server on this `interface`: take the address while they need it (docs/stale-server.md; off when empty)")
		staleNotice  = fs.String("notice-stale", "", "only notice phones' ARP for an old network's TFTP server on this `interface`, in their timeline; never take an address (docs/stale-server.md)")
		staleMax     = fs.Int("answer-stale-max", stale.DefaultMax, "most addresses --answer-stale holds at once")
		staleIdle    = fs.Duration("answer-stale-idle", stale.DefaultIdle, "--answer-stale gives an address up once its phones sent no ARP and no file request for this long")
	)
	return func() (Options, error) {
		switch {
		case *rollover != 0 && *rollover != 1:
			return Options{}, fmt.Errorf("--tftp-rollover must be 0 or 1, not %d", *rollover)
		case *maxBlksize < tftp.MinBlksize || *maxBlksize > tftp.MaxBlksize:
			return Options{}, fmt.Errorf("--tftp-max-blksize must be from 8 to 65464, not %d", *maxBlksize)
		case *maxWindow < 1 || *maxWindow > 65535:
			return Options{}, fmt.Errorf("--tftp-max-windowsize must be from 1 to 65535, not %d", *maxWindow)
		case *staleIface != "" && *staleNotice != "":
			return Options{}, fmt.Errorf("--answer-stale and --notice-stale: give one (--answer-stale notices too)")
		case *staleMax < 1 || *staleIdle < time.Second:
			return Options{}, fmt.Errorf("--answer-stale-max must be at least 1 and --answer-stale-idle at least 1s")
		}
		var annIface string
		var annVLAN int
		if *announce != "" {
			var err error
			if annIface, annVLAN, err = discovery.ParseAnnounce(*announce); err != nil {
				return Options{}, err
			}
		}
		return Options{
			DiscoverIface: *discover, AnnounceIface: annIface, AnnounceVLAN: annVLAN,
			TFTP: &tftp.Server{
				Limits:        tftp.Limits{MaxBlksize: *maxBlksize, MaxWindowsize: *maxWindow, MaxUpload: *uploadMaxMB << 20},
				MaxTransfers:  *maxTransfers,
				RatePerSource: *ratePerIP,
				RateBurst:     *rateBurst,
				Timeout:       *timeout,
				MinTimeout:    *minTimeout,
				MaxTimeout:    *maxTimeout,
				Retries:       *retries,
				RolloverToOne: *rollover == 1,
			},
			TFTPAddr: *addr, CacheBytes: *cacheMB << 20, UploadDir: *uploadDir, UploadMaxTotal: *uploadTotal << 20,
			HTTPAddr: *httpAddr, AdminAddr: *adminAddr, AdminToken: *adminToken,
			DHCPIface: *dhcpIface, DHCPRange: *dhcpRange, SyslogAddr: *syslogAddr,
			RecordTransfers: *record, EventRate: *eventRate,
			Keep:        store.Retention{EventsMaxAge: *keepAge, EventsMax: *keepCount, UnknownMax: *unknownMax, UnknownMaxAge: *unknownAge},
			ReloadEvery: *reload, Grace: *grace,
			Stale: StaleOptions{Iface: *staleIface + *staleNotice, NoticeOnly: *staleNotice != "", Max: *staleMax, Idle: *staleIdle},
		}, nil
	}
}
