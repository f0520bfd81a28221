package apply

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// document is one document of a policy set.
type document struct {
	Kind        string   `yaml:"kind" json:"kind"`
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description"`
	Members     []string `yaml:"members" json:"members"`
	File        string   `yaml:"file" json:"file"`
	Spec        any      `yaml:"spec" json:"spec"`
	Profile     string   `yaml:"profile" json:"profile"`
	Include     []string `yaml:"include" json:"include"`
	Exclude     []string `yaml:"exclude" json:"exclude"`
	AllDevices  bool     `yaml:"allDevices" json:"allDevices"`
	AllUsers    bool     `yaml:"allUsers" json:"allUsers"`

	// line and fileLine are where the document and its file: value start (1-based; 0 when
	// unknown), for messages that point at the document.
	line, fileLine int
}

func Load(path string) (Desired, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Desired{}, err
	}
	files := []string{path}
	rootDir := filepath.Dir(path)
	if info.IsDir() {
		rootDir = path
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return Desired{}, err
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".yaml", ".yml", ".json":
				if !e.IsDir() {
					files = append(files, filepath.Join(path, e.Name()))
				}
			}
		}
	}
	root, err := newDocRoot(rootDir)
	if err != nil {
		return Desired{}, err
	}
	defer root.Close()
	var want Desired
	for _, f := range files {
		docs, err := readDocs(f, info.IsDir())
		if err != nil {
			return Desired{}, err
		}
		for i, d := range docs {
			if err := addDocument(&want, d, f, root); err != nil {
				// file:line: document N: ..., the line being the offending key's when known.
				line := d.line
				var le lineError
				if errors.As(err, &le) {
					line, err = le.line, le.err
				}
				where := f
				if line > 0 {
					where = fmt.Sprintf("%s:%d", f, line)
				}
				return Desired{}, fmt.Errorf("%s: document %d: %w", where, i+1, err)
			}
		}
	}
	return want, nil
}

// lineError places an error of a document on one of its lines.
type lineError struct {
	line int
	err  error
}

func (e lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e lineError) Unwrap() error { return e.err }

// docRoot is the directory Profile documents may read files from.
type docRoot struct {
	dir  string // as given, for messages
	real string // absolute, symlinks resolved
	root *os.Root
}

func newDocRoot(dir string) (*docRoot, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, err
	}
	return &docRoot{dir: dir, real: real, root: r}, nil
}

func (r *docRoot) Close() error { return r.root.Close() }

// within reports whether target (absolute, cleaned) is r.real or below it.
func (r *docRoot) within(target string) (string, bool) {
	rel, err := filepath.Rel(r.real, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// readFile reads name, a file: value of the document docPath, refusing anything outside r.
func (r *docRoot) readFile(docPath, name string) ([]byte, error) {
	docDir, err := filepath.Abs(filepath.Dir(docPath))
	if err != nil {
		return nil, err
	}
	if realDocDir, err := filepath.EvalSymlinks(docDir); err == nil {
		docDir = realDocDir
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(docDir, p)
	}
	p = filepath.Clean(p)
	outside := fmt.Errorf("file %q is outside %s, the directory given to -f; keep the Intune export next to its documents", name, r.dir)
	if _, ok := r.within(p); !ok {
		return nil, outside
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", name, err)
	}
	rel, ok := r.within(real)
	if !ok {
		return nil, fmt.Errorf("file %q resolves through a symlink to %s, outside %s, the directory given to -f", name, real, r.dir)
	}
	b, err := r.root.ReadFile(rel)
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", name, err)
	}
	return b, nil
}

// readDocs decodes the documents of one file. In a directory scan, a JSON file without
// "kind" is an Intune export and yields nothing.
func readDocs(path string, scanning bool) ([]document, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") && scanning {
		var probe map[string]any
		if json.Unmarshal(raw, &probe) == nil && probe["kind"] == nil {
			return nil, nil
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	// A second pass over the same bytes as nodes finds each document's line and the line of
	// its file: value; both decoders see the same document sequence.
	lines := yaml.NewDecoder(bytes.NewReader(raw))
	var out []document
	for {
		var d document
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var n yaml.Node
		if lines.Decode(&n) == nil {
			d.line, d.fileLine = docLines(&n)
		}
		out = append(out, d)
	}
}

// docLines returns the line of a document's first key and of its file: value.
func docLines(doc *yaml.Node) (line, fileLine int) {
	m := doc
	if m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	line = m.Line
	if m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "file" {
				fileLine = m.Content[i+1].Line
			}
		}
	}
	return line, fileLine
}

func addDocument(want *Desired, d document, docPath string, root *docRoot) error {
	name := strings.TrimSpace(d.Name)
	switch strings.ToLower(d.Kind) {
	case "group":
		if name == "" {
			return errors.New("a Group needs a name")
		}
		want.Groups = append(want.Groups, DesiredGroup{Name: name, Description: d.Description, Members: d.Members})
	case "profile":
		var raw []byte
		switch {
		case d.File != "" && d.Spec != nil:
			return errors.New("a Profile takes file or spec, not both")
		case d.File != "":
			b, err := root.readFile(docPath, d.File)
			if err != nil {
				if d.fileLine > 0 {
					return lineError{d.fileLine, err}
				}
				return err
			}
			raw = b
		case d.Spec != nil:
			b, err := json.Marshal(d.Spec)
			if err != nil {
				return fmt.Errorf("spec: %w", err)
			}
			raw = b
		default:
			return errors.New("a Profile needs file or spec")
		}
		p, err := profileDocument(raw, name)
		if err != nil {
			return err
		}
		want.Profiles = append(want.Profiles, p)
	case "assignment":
		if strings.TrimSpace(d.Profile) == "" {
			return errors.New("an Assignment needs profile")
		}
		want.Assignments = append(want.Assignments, DesiredAssignment{Profile: strings.TrimSpace(d.Profile), Include: d.Include,
			Exclude: d.Exclude, AllDevices: d.AllDevices, AllUsers: d.AllUsers})
	case "":
		return errors.New("no kind (Group, Profile or Assignment)")
	default:
		return fmt.Errorf("unknown kind %q (want Group, Profile or Assignment)", d.Kind)
	}
	return nil
}
