package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testbin"
)

func TestCompletions(t *testing.T) {
	for _, tc := range []struct {
		words string
		want  []string
	}{
		{"dev", []string{"device"}},
		{"device --state ./alice-pc sy", []string{"sync"}},
		{"device --state=./a st", []string{"status"}},
		{"device hello ", []string{"provision", "unlock"}},
		{"admin tenant ", []string{"create", "list", "update"}},
		{"admin -o json --server https://x us", []string{"user"}},
		{"admin user create --t", []string{"--tenant", "--token"}},
		{"admin user create --tenant contoso.com --u", []string{"--upn"}},
		{"device reset-pin --d", []string{"--dc-reachable", "--destructive"}},
		{"device reset-pin --destructive --us", []string{"--user"}},
		{"device --state ", nil}, // a value: the shell completes file names
		{"serve --da", []string{"--data"}},
		{"authenticator code --", []string{"--secret", "--uri"}},
		{"completion ", []string{"bash", "fish", "zsh"}},
	} {
		words := strings.Split(tc.words, " ")
		got := completions(words)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q: got %q, want %q", tc.words, got, tc.want)
		}
	}
}

// The bash script, loaded into a real bash with the built binary on PATH, completes.
func TestCompletionBashScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := testbin.Build(t)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if code, out, _ := cliRun("completion", shell); code != 0 || !strings.Contains(out, "__complete") {
			t.Fatalf("completion %s: exit %d\n%s", shell, code, out)
		}
	}
	if code, _, errOut := cliRun("completion", "bsh"); code != exitUsage || !strings.Contains(errOut, `did you mean "bash"?`) {
		t.Fatalf("completion bsh: exit %d: %s", code, errOut)
	}
	script := `source <(hellomdm completion bash)
COMP_WORDS=(hellomdm admin profile st); COMP_CWORD=3; _hellomdm; echo "${COMPREPLY[*]}"
COMP_WORDS=(hellomdm device --state ./pc reset-pin --new); COMP_CWORD=5; _hellomdm; echo "${COMPREPLY[*]}"`
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "status\n--new-pin\n" {
		t.Fatalf("bash completion: %v\n%q", err, out)
	}
}
