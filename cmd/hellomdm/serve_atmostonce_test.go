package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
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
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/syncml"
)

// Issue 14 item 5 with a real process on both backends: a session carries an Exec, a
// Replace and an Atomic holding an Exec; the server is SIGKILLed before any Status comes
// back. After the restart, once the claims have run out, the next session gets the Replace
// again (at-least-once) but neither the Exec nor the Atomic (at-most-once): they are
// "unknown" in the API and the CLI, an admin resends the Exec with `command resend`, the copy
// goes out once, and a second resend is refused.
func TestServeSIGKILLExecAtMostOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testbin.Build(t)
	t.Run("bbolt", func(t *testing.T) { execAtMostOnce(t, bin, "bbolt", nil) })
	t.Run("postgres", func(t *testing.T) {
		dsn := testpg.Schema(t) // skips without HELLOMDM_TEST_POSTGRES
		env := []string{"HELLOMDM_STORE=" + dsn, "HELLOMDM_STORE_KEY=" + base64.StdEncoding.EncodeToString(testpg.Key(t))}
		execAtMostOnce(t, bin, "postgres", env)
	})
}

func execAtMostOnce(t *testing.T, bin, backend string, storeEnv []string) {
	const token = "hmdm_atmostonce-test-token"
	dir := filepath.Join(t.TempDir(), "data")
	addr := testbin.FreeAddr(t)
	env := append([]string{"HELLOMDM_ADMIN_TOKEN=" + token, "HELLOMDM_CLAIM_LEASE=200ms"}, storeEnv...)
	p := startServe(t, bin, dir, addr, env...)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(waitHealthyOn(t, p, dir, addr, backend))
	base := "https://localhost:" + addr[strings.LastIndex(addr, ":")+1:]
	api := func(method, path string, body, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+"/api/v1"+path, rd)
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
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"admin", "--server", base, "--token", token, "--ca-file", filepath.Join(dir, "ca.pem")}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	const tid = "3c0ffee0-0000-4000-8000-0000000e7ec0"
	if st := api(http.MethodPost, "/tenants", map[string]any{"id": tid, "displayName": "Exec test", "verifiedDomains": []string{"exec.test"}, "authPolicy": "OnPremise"}, nil); st != http.StatusCreated {
		t.Fatalf("creating tenant: HTTP %d", st)
	}
	if st := api(http.MethodPost, "/tenants/"+tid+"/users", map[string]any{"userPrincipalName": "ann@exec.test", "passwordProfile": map[string]string{"password": "Correct horse battery 1"}}, nil); st != http.StatusCreated {
		t.Fatalf("creating user: HTTP %d", st)
	}
	a, err := device.Open(t.TempDir(), device.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Enroll(context.Background(), enroll.Request{ServerURL: base, UPN: "ann@exec.test", Password: "Correct horse battery 1", RootCAs: pool, CSRShape: enroll.CSRWindows}); err != nil {
		t.Fatalf("enrolling: %v", err)
	}
	did, mgmt := a.Identity().DeviceID, a.Enrollment().ManagementURL
	tlsCfg, err := a.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		ID        string `json:"id"`
		Verb      string `json:"verb"`
		State     string `json:"state"`
		SentCount int    `json:"sentCount"`
		ResentAs  string `json:"resentAs"`
	}
	cmdsPath := "/tenants/" + tid + "/devices/" + did + "/commands"
	queue := func(body map[string]any) view {
		t.Helper()
		var v view
		if st := api(http.MethodPost, cmdsPath, body, &v); st != http.StatusCreated {
			t.Fatalf("queueing %v: HTTP %d", body, st)
		}
		return v
	}
	renewNow := "./Vendor/MSFT/DMClient/Provider/" + a.Enrollment().ProviderID + "/CertificateStore/RenewNow"
	exec := queue(map[string]any{"verb": "Exec", "locUri": renewNow})
	replace := queue(map[string]any{"verb": "Replace", "locUri": "./Device/Vendor/MSFT/PassportForWork/" + tid + "/Policies/EnablePinRecovery", "format": "bool", "data": "true"})
	atomic := queue(map[string]any{"verb": "Atomic", "commands": []map[string]any{
		{"verb": "Replace", "locUri": "./Device/Vendor/MSFT/PassportForWork/" + tid + "/Policies/UsePassportForWork", "format": "bool", "data": "true"},
		{"verb": "Exec", "locUri": renewNow},
	}})
	get := func(id string) view {
		t.Helper()
		var v view
		if st := api(http.MethodGet, cmdsPath+"/"+id, nil, &v); st != http.StatusOK {
			t.Fatalf("GET command %s: HTTP %d", id, st)
		}
		return v
	}

	session := 0
	post := func(b *syncml.Builder) *syncml.Message {
		t.Helper()
		raw, err := b.Bytes(true)
		if err != nil {
			t.Fatal(err)
		}
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
	// first sends package 1 of a new session and returns the server's commands by verb.
	first := func() (*syncml.Message, []syncml.Command) {
		t.Helper()
		session++
		b := syncml.NewBuilder(header("1"), 2)
		b.Alert(syncml.AlertClientInitiated)
		b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: "./DevInfo/DevId", Data: did}}})
		m := post(b)
		var cmds []syncml.Command
		for _, c := range m.Body {
			switch c.Verb {
			case syncml.VerbExec, syncml.VerbReplace, syncml.VerbAtomic:
				cmds = append(cmds, c)
			}
		}
		return m, cmds
	}
	verbs := func(cmds []syncml.Command) string {
		var v []string
		for _, c := range cmds {
			v = append(v, c.Verb)
		}
		return strings.Join(v, ",")
	}
	answer := func(reply *syncml.Message, cmds []syncml.Command) {
		t.Helper()
		b := syncml.NewBuilder(header("2"), 1)
		b.StatusSyncHdr(reply.Header.MsgID, syncml.StatusOK, nil)
		for _, c := range cmds {
			b.Status(reply.Header.MsgID, c, syncml.StatusOK)
		}
		post(b)
	}

	if _, cmds := first(); verbs(cmds) != "Exec,Replace,Atomic" {
		t.Fatalf("first session got %q, want the three queued commands", verbs(cmds))
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p = startServe(t, bin, dir, addr, env...)
	waitHealthyOn(t, p, dir, addr, backend)
	time.Sleep(300 * time.Millisecond) // the broken session's claims (200 ms) run out

	// Before the device comes back, the admin already sees the Exec and the Atomic as unknown.
	for _, c := range []view{exec, atomic} {
		if v := get(c.ID); v.State != "unknown" || v.SentCount != 1 {
			t.Fatalf("%s after the crash: %+v; want unknown, sent once", c.Verb, v)
		}
	}
	reply, cmds := first()
	if verbs(cmds) != "Replace" {
		t.Fatalf("after the restart got %q; want only the Replace again (the Exec and the Atomic are at-most-once)", verbs(cmds))
	}
	answer(reply, cmds)
	if v := get(replace.ID); v.State != "succeeded" || v.SentCount != 2 {
		t.Fatalf("Replace: %+v; want succeeded after two sends", v)
	}
	for _, c := range []view{exec, atomic} {
		if v := get(c.ID); v.State != "unknown" || v.SentCount != 1 {
			t.Fatalf("%s after the next session: %+v; want unknown, sent once", c.Verb, v)
		}
	}
	if code, out, e := cli("command", "list", "--tenant", tid, "--device", did); code != 0 || strings.Count(out, "unknown") != 2 {
		t.Fatalf("command list: %d\n%s%s; want the two unknown commands", code, out, e)
	}

	// The admin resends the Exec: a copy goes out once and succeeds; the Atomic stays unknown.
	code, out, e := cli("-o", "json", "command", "resend", "--tenant", tid, "--device", did, "--command", exec.ID)
	var resent view
	if code != 0 || json.Unmarshal([]byte(out), &resent) != nil || resent.ID == "" || resent.ID == exec.ID || resent.State != "queued" {
		t.Fatalf("command resend: %d\n%s%s", code, out, e)
	}
	if code, _, e := cli("command", "resend", "--tenant", tid, "--device", did, "--command", exec.ID); code == 0 || !strings.Contains(e, "409") {
		t.Fatalf("second resend: exit %d, %s; want HTTP 409", code, e)
	}
	if code, _, e := cli("command", "resend", "--tenant", tid, "--device", did, "--command", replace.ID); code == 0 || !strings.Contains(e, "409") {
		t.Fatalf("resend of a delivered Replace: exit %d, %s; want HTTP 409", code, e)
	}
	reply, cmds = first()
	if verbs(cmds) != "Exec" {
		t.Fatalf("after the resend got %q, want the Exec's copy", verbs(cmds))
	}
	answer(reply, cmds)
	if v := get(resent.ID); v.State != "succeeded" || v.SentCount != 1 {
		t.Fatalf("resent copy: %+v", v)
	}
	if v := get(exec.ID); v.State != "unknown" || v.ResentAs != resent.ID {
		t.Fatalf("original Exec: %+v; want unknown, resentAs %s", v, resent.ID)
	}
	if _, cmds := first(); len(cmds) != 0 {
		t.Fatalf("a fourth session got %q", verbs(cmds))
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/tenants/"+tid+"/audit?format=ndjson&kind=command.unknown&device="+did, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client(pool).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	unknown := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev struct {
			SubjectID string `json:"subject_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		unknown[ev.SubjectID]++
	}
	if resp.StatusCode != http.StatusOK || unknown[exec.ID] != 1 || unknown[atomic.ID] != 1 || len(unknown) != 2 {
		t.Fatalf("command.unknown events: HTTP %d, %v; want one each for the Exec and the Atomic", resp.StatusCode, unknown)
	}
	stop(t, p)
}
