package gpo

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// A GPMC backup (Backup-GPO, or "Back Up..." in the Group Policy Management Console) is a
// folder holding manifest.xml (the list of backups: BackupInst elements with the GPO's GUID,
// domain, display name and the backup's own ID) and one folder per backup named by that ID,
// with Backup.xml (the GroupPolicyBackupScheme), bkupInfo.xml (the BackupInst of this
// backup), gpreport.xml, and DomainSysvol\GPO\Machine\registry.pol and
// DomainSysvol\GPO\User\registry.pol for the two halves (absent when a half sets nothing).
// Windows file names are case-insensitive, so every name is matched in any case. The
// registry.pol files are authoritative; the gpreport.xml copy is not read.

const (
	maxBackupFiles = 10000
	maxBackupBytes = 64 << 20 // uncompressed, all files together
)

// tree is a case-insensitive view of a folder's files (a directory or a zip archive).
type tree struct {
	files map[string]func() ([]byte, error) // lower-case slash path → reader
	names map[string]string                 // lower-case slash path → path as given
}

func (t *tree) add(name string, open func() ([]byte, error)) error {
	name = strings.Trim(strings.ReplaceAll(name, `\`, "/"), "/")
	if name == "" {
		return nil
	}
	if len(t.files) >= maxBackupFiles {
		return fmt.Errorf("more than %d files", maxBackupFiles)
	}
	t.files[strings.ToLower(name)] = open
	t.names[strings.ToLower(name)] = name
	return nil
}

func (t *tree) read(p string) ([]byte, string, bool, error) {
	k := strings.ToLower(p)
	open, ok := t.files[k]
	if !ok {
		return nil, p, false, nil
	}
	data, err := open()
	return data, t.names[k], true, err
}

// dirs lists the immediate subdirectories of dir ("" for the root), as given.
func (t *tree) dirs(dir string) []string {
	prefix := ""
	if dir != "" {
		prefix = strings.ToLower(dir) + "/"
	}
	seen := map[string]bool{}
	var out []string
	for k, name := range t.names {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := name[len(prefix):]
		if i := strings.IndexByte(rest, '/'); i > 0 && !seen[strings.ToLower(rest[:i])] {
			seen[strings.ToLower(rest[:i])] = true
			out = append(out, rest[:i])
		}
	}
	slices.Sort(out)
	return out
}

func (t *tree) has(p string) bool { _, ok := t.files[strings.ToLower(p)]; return ok }

// ParseBackupFS reads a GPMC backup from a directory. name is used in errors.
func ParseBackupFS(name string, fsys fs.FS) (*Policy, error) {
	t := &tree{files: map[string]func() ([]byte, error){}, names: map[string]string{}}
	var total int64
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if total += info.Size(); total > maxBackupBytes {
			return fmt.Errorf("more than %d bytes of files", maxBackupBytes)
		}
		return t.add(p, func() ([]byte, error) { return readLimited(fsys, p) })
	})
	if err != nil {
		return nil, &ParseError{File: name, Offset: 0, Msg: err.Error()}
	}
	return parseBackup(name, t)
}

func readLimited(fsys fs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAtMost(f)
}

func readAtMost(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputBytes+1))
	if err == nil && len(data) > MaxInputBytes {
		err = fmt.Errorf("larger than %d bytes", MaxInputBytes)
	}
	return data, err
}

// IsZip reports whether data starts like a zip archive (local file header signature).
func IsZip(data []byte) bool { return bytes.HasPrefix(data, []byte("PK\x03\x04")) }

// ParseBackupZip reads a GPMC backup folder uploaded as a zip archive (the folder itself,
// or its contents, zipped). name is used in errors.
func ParseBackupZip(name string, data []byte) (*Policy, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &ParseError{File: name, Offset: 0, Msg: "not a readable zip archive: " + err.Error()}
	}
	t := &tree{files: map[string]func() ([]byte, error){}, names: map[string]string{}}
	var total uint64
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if total += f.UncompressedSize64; total > maxBackupBytes {
			return nil, &ParseError{File: name, Offset: int64(dataOffset(f)), Msg: fmt.Sprintf("more than %d bytes uncompressed", maxBackupBytes)}
		}
		f := f
		if err := t.add(f.Name, func() ([]byte, error) {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return readAtMost(rc)
		}); err != nil {
			return nil, &ParseError{File: name, Offset: int64(dataOffset(f)), Msg: err.Error()}
		}
	}
	return parseBackup(name, t)
}

func dataOffset(f *zip.File) int64 {
	off, err := f.DataOffset()
	if err != nil {
		return 0
	}
	return off
}

type backupInst struct {
	GPOGuid        string `xml:"GPOGuid"`
	GPODomain      string `xml:"GPODomain"`
	ID             string `xml:"ID"`
	GPODisplayName string `xml:"GPODisplayName"`
}

type manifest struct {
	XMLName xml.Name     `xml:"Backups"`
	Insts   []backupInst `xml:"BackupInst"`
}

type backupScheme struct {
	XMLName xml.Name `xml:"GroupPolicyBackupScheme"`
	Core    struct {
		ID          string `xml:"ID"`
		DisplayName string `xml:"DisplayName"`
		Options     string `xml:"Options"`
	} `xml:"GroupPolicyObject>GroupPolicyCoreSettings"`
}

// parseBackup reads a GPMC backup folder: the backup the manifest names (or the folder
// itself), the GPO's name and disabled halves from its bkupInfo.xml and Backup.xml, then
// the registry.pol of each half.
func parseBackup(name string, t *tree) (*Policy, error) {
	src := Source{Format: FormatBackup, File: name}
	inst, err := backupInstance(name, t, &src)
	if err != nil {
		return nil, err
	}
	in := func(p string) string { return strings.TrimPrefix(inst+"/"+p, "/") }
	okInfo, err := readBackupInfo(name, t, in("bkupInfo.xml"), &src)
	if err != nil {
		return nil, err
	}
	disabled, okScheme, err := readBackupScheme(name, t, in("Backup.xml"), &src)
	if err != nil {
		return nil, err
	}
	if !okInfo && !okScheme {
		return nil, &ParseError{File: name, Offset: 0, Msg: "not a GPMC backup: no manifest.xml, Backup.xml or bkupInfo.xml"}
	}
	pol := &Policy{Source: src, Disabled: disabled}
	var st state
	for _, half := range []struct {
		scope Scope
		dir   string
	}{{Machine, "Machine"}, {User, "User"}} {
		data, p, ok, err := t.read(in("DomainSysvol/GPO/" + half.dir + "/registry.pol"))
		if !ok {
			continue // the half sets nothing
		}
		if err != nil {
			return nil, &ParseError{File: name + "/" + p, Offset: 0, Msg: err.Error()}
		}
		es, err := ParseRegistryPol(name+"/"+p, half.scope, data)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			st.apply(e)
		}
	}
	pol.Values, pol.Instructions = st.values, st.instr
	return pol, nil
}

// backupInstance returns the folder of the one backup in t: the one manifest.xml lists
// (naming the GPO in src), else the top folder. A zip of the Backups folder itself has one
// top directory; it is looked inside.
func backupInstance(name string, t *tree, src *Source) (string, error) {
	root := ""
	if !t.has("manifest.xml") && !t.has("backup.xml") && !t.has("bkupinfo.xml") {
		if ds := t.dirs(""); len(ds) == 1 {
			root = ds[0]
		}
	}
	join := func(parts ...string) string {
		return strings.TrimPrefix(path.Join(append([]string{root}, parts...)...), "/")
	}
	data, p, ok, err := t.read(join("manifest.xml"))
	if !ok {
		return root, nil
	}
	if err != nil {
		return "", &ParseError{File: name + "/" + p, Offset: 0, Msg: err.Error()}
	}
	var m manifest
	if err := decodeXML(name+"/"+p, data, &m); err != nil {
		return "", err
	}
	switch len(m.Insts) {
	case 0:
		return "", &ParseError{File: name + "/" + p, Offset: 0, Msg: "lists no backup (no BackupInst)"}
	case 1:
	default:
		var ids []string
		for _, b := range m.Insts {
			ids = append(ids, strings.TrimSpace(b.ID)+" ("+strings.TrimSpace(b.GPODisplayName)+")")
		}
		return "", &ParseError{File: name + "/" + p, Offset: 0, Msg: "lists " + fmt.Sprint(len(m.Insts)) +
			" backups; give one backup folder: " + strings.Join(ids, ", ")}
	}
	b := m.Insts[0]
	src.GPOName, src.GPOID = strings.TrimSpace(b.GPODisplayName), strings.TrimSpace(b.GPOGuid)
	inst := join(strings.TrimSpace(b.ID))
	if !t.has(inst+"/backup.xml") && !t.has(inst+"/bkupinfo.xml") {
		return "", &ParseError{File: name + "/" + p, Offset: 0, Msg: "backup folder " + strings.TrimSpace(b.ID) + " is missing"}
	}
	return inst, nil
}

// readBackupInfo reads the backup's bkupInfo.xml at file, if there is one, naming the GPO
// in src unless the manifest did.
func readBackupInfo(name string, t *tree, file string, src *Source) (ok bool, err error) {
	data, p, ok, err := t.read(file)
	if err != nil {
		return false, &ParseError{File: name + "/" + p, Offset: 0, Msg: err.Error()}
	}
	if !ok {
		return false, nil
	}
	var b backupInst
	if err := decodeXML(name+"/"+p, data, &b); err != nil {
		return false, err
	}
	if src.GPOName == "" {
		src.GPOName, src.GPOID = strings.TrimSpace(b.GPODisplayName), strings.TrimSpace(b.GPOGuid)
	}
	return true, nil
}

// readBackupScheme reads the backup's Backup.xml at file, if there is one: the GPO's name
// (into src, unless already known) and which halves the GPO disables.
func readBackupScheme(name string, t *tree, file string, src *Source) (disabled []Scope, ok bool, err error) {
	data, p, ok, err := t.read(file)
	if err != nil {
		return nil, false, &ParseError{File: name + "/" + p, Offset: 0, Msg: err.Error()}
	}
	if !ok {
		return nil, false, nil
	}
	var s backupScheme
	if err := decodeXML(name+"/"+p, data, &s); err != nil {
		return nil, false, err
	}
	if src.GPOName == "" {
		src.GPOName, src.GPOID = strings.TrimSpace(s.Core.DisplayName), strings.TrimSpace(s.Core.ID)
	}
	// The GPO's flags (MS-GPOL, groupPolicyContainer "flags"): 0x1 the user portion is
	// disabled, 0x2 the computer portion.
	if opts, err := strconv.ParseUint(strings.TrimSpace(s.Core.Options), 10, 32); err == nil {
		if opts&2 != 0 {
			disabled = append(disabled, Machine)
		}
		if opts&1 != 0 {
			disabled = append(disabled, User)
		}
	}
	return disabled, true, nil
}

// decodeXML decodes a small backup XML file (UTF-8 or UTF-16 with a BOM).
func decodeXML(file string, data []byte, v any) error {
	text, err := decodeText(file, data)
	if err != nil {
		return err
	}
	dec := xml.NewDecoder(strings.NewReader(text))
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(v); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return &ParseError{File: file, Line: se.Line, Offset: -1, Msg: se.Msg}
		}
		return &ParseError{File: file, Offset: dec.InputOffset(), Msg: err.Error()}
	}
	return nil
}

// FromEntries builds a policy from one file's entries, applying them in order.
func FromEntries(src Source, entries []Entry) *Policy {
	var st state
	for _, e := range entries {
		st.apply(e)
	}
	return &Policy{Source: src, Values: st.values, Instructions: st.instr}
}

// Parse reads one uploaded input, recognised by its content: a zip archive of a GPMC backup
// folder, a registry.pol (of the half given by scope), a gpreport.xml, or LGPO text. name
// is used in errors and in the report's source.
func Parse(name string, data []byte, scope Scope) (*Policy, error) {
	switch {
	case len(data) == 0:
		return nil, &ParseError{File: name, Offset: 0, Msg: "empty file"}
	case len(data) > MaxInputBytes:
		return nil, &ParseError{File: name, Offset: MaxInputBytes, Msg: fmt.Sprintf("larger than %d bytes", MaxInputBytes)}
	case IsZip(data):
		return ParseBackupZip(name, data)
	case IsRegistryPol(data):
		if scope != Machine && scope != User {
			scope = Machine
		}
		es, err := ParseRegistryPol(name, scope, data)
		if err != nil {
			return nil, err
		}
		return FromEntries(Source{Format: FormatRegPol, File: name}, es), nil
	case IsReport(data):
		return ParseReport(name, data)
	case looksLikeLGPO(data):
		es, err := ParseLGPOText(name, data)
		if err != nil {
			return nil, err
		}
		return FromEntries(Source{Format: FormatLGPOText, File: name}, es), nil
	}
	return nil, &ParseError{File: name, Offset: 0, Msg: ErrUnrecognised.Error()}
}

// looksLikeLGPO: the first line that is neither blank nor a comment is Computer or User,
// or there are only comments (LGPO's output for an empty registry.pol).
func looksLikeLGPO(data []byte) bool {
	text, err := decodeText("", data)
	if err != nil {
		return false
	}
	comments := false
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, ";") {
			comments = true
			continue
		}
		return strings.EqualFold(line, "Computer") || strings.EqualFold(line, "User")
	}
	return comments
}
