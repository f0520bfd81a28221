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
		{"admin tenant ", []string{"create", "delete", "list", "update"}},
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

// Each script, loaded into its real shell with the built binary on PATH, completes a
// subcommand and a flag (a shell that is not installed is skipped).
func TestCompletionScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if code, out, _ := cliRun("completion", shell); code != 0 || !strings.Contains(out, "__complete") {
			t.Fatalf("completion %s: exit %d\n%s", shell, code, out)
		}
	}
	if code, _, errOut := cliRun("completion", "bsh"); code != exitUsage || !strings.Contains(errOut, `did you mean "bash"?`) {
		t.Fatalf("completion bsh: exit %d: %s", code, errOut)
	}
	bin := testbin.Build(t)
	scripts := map[string]string{
		"bash": `source <(hellomdm completion bash)
COMP_WORDS=(hellomdm admin profile st); COMP_CWORD=3; _hellomdm; echo "${COMPREPLY[*]}"
COMP_WORDS=(hellomdm device --state ./pc reset-pin --new); COMP_CWORD=5; _hellomdm; echo "${COMPREPLY[*]}"`,
		// compadd and _files stand in for the completion system's output functions.
		"zsh": `autoload -U compinit; compinit -u -d "$TMPDIR/zcompdump"; source <(hellomdm completion zsh)
compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }
words=(hellomdm admin profile st); CURRENT=4; _hellomdm
words=(hellomdm device --state ./pc reset-pin --new); CURRENT=6; _hellomdm`,
		"fish": `hellomdm completion fish | source
complete -C "hellomdm admin profile st"
complete -C "hellomdm device --state ./pc reset-pin --new"`,
	}
	for shell, script := range scripts {
		t.Run(shell, func(t *testing.T) {
			path, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("no %s", shell)
			}
			cmd := exec.Command(path, "-c", script)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
				"TMPDIR="+cmd.Dir, "HOME="+cmd.Dir, "XDG_CONFIG_HOME="+cmd.Dir)
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "status\n--new-pin\n" {
				t.Fatalf("%s completion: %v\n%q", shell, err, out)
			}
		})
	}
}
