package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/syncml"
)

// declarations are the XML declarations a body may start with, and whether the server
// reads it: only UTF-8 (any case) or no declaration; every other encoding is refused
// rather than read as if it were UTF-8.
var declarations = []struct {
	name, decl string
	accepted   bool
}{
	{"ISO-8859-1", `<?xml version="1.0" encoding="ISO-8859-1"?>`, false},
	{"UTF-16", `<?xml version="1.0" encoding="UTF-16"?>`, false},
	{"windows-1252", `<?xml version='1.0' encoding='windows-1252'?>`, false},
	{"US-ASCII", `<?xml version="1.0" encoding="US-ASCII"?>`, false},
	{"UTF-8", `<?xml version="1.0" encoding="UTF-8"?>`, true},
	{"utf-8", `<?xml version="1.0" encoding="utf-8"?>`, true},
	{"no encoding", `<?xml version="1.0"?>`, true},
	{"no declaration", ``, true},
}

// A SyncML message that declares an encoding other than UTF-8 is refused with HTTP 415 and
// changes nothing (the queued command stays queued); UTF-8 and no declaration are served.
func TestCheckinDeclaredEncoding(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	dev := ts.enroll("AAAABBBBCCCCDDDDEEEEFFFF00002222")
	id := ts.queue(dev.id, wire.CommandRequest{Verb: "Replace", LocURI: pinRecovery, Format: "bool", Data: "true"})
	for _, d := range declarations {
		if d.accepted {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			raw, _ := dev.first().Bytes(true)
			st, body := dev.post(append([]byte(d.decl), raw...))
			if st != http.StatusUnsupportedMediaType || !strings.Contains(string(body), "encoding") {
				t.Fatalf("HTTP %d: %s; want 415 naming the encoding", st, body)
			}
		})
	}
	if v := ts.command(dev.id, id); v.State != "queued" || v.SentCount != 0 {
		t.Fatalf("a refused message moved the command: %+v", v)
	}
	for _, d := range declarations {
		if !d.accepted {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			raw, _ := dev.first().Bytes(true)
			st, body := dev.post(append([]byte(d.decl), raw...))
			if st != http.StatusOK {
				t.Fatalf("HTTP %d: %s", st, body)
			}
			if _, err := syncml.Parse(body); err != nil {
				t.Fatalf("reply: %v", err)
			}
		})
	}
	if v := ts.command(dev.id, id); v.SentCount == 0 {
		t.Fatalf("the command was never sent: %+v", v)
	}
}
