package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/internal/testbin"
	"github.com/hellomdm/hellomdm/syncml"
)

// Issue 4's crash case with a real process and the default store: the server is SIGKILLed
// after the message that sent a command and before the one reporting its Status. After the
// restart the next session gets the command once more, its Status is recorded once, and a
// third session gets nothing.
func TestServeSIGKILLBetweenSendAndStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const token = "hmdm_kill-test-token"
	bin := testbin.Build(t)
	dir := filepath.Join(t.TempDir(), "data")
	addr := testbin.FreeAddr(t)
	env := []string{"HELLOMDM_ADMIN_TOKEN=" + token, "HELLOMDM_CLAIM_LEASE=200ms"}
	p := startServe(t, bin, dir, addr, env...)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(waitHealthy(t, p, dir, addr))
	base := "https://localhost:" + addr[strings.LastIndex(addr, ":")+1:]
	api := func(method, path string, body, out any) int {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+"/api/v1"+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client(pool).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if out != nil {
			_ = json.Unmarshal(data, out)
		}
		return resp.StatusCode
	}
	const tid = "3c0ffee0-0000-4000-8000-00000000c0de"
	if st := api(http.MethodPost, "/tenants", map[string]any{"id": tid, "displayName": "Kill test", "verifiedDomains": []string{"kill.test"}, "authPolicy": "OnPremise"}, nil); st != http.StatusCreated {
		t.Fatalf("creating tenant: HTTP %d", st)
	}
	if st := api(http.MethodPost, "/tenants/"+tid+"/users", map[string]any{"userPrincipalName": "ann@kill.test", "passwordProfile": map[string]string{"password": "Correct horse battery 1"}}, nil); st != http.StatusCreated {
		t.Fatalf("creating user: HTTP %d", st)
	}
	a, err := device.Open(t.TempDir(), device.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Enroll(context.Background(), enroll.Request{ServerURL: base, UPN: "ann@kill.test", Password: "Correct horse battery 1", RootCAs: pool, CSRShape: enroll.CSRWindows}); err != nil {
		t.Fatalf("enrolling: %v", err)
	}
	did, mgmt := a.Identity().DeviceID, a.Enrollment().ManagementURL
	tlsCfg, err := a.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	var cmd struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		StatusCode int    `json:"statusCode"`
		SentCount  int    `json:"sentCount"`
	}
	if st := api(http.MethodPost, "/tenants/"+tid+"/devices/"+did+"/commands", map[string]string{"verb": "Replace",
		"locUri": "./Device/Vendor/MSFT/PassportForWork/" + tid + "/Policies/EnablePinRecovery", "format": "bool", "data": "true"}, &cmd); st != http.StatusCreated {
		t.Fatalf("queueing: HTTP %d", st)
	}

	session := 0
	post := func(b *syncml.Builder) *syncml.Message {
		t.Helper()
		raw, err := b.Bytes(true)
		if err != nil {
			t.Fatal(err)
		}
		// A new connection each time: the process on the other end may be a new one.
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg.Clone(), DisableKeepAlives: true}}
		resp, err := c.Post(mgmt+"?mode=Maintenance&Platform=WoA", syncml.ContentType, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		m, err := syncml.Parse(body)
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("check-in: HTTP %d, %v: %s", resp.StatusCode, err, body)
		}
		return m
	}
	header := func(msgID string) syncml.Header {
		return syncml.Header{VerDTD: syncml.VerDTD, VerProto: syncml.VerProto, SessionID: strings.ToUpper(string(rune('A' + session))), MsgID: msgID, Target: mgmt, Source: did}
	}
	// first sends package 1 of a new session and returns the server's commands.
	first := func() (*syncml.Message, []syncml.Command) {
		t.Helper()
		session++
		b := syncml.NewBuilder(header("1"), 2)
		b.Alert(syncml.AlertClientInitiated)
		b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: "./DevInfo/DevId", Data: did}}})
		m := post(b)
		var cmds []syncml.Command
		for _, c := range m.Body {
			if c.Verb == syncml.VerbReplace {
				cmds = append(cmds, c)
			}
		}
		return m, cmds
	}

	if _, cmds := first(); len(cmds) != 1 {
		t.Fatalf("first session got %d commands, want the queued one", len(cmds))
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p = startServe(t, bin, dir, addr, env...)
	waitHealthy(t, p, dir, addr)
	time.Sleep(300 * time.Millisecond) // the broken session's claim (200 ms) runs out

	reply, cmds := first()
	if len(cmds) != 1 {
		t.Fatalf("after the restart got %d commands, want the command again", len(cmds))
	}
	b := syncml.NewBuilder(header("2"), 1)
	b.StatusSyncHdr(reply.Header.MsgID, syncml.StatusOK, nil)
	b.Status(reply.Header.MsgID, cmds[0], syncml.StatusOK)
	b.Status(reply.Header.MsgID, cmds[0], syncml.StatusOK) // a repeated Status is recorded once
	post(b)
	if st := api(http.MethodGet, "/tenants/"+tid+"/devices/"+did+"/commands/"+cmd.ID, nil, &cmd); st != http.StatusOK || cmd.State != "succeeded" || cmd.StatusCode != 200 || cmd.SentCount != 2 {
		t.Fatalf("command after the restart: HTTP %d %+v; want succeeded, 200, sent twice", st, cmd)
	}
	if _, cmds := first(); len(cmds) != 0 {
		t.Fatalf("a delivered command was sent again (%d commands)", len(cmds))
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/tenants/"+tid+"/audit?format=ndjson&kind=command.sent,command.delivered&device="+did, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client(pool).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	kinds := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev struct {
			Kind      string `json:"kind"`
			SubjectID string `json:"subject_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if ev.SubjectID == cmd.ID {
			kinds[ev.Kind]++
		}
	}
	if resp.StatusCode != http.StatusOK || kinds["command.sent"] != 2 || kinds["command.delivered"] != 1 {
		t.Fatalf("audit: HTTP %d, %v; want the command sent twice and delivered once", resp.StatusCode, kinds)
	}
	stop(t, p)
}
