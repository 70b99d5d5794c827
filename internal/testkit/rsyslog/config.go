package rsyslog

import (
	"fmt"
	"strings"
)

// probeAppName marks the harness's readiness probes; rsyslog files them
// apart from the messages under test.
const probeAppName = "rsyslog-testkit-probe"

// maxMessage is the largest message rsyslog keeps whole, in bytes.
const maxMessage = 1 << 20

// config is what rsyslog.conf is rendered from.
type config struct {
	workDir   string
	port      int
	outFile   string // messages under test
	probeFile string // readiness probes
	logFile   string // rsyslogd's own messages
	tls       *tlsFiles
	driver    string // "gtls" or "ossl", with tls
}

// messageFields are the properties each output line holds, as one JSON
// object: what rsyslog's RFC 5424 parser made of the message, and the
// message as received (rawmsg, without the octet count).
var messageFields = []string{
	"rawmsg", "pri", "protocol-version", "timereported", "hostname",
	"app-name", "procid", "msgid", "structured-data", "msg",
}

// render returns the configuration: no system configuration, no local
// sockets, one imtcp listener on 127.0.0.1 bound to its own ruleset, which
// writes every message as a JSON line to outFile (probes to probeFile).
// rsyslogd's own messages go to logFile.
func (c config) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global(\n  workDirectory=%q\n  maxMessageSize=\"%d\"\n  net.enableDNS=\"off\"\n", c.workDir, maxMessage)
	if c.tls != nil {
		fmt.Fprintf(&b, "  defaultNetstreamDriverCAFile=%q\n  defaultNetstreamDriverCertFile=%q\n  defaultNetstreamDriverKeyFile=%q\n",
			c.tls.caFile, c.tls.certFile, c.tls.keyFile)
	}
	b.WriteString(")\n")

	b.WriteString(`module(load="imtcp"`)
	if c.tls != nil {
		// Mode 1 is TLS only; anon authenticates no client.
		fmt.Fprintf(&b, ` streamDriver.name=%q streamDriver.mode="1" streamDriver.authMode="anon"`, c.driver)
	}
	b.WriteString(")\n")

	b.WriteString("template(name=\"testkitJSON\" type=\"list\") {\n  constant(value=\"{\")\n")
	for i, f := range messageFields {
		if i > 0 {
			b.WriteString("  constant(value=\",\")\n")
		}
		if f == "timereported" {
			fmt.Fprintf(&b, "  property(name=%q dateFormat=\"rfc3339\" format=\"jsonf\")\n", f)
		} else {
			fmt.Fprintf(&b, "  property(name=%q format=\"jsonf\")\n", f)
		}
	}
	b.WriteString("  constant(value=\"}\\n\")\n}\n")

	fmt.Fprintf(&b, `ruleset(name="recv") {
  if $app-name == %q then {
    action(type="omfile" file=%q template="testkitJSON")
    stop
  }
  action(type="omfile" file=%q template="testkitJSON")
}
`, probeAppName, c.probeFile, c.outFile)
	fmt.Fprintf(&b, "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"recv\" maxFrameSize=\"%d\")\n", c.port, maxMessage+64)
	fmt.Fprintf(&b, "*.* action(type=\"omfile\" file=%q)\n", c.logFile)
	return b.String()
}
