// Package render writes the generated files Cisco 79xx phones fetch:
// SEP<MAC>.cnf.xml, XMLDefault.cnf.xml, SIPDefault.cnf, SIP<MAC>.cnf,
// dialplan.xml, RINGLIST.DAT, Ringlist.xml, syncinfo.xml and OS79XX.TXT
// (docs/cisco-79xx.md §2, §3). It does no I/O besides reading templates.
//
// # Templates
//
// Every file but OS79XX.TXT comes from a text/template built into the
// binary. An admin replaces one by putting a file of the same name in the
// override directory given to Load; any other file there is an error, so a
// misspelt name is not silently ignored. Load renders every template once
// from sample inputs, so a mistake shows up at start, with file and line.
//
//	device.xml.tmpl      SEP<MAC>.cnf.xml   (Form: ual-stub, java-sip, xml)
//	default.xml.tmpl     XMLDefault.cnf.xml
//	sipdefault.cnf.tmpl  SIPDefault.cnf
//	sip.cnf.tmpl         SIP<MAC>.cnf
//	dialplan.xml.tmpl    dialplan.xml
//	ringlist.dat.tmpl    RINGLIST.DAT
//	ringlist.xml.tmpl    Ringlist.xml
//	syncinfo.xml.tmpl    syncinfo.xml
//
// Start from the built-in file (internal/render/templates/) rather than
// from scratch. Besides text/template's own functions, templates can call:
//
//	xml V   V escaped for XML text or attributes; characters XML cannot
//	        hold become U+FFFD. Use it for every value in an XML file.
//	sip V   V in double quotes for a `name: "value"` line; a value with a
//	        quote, CR, LF or NUL stops the rendering with an error.
//
// # Template data
//
// Dot is a Data. Fields every file has:
//
//	.File           name of the file being rendered
//	.Site           the Site as given (.Site.TimeZone, .Site.Locale, ...)
//	.CallManagers   callManagerGroup members: .Priority (0..4), .Host,
//	                .SCCPPort (0 = leave out), .SIPPort (0 = leave out).
//	                Site.CallManagers, or the SIP proxy when there are none;
//	                for SIP devices (SEP<MAC>.cnf.xml of a SIP phone of any
//	                model) the SIP proxy alone, on sipPort.
//	.SIPProxy       .Host ("" = none) and .SIPPort (default 5060)
//	.TimeZone       .Raw, .Cisco (XML <timeZone>), .SIP (time_zone, ""
//	                = none), .Offset (minutes), .DateTemplate, .Known,
//	                .HasDST, .DST (.Offset, .StartMonth, .StartWeekOfMonth,
//	                .StartDayOfWeek, .StartTime, and .Stop...; .Offset "" =
//	                no rule to write: none, or one phoneboot does not model)
//	.NTPServers     as given
//	.UserLocale     Site.Locale; .NetworkLocale LocaleInfo.Network, else
//	                its part after the first "_"
//	.LangCode, .LocaleVersion, .LocaleUID, .NetworkLocaleUID
//	                the locale blocks' details (Site.LocaleInfo with its
//	                defaults: from the name, "7.1.0.1(1)", 1, 64);
//	                .WinCharSet is "iso-8859-1" or "utf-8" (per-phone files:
//	                by family when not set)
//	.MediaStart, .MediaStop  RTP ports of SIP phones (16384, 32766)
//	.DialRules      .Match, .Timeout, .Rewrite; one MATCH="*" rule if none given
//	.Rings          .Name, .File
//	.Sync           Site.Sync, "1" when empty
//	.ImageVersion   SIPDefault.cnf: its argument; SIP<MAC>.cnf: the phone's
//	                load; syncinfo.xml: its argument or "*"
//	.VersionStamp   hash of the template and all inputs: changes exactly
//	                when the file does
//
// Per-phone files (SEP<MAC>.cnf.xml, SIP<MAC>.cnf) also have:
//
//	.Phone          the Phone as given
//	.DeviceName     "SEP00137F38B3DE"; .MAC "00137F38B3DE"
//	.Model          catalog name ("7960"), "" when not known yet
//	.Protocol       "SCCP" or "SIP"
//	.Form           "ual-stub", "java-sip" or "xml" (SEP<MAC>.cnf.xml only)
//	.Load, .Label   as given
//	.Lines          .Button (from 1), .Extension, .Name, .Label and
//	                .DisplayName (Name, else Extension), .AuthName
//	                (AuthUser, else Extension), .Password
//	.AddOns         key expansion modules: .Idx (1, 2), .Type ("7914"),
//	                .Lines (its line keys), .Load ("" = keep its own),
//	                .First, .Last (the phone's line buttons on it)
//	.Transport      "TCP" or "UDP"; .TransportCode 1 or 2
//	                (<transportLayerProtocol>)
//	.Blank          the phone is in the inventory: blank what it does not
//	                use; .Unused its line buttons without a line, up to
//	                the model's count (SIP<MAC>.cnf)
//
// XMLDefault.cnf.xml also has .LoadInfos: .Code, .Model ("Cisco 7960"),
// .Load, one per device-type code, sorted by code.
//
// # Time zones
//
// Site.TimeZone is an IANA name or a Cisco name of the table in
// timezones.tsv, in any case: Cisco's own list of <timeZone> names
// (usecallmanager.nz, with five wrong offsets corrected; the file says
// why), each with its offset, daylight-saving rule, 7940/7960 SIP
// time_zone value and the IANA names that translate to it (checked
// against the time zone database by the tests). Any other name is an
// error that suggests names the table has: nothing unknown reaches a
// phone. The SIP values are (uncertain): the list the SIP firmware
// accepts was not found; Site.SIPTimeZone overrides them.
//
// # Checks
//
// Rendering refuses, with an error naming the field, what would make a
// broken file: SIP values with quotes or line breaks, a phone_label over
// 11 characters, processNodeName over 50, more lines than the model has
// buttons, a model that does not run the protocol, a sync value over 32
// characters, ring entries that break the "name<TAB>file" lines or that
// Ringlist.xml does not take (over 50, names or files over 25 characters,
// not .raw), a time zone not in the table, a dial rule rewrite outside the
// dial template's tokens.
package render
