package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

func runProfileShow(c *adminClient, args []string) error {
	doc, err := c.profileDoc("profile show", args, nil)
	if err != nil {
		return err
	}
	if c.output == "id" {
		return c.printIDs(cell(doc["id"]))
	}
	return writeProfileJSON(c, doc, "")
}

func runProfileExport(c *adminClient, args []string) error {
	var out string
	doc, err := c.profileDoc("profile export", args, func(fs *flag.FlagSet) { fs.StringVar(&out, "out", "", "file to write (default: standard output)") })
	if err != nil {
		return err
	}
	for _, f := range adminclient.ProfileServerFields { // export leaves out what the server owns
		delete(doc, f)
	}
	return writeProfileJSON(c, doc, out)
}

// profileDoc fetches one profile's Intune JSON (GET on its route).
func (c *adminClient) profileDoc(name string, args []string, extra func(fs *flag.FlagSet)) (map[string]any, error) {
	fs := commandFlags(name)
	tid := fs.String("tenant", "", "tenant ID or domain")
	p := fs.String("profile", "", "profile ID or name")
	if extra != nil {
		extra(fs)
	}
	if err := parseCommand(fs, args, "tenant", "profile"); err != nil {
		return nil, err
	}
	_, _, _, prof, err := c.findProfile(*tid, *p)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(prof.Raw, &doc); err != nil {
		return nil, fmt.Errorf("decoding the server's answer: %w", err)
	}
	return doc, nil
}

func writeProfileJSON(c *adminClient, doc map[string]any, out string) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err := c.stdout.Write(b)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "wrote %s\n", out)
	return nil
}
