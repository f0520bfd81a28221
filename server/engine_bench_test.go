package server

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/syncml"
)

// BenchmarkCheckinMessage measures one full client message through the engine, as the HTTP
// handler runs it minus TLS: parse, one durable bbolt transaction (device, session, queue),
// build the reply. Each iteration is a package-1 message of a new session of one of 1,000
// devices, half of which have commands queued (one goes out per session), with 64 messages
// in flight so that bbolt groups commits as it does under load.
func BenchmarkCheckinMessage(b *testing.B) {
	st, err := bolt.Open(b.TempDir()+"/bench.db", bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const devices = 1000
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032X", i+1)
		if _, err := st.RegisterDevice(ctx, store.Device{ID: ids[i], TenantID: testTenant, State: store.DeviceEnrolled, CertSerial: "AB"}); err != nil {
			b.Fatal(err)
		}
	}
	eng := NewEngine(EngineConfig{ServerURL: "https://mdm.contoso.com/ManagementServer/MDM.svc"}, st, nil)
	var session atomic.Int64
	queue := func(id string) {
		cmd := store.Command{TenantID: testTenant, DeviceID: id, State: store.CommandQueued, Payload: syncml.Command{Verb: syncml.VerbReplace,
			Items: []syncml.Item{{Target: pinRecovery, Meta: &syncml.Meta{Format: "bool"}, Data: "true"}}}}
		if err := st.Enqueue(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
	body := func(id string) []byte {
		h := syncml.Header{VerDTD: "1.2", VerProto: "DM/1.2", SessionID: fmt.Sprint(session.Add(1)), MsgID: "1", Target: "https://mdm.contoso.com/ManagementServer/MDM.svc", Source: id,
			Meta: &syncml.Meta{MaxMsgSize: 65536}}
		bl := syncml.NewBuilder(h, 2)
		bl.Alert(syncml.AlertClientInitiated)
		bl.Alert(syncml.AlertClientEvent, syncml.Item{Meta: &syncml.Meta{Type: syncml.TypeLoginStatus}, Data: "user"})
		bl.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{
			{Source: "./DevInfo/DevId", Data: id}, {Source: "./DevInfo/Man", Data: "Contoso Ltd."}, {Source: "./DevInfo/Mod", Data: "Surface Laptop 5"},
			{Source: "./DevInfo/DmV", Data: "1.3"}, {Source: "./DevInfo/Lang", Data: "en-US"}, {Source: "./Vendor/MSFT/DMClient/HWDevID", Data: strings.Repeat("AB", 32)},
		}})
		raw, err := bl.Bytes(true)
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	for i, id := range ids {
		if i%2 == 0 {
			for j := 0; j < 8; j++ {
				queue(id)
			}
		}
	}
	var n atomic.Int64
	b.SetParallelism(32) // 64 devices in flight on 2 cores, as under load
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1)) % devices
			id := ids[i]
			raw := body(id)
			msg, err := syncml.Parse(raw)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := eng.Handle(ctx, Request{DeviceID: id, CertSerial: "AB", Body: raw, Message: msg}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
