// Package testbin builds and runs the hellomdm binary for process-level tests (serve
// start-up and signals, several replicas). It is test-only support code: production packages
// never import it.
package testbin

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Build compiles cmd/hellomdm into a temporary directory of t and returns the binary's path.
// Each call links anew; the Go build cache makes repeated calls cheap.
func Build(t testing.TB) string {
	t.Helper()
	return BuildWith(t)
}

// BuildWith is Build with extra `go build` flags (e.g. "-ldflags", "-X ...").
func BuildWith(t testing.TB, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hellomdm")
	args := append([]string{"build", "-o", bin}, flags...)
	cmd := exec.Command("go", append(args, "github.com/hellomdm/hellomdm/cmd/hellomdm")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Buffer is a bytes.Buffer safe to read while a child process writes to it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
