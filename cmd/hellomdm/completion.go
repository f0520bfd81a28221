package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Shell completion: `hellomdm completion bash|zsh|fish` prints a script that asks the binary
// itself (`hellomdm __complete WORD...`) for the candidates of the word being typed, so
// completion knows every command and flag, including ones added later: commands come from
// the command tables, flags from each command's own -h output.

const completionUsage = `Usage: hellomdm completion bash|zsh|fish

Prints a shell completion script for commands, subcommands and flags. Load it with:
  bash:  source <(hellomdm completion bash)        (or save it in /etc/bash_completion.d/hellomdm)
  zsh:   source <(hellomdm completion zsh)         (after compinit)
  fish:  hellomdm completion fish | source         (or save it in ~/.config/fish/completions/hellomdm.fish)
`

var completionScripts = map[string]string{
	"bash": `# bash completion for hellomdm (hellomdm completion bash)
_hellomdm() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local IFS=$'\n'
	local out
	out=$(hellomdm __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
	COMPREPLY=($(compgen -W "$out" -- "$cur"))
}
complete -o default -F _hellomdm hellomdm
`,
	"zsh": `#compdef hellomdm
# zsh completion for hellomdm (hellomdm completion zsh)
_hellomdm() {
	local -a cands
	cands=("${(@f)$(hellomdm __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	if [[ -n ${cands[1]} ]]; then
		compadd -a cands
	else
		_files
	fi
}
compdef _hellomdm hellomdm
`,
	"fish": `# fish completion for hellomdm (hellomdm completion fish)
function __hellomdm_complete
	set -l words (commandline -opc) (commandline -ct)
	set -l cands (hellomdm __complete $words[2..-1] 2>/dev/null)
	if test (count $cands) -gt 0
		printf '%s\n' $cands
	else
		__fish_complete_path (commandline -ct)
	end
end
complete -c hellomdm -f -a '(__hellomdm_complete)'
`,
}

func runCompletion(args []string, stdout, stderr io.Writer) int {
	if slices.ContainsFunc(args, isHelp) {
		fmt.Fprint(stdout, completionUsage)
		return exitOK
	}
	if len(args) != 1 {
		fmt.Fprint(stderr, completionUsage)
		return exitUsage
	}
	script, ok := completionScripts[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hellomdm completion: unknown shell %q%s\n\n%s", args[0], didYouMean(args[0], []string{"bash", "zsh", "fish"}), completionUsage)
		return exitUsage
	}
	fmt.Fprint(stdout, script)
	return exitOK
}

// runComplete prints the candidates for the last of args (the word being typed), one per
// line; nothing when the word is a flag's value (the shell then completes file names).
func runComplete(args []string, stdout, _ io.Writer) int {
	for _, c := range completions(args) {
		fmt.Fprintln(stdout, c)
	}
	return exitOK
}

func completions(words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, prev := words[len(words)-1], words[:len(words)-1]
	var path []string
	for i := 0; i < len(prev); i++ {
		w := prev[i]
		if strings.HasPrefix(w, "-") {
			if !strings.Contains(w, "=") && flagTakesValue(path, w) {
				if i == len(prev)-1 {
					return nil // cur is this flag's value
				}
				i++
			}
			continue
		}
		path = append(path, w)
	}
	var cands []string
	if strings.HasPrefix(cur, "-") {
		for name := range flagsOf(path) {
			cands = append(cands, name)
		}
	} else {
		cands = subcommandWords(path)
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, cur) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// subcommandWords lists the words that may follow path.
func subcommandWords(path []string) []string {
	switch len(path) {
	case 0:
		words := []string{"help"}
		for _, c := range topCommands {
			if !strings.HasPrefix(c.name, "__") {
				words = append(words, c.name)
			}
		}
		return words
	case 1:
		switch path[0] {
		case "device":
			return deviceCommandWords()
		case "admin":
			var words []string
			seen := map[string]bool{}
			for n := range adminCommands {
				w, _, _ := strings.Cut(n, " ")
				if !seen[w] {
					seen[w] = true
					words = append(words, w)
				}
			}
			return words
		case "authenticator":
			return []string{"code"}
		case "bench":
			return []string{"checkin"}
		case "completion":
			return []string{"bash", "zsh", "fish"}
		}
	case 2:
		switch path[0] {
		case "device":
			if path[1] == "hello" {
				return []string{"provision", "unlock"}
			}
		case "admin":
			if _, ok := adminCommands[path[1]]; ok {
				return nil
			}
			var words []string
			for n := range adminCommands {
				if w, second, ok := strings.Cut(n, " "); ok && w == path[1] {
					words = append(words, second)
				}
			}
			return words
		}
	}
	return nil
}

// helpFlagLine is a flag line of a command's help: "  --name TYPE   meaning" (printFlagLines)
// or the flag package's "  -name TYPE" (serve, bench); TYPE only for flags with a value.
var helpFlagLine = regexp.MustCompile(`^\s+(-{1,2}[A-Za-z][\w-]*)(?: (\S+))?(?:\s{2,}|$)`)

// flagsOf returns the flags of the command at path (and whether each takes a value),
// read from its -h output. For admin and device the common flags are included.
func flagsOf(path []string) map[string]bool {
	flags := map[string]bool{}
	collect := func(args ...string) {
		var out, errOut bytes.Buffer
		run(append(args, "-h"), &out, &errOut)
		for _, line := range strings.Split(out.String()+errOut.String(), "\n") {
			if m := helpFlagLine.FindStringSubmatch(line); m != nil {
				// The flag package prints -name; both forms work, -- is the README's.
				flags[dashed(strings.TrimLeft(m[1], "-"))] = m[2] != ""
			}
		}
	}
	if len(path) == 0 {
		return flags
	}
	switch path[0] {
	case "admin":
		collect("admin")
		if cmd := adminPath(path[1:]); cmd != "" {
			collect(append([]string{"admin"}, strings.Fields(cmd)...)...)
		}
	case "device":
		if len(path) > 1 {
			collect(path...)
		} else {
			flags["--state"], flags["-o"] = true, true
		}
	case "version":
		flags["-o"] = true
	default:
		collect(path...)
	}
	delete(flags, "-h")
	delete(flags, "--help")
	return flags
}

// adminPath is the admin command named by words ("tenant create"), or "".
func adminPath(words []string) string {
	if len(words) > 0 {
		if _, ok := adminCommands[words[0]]; ok {
			return words[0]
		}
	}
	if len(words) > 1 {
		if _, ok := adminCommands[words[0]+" "+words[1]]; ok {
			return words[0] + " " + words[1]
		}
	}
	return ""
}

// flagTakesValue reports whether flag w of the command at path takes a value (the next
// word); an unknown flag is assumed to take one.
func flagTakesValue(path []string, w string) bool {
	takes, known := flagsOf(path)[dashed(strings.TrimLeft(w, "-"))]
	return !known || takes
}
