package doclinks

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A citation is "docs/<file>.md" followed by section identifiers: "docs/protocol.md A.7",
// "docs/protocol.md A.4, A.5", "docs/protocol.md A.2–A.8". A citation may wrap onto the
// next comment line.
var (
	citationRe = regexp.MustCompile(`docs/([A-Za-z0-9_/-]+\.md)`)
	// firstIDRe and nextIDRe read the identifiers after a citation; an identifier is a letter
	// with an optional section number, followed by a word boundary ("A", "B.10").
	firstIDRe = regexp.MustCompile(`^(?:\s|//)*(?:§\s*|sections?\s+)?([A-Z](?:\.[0-9]+)?)\b`)
	nextIDRe  = regexp.MustCompile(`^(?:\s|//)*(?:,|/|–|-|and|or|to)(?:\s|//)*(?:§\s*)?([A-Z](?:\.[0-9]+)?)\b`)
	// headingRe finds the section identifiers of a docs file: "## A. Enrollment", "### A.7 …".
	headingRe = regexp.MustCompile(`(?m)^#{1,6}[ \t]+([A-Z](?:\.[0-9]+)*)\.?[ \t]`)
	anyHeadRe = regexp.MustCompile(`(?m)^#{1,6}[ \t]`)
	// innerRefRe finds cross-references inside a docs file ("(see A.4)", "C.6").
	innerRefRe = regexp.MustCompile(`\b([A-H]\.[0-9]+)\b`)
)

// protocolFile is the reference's file name; a citation without "docs/" in front of it is
// the old citation of a file outside the repository. (Assembled so that this file does not
// match itself, like forbidden below.)
const protocolFile = "protocol" + ".md"

// forbidden are references to protocol notes outside the repository. They are assembled
// from pieces so that this file does not match itself.
var forbidden = []string{
	"../" + "shared",
	"shared" + "/docs",
	"field" + "-notes",
	"field" + " notes",
}

// docSections reads the section identifiers of every .md file under root/docs, keyed by its
// path relative to docs/.
func docSections(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	dir := filepath.Join(root, "docs")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = headings(string(b))
		return nil
	})
	if err != nil {
		t.Fatalf("reading docs/: %v", err)
	}
	return out
}

// headings returns the section identifiers a docs file defines.
func headings(text string) map[string]bool {
	ids := map[string]bool{}
	for _, m := range headingRe.FindAllStringSubmatch(text, -1) {
		ids[m[1]] = true
	}
	return ids
}

// citedSections returns the identifiers that follow a citation (text starts right after
// "docs/<file>.md").
func citedSections(text string) []string {
	var ids []string
	m := firstIDRe.FindStringSubmatchIndex(text)
	if m == nil {
		return nil
	}
	ids = append(ids, text[m[2]:m[3]])
	text = text[m[1]:]
	for {
		m = nextIDRe.FindStringSubmatchIndex(text)
		if m == nil {
			return ids
		}
		ids = append(ids, text[m[2]:m[3]])
		text = text[m[1]:]
	}
}

// checkText returns the problems of one file: rel is its path relative to the repository
// root (slash-separated), docs the sections of every docs file.
func checkText(rel, text string, docs map[string]map[string]bool) []string {
	var problems []string
	lower := strings.ToLower(text)
	for _, f := range forbidden {
		if i := strings.Index(lower, f); i >= 0 {
			problems = append(problems, rel+":"+lineOf(text, i)+": refers to "+f+
				" (protocol notes outside the repository); cite docs/ instead")
		}
	}
	inDocs := strings.HasPrefix(rel, "docs/")
	if !inDocs {
		for i := 0; ; {
			j := strings.Index(text[i:], protocolFile)
			if j < 0 {
				break
			}
			j += i
			if !strings.HasSuffix(text[:j], "docs/") {
				problems = append(problems, rel+":"+lineOf(text, j)+
					": cites "+protocolFile+" without docs/; write docs/"+protocolFile+" <section>")
			}
			i = j + len(protocolFile)
		}
	}
	for _, m := range citationRe.FindAllStringSubmatchIndex(text, -1) {
		file := text[m[2]:m[3]]
		sections, ok := docs[file]
		if !ok {
			problems = append(problems, rel+":"+lineOf(text, m[0])+": cites docs/"+file+", which does not exist")
			continue
		}
		for _, id := range citedSections(text[m[1]:]) {
			if !sections[id] {
				problems = append(problems, rel+":"+lineOf(text, m[0])+": cites docs/"+file+" "+id+
					", which has no such section")
			}
		}
	}
	return problems
}

// checkDocFile checks a docs file on its own: identifiers are unique, every section names
// its sources, and cross-references inside the file name sections that exist.
func checkDocFile(rel, text string) []string {
	var problems []string
	seen := map[string]bool{}
	heads := anyHeadRe.FindAllStringIndex(text, -1)
	for k, h := range heads {
		end := len(text)
		if k+1 < len(heads) {
			end = heads[k+1][0]
		}
		section := text[h[0]:end]
		m := headingRe.FindStringSubmatch(section)
		if m == nil || !strings.HasPrefix(section, m[0]) {
			continue
		}
		id := m[1]
		if seen[id] {
			problems = append(problems, rel+": section "+id+" is defined twice")
		}
		seen[id] = true
		if !strings.Contains(section, "**Sources:**") {
			problems = append(problems, rel+": section "+id+" has no **Sources:** line")
		}
	}
	ids := headings(text)
	if len(ids) == 0 {
		return problems // an index such as docs/README.md: its citations are checked by checkText
	}
	for _, m := range innerRefRe.FindAllStringSubmatchIndex(text, -1) {
		if id := text[m[2]:m[3]]; !ids[id] {
			problems = append(problems, rel+":"+lineOf(text, m[0])+": refers to section "+id+", which does not exist")
		}
	}
	return problems
}

// lineOf returns the 1-based line number of offset in text.
func lineOf(text string, offset int) string {
	offset = min(offset, len(text))
	return strconv.Itoa(strings.Count(text[:offset], "\n") + 1)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// TestCitationsResolve reads every .go and .md file of the repository and fails on a
// citation of a docs file or section that does not exist, on a citation of the reference without docs/, and on
// any reference to protocol notes outside the repository.
func TestCitationsResolve(t *testing.T) {
	root := repoRoot(t)
	docs := docSections(t, root)
	if len(docs[protocolFile]) == 0 {
		t.Fatal("docs/protocol.md defines no sections")
	}
	var problems []string
	files, citations := 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		files++
		citations += len(citationRe.FindAllStringIndex(string(b), -1))
		problems = append(problems, checkText(rel, string(b), docs)...)
		if strings.HasPrefix(rel, "docs/") {
			problems = append(problems, checkDocFile(rel, string(b))...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	if citations == 0 {
		t.Errorf("no docs/ citations found in %d files: is the walk reading the repository?", files)
	}
	t.Logf("%d files, %d citations of docs/", files, citations)
}

func TestCitedSections(t *testing.T) {
	for _, tc := range []struct {
		name, after string
		want        []string
	}{
		{"one", " A.7).", []string{"A.7"}},
		{"letter only", " D, simulation hint", []string{"D"}},
		{"list", " A.4, A.5 and B.10; C.1", []string{"A.4", "A.5", "B.10"}},
		{"slash", " A.4/A.5", []string{"A.4", "A.5"}},
		{"range", " A.2–A.8.", []string{"A.2", "A.8"}},
		{"section sign", " §B.6", []string{"B.6"}},
		{"wrapped comment", "\n// A.9).", []string{"A.9"}},
		{"none", ", the reference", nil},
		{"word is not a section", " Each rule", nil},
		{"lower case is not a section", " and more", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := citedSections(tc.after); !slices.Equal(got, tc.want) {
				t.Errorf("citedSections(%q) = %q, want %q", tc.after, got, tc.want)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	docs := map[string]map[string]bool{protocolFile: {"A": true, "A.7": true, "B.6": true}}
	for _, tc := range []struct {
		name, rel, text string
		want            int // number of problems
	}{
		{"known section", "x/a.go", "// see docs/protocol.md A.7 here", 0},
		{"two known", "x/a.go", "// docs/protocol.md A.7, B.6", 0},
		{"file only", "README.md", "[docs](docs/protocol.md)", 0},
		{"unknown section", "x/a.go", "// docs/protocol.md A.8", 1},
		{"one of two unknown", "x/a.go", "// docs/protocol.md A.7, C.6", 1},
		{"unknown file", "x/a.go", "// docs" + "/omadm.md B.1", 1},
		{"without docs/", "x/a.go", "// (" + protocolFile + " B.6)", 1},
		{"relative link inside docs/", "docs/README.md", "[p](" + protocolFile + ")", 0},
		{"outside path", "x/a.go", "// see ../" + "shared" + "/docs/protocol.md", 2},
		{"outside notes", "x/a.go", "// (Field" + " notes, rate limits)", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkText(tc.rel, tc.text, docs)
			if len(got) != tc.want {
				t.Errorf("checkText(%q) = %q, want %d problems", tc.text, got, tc.want)
			}
		})
	}
}

func TestCheckDocFile(t *testing.T) {
	good := "# T\n\n## A. X\n\n**Sources:** s.\n\n### A.1 Y\n\nSee A.2.\n\n**Sources:** s.\n\n### A.2 Z\n\n**Sources:** s.\n"
	if got := checkDocFile("docs"+"/p.md", good); len(got) != 0 {
		t.Errorf("good file: %q", got)
	}
	for _, tc := range []struct{ name, text string }{
		{"no sources", "## A. X\n\ntext\n"},
		{"twice", "## A. X\n\n**Sources:** s.\n\n## A. Y\n\n**Sources:** s.\n"},
		{"dangling reference", "## A. X\n\nSee A.3.\n\n**Sources:** s.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkDocFile("docs"+"/p.md", tc.text); len(got) != 1 {
				t.Errorf("checkDocFile(%q) = %q, want one problem", tc.text, got)
			}
		})
	}
}
