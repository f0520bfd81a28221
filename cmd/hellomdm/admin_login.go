package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
)

// `hellomdm admin login` keeps the server URL, CA file and token of one or more servers in
// a per-user config file, like kubeconfig contexts or `fleetctl login`: later admin commands
// need no flags. The file is $XDG_CONFIG_HOME/hellomdm/config.json (else
// $HOME/.config/hellomdm/config.json), mode 0600 in a 0700 directory, replaced atomically.
// Precedence for each setting: the flag, then its HELLOMDM_ADMIN_* variable, then the
// context (--context NAME, else the current one), then the built-in default.

// adminConfig is the config file.
type adminConfig struct {
	Current  string                  `json:"current,omitempty"`
	Contexts map[string]adminContext `json:"contexts"`
}

// adminContext is one server the admin logged in to.
type adminContext struct {
	Server string `json:"server"`
	CAFile string `json:"caFile,omitempty"` // absolute path
	Token  string `json:"token"`
}

func adminConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the config directory (set XDG_CONFIG_HOME or HOME): %w", err)
	}
	return filepath.Join(dir, "hellomdm", "config.json"), nil
}

// loadAdminConfig reads the config file; a missing file is an empty config.
func loadAdminConfig() (adminConfig, string, error) {
	cfg := adminConfig{Contexts: map[string]adminContext{}}
	path, err := adminConfigPath()
	if err != nil {
		return cfg, "", err
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, path, nil
	}
	if err != nil {
		return cfg, path, err
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, path, fmt.Errorf("%s: not a hellomdm config file: %w", path, err)
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]adminContext{}
	}
	return cfg, path, nil
}

// save writes the config file with mode 0600 (it holds tokens) through a temporary file and
// a rename, so a crash leaves the old file or the new one.
func (cfg adminConfig) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (cfg adminConfig) names() []string {
	var names []string
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func runLogin(c *adminClient, args []string) error {
	fs := commandFlags("login")
	if err := parseCommand(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0) + " (give --server, --ca-file and --token before login)"}
	}
	if c.token == "" {
		return usageError{"no token to store: pass --token or set HELLOMDM_ADMIN_TOKEN (serve prints the bootstrap token at its first start)"}
	}
	// The token must work: list the tenants it sees.
	tenants, err := c.api.Tenants(c.ctx)
	if err := c.read(err); err != nil {
		return err
	}
	cfg, path, err := loadAdminConfig()
	if err != nil {
		return err
	}
	ctx := adminContext{Server: c.server, Token: c.token}
	if c.caFile != "" {
		if ctx.CAFile, err = filepath.Abs(c.caFile); err != nil {
			return err
		}
	}
	name := c.context
	if name == "" {
		name = "default"
	}
	cfg.Contexts[name] = ctx
	cfg.Current = name
	if err := cfg.save(path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return c.done(fmt.Sprintf("logged in to %s as context %q (token works: %d tenant(s) visible); saved in %s", c.server, name, len(tenants), path))
}

func runLogout(c *adminClient, args []string) error {
	fs := commandFlags("logout")
	if err := parseCommand(fs, args); err != nil {
		return err
	}
	cfg, path, err := loadAdminConfig()
	if err != nil {
		return err
	}
	name := c.context
	if name == "" {
		name = cfg.Current
	}
	if _, ok := cfg.Contexts[name]; !ok || name == "" {
		return usageError{fmt.Sprintf("no context %q to log out of%s", name, didYouMean(name, cfg.names()))}
	}
	delete(cfg.Contexts, name)
	if cfg.Current == name {
		cfg.Current = ""
	}
	if err := cfg.save(path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return c.done(fmt.Sprintf("logged out of context %q (its token is forgotten here; it stays valid on the server)", name))
}

func runContextList(c *adminClient, args []string) error {
	if err := parseCommand(commandFlags("context list"), args); err != nil {
		return err
	}
	cfg, _, err := loadAdminConfig()
	if err != nil {
		return err
	}
	rows := []map[string]any{}
	for _, n := range cfg.names() {
		x := cfg.Contexts[n]
		rows = append(rows, map[string]any{"name": n, "current": n == cfg.Current, "server": x.Server, "caFile": x.CAFile})
	}
	switch c.output {
	case "json":
		return c.print(map[string]any{"value": rows}, "name")
	case "id": // a context's name is what --context and context use take
		return c.printIDs(cfg.names()...)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CURRENT\tNAME\tSERVER\tCAFILE")
	for _, r := range rows {
		mark := ""
		if r["current"] == true {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, r["name"], r["server"], r["caFile"])
	}
	return tw.Flush()
}

func runContextUse(c *adminClient, args []string) error {
	fs := commandFlags("context use")
	if err := parseCommand(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"give the context's NAME"}
	}
	cfg, path, err := loadAdminConfig()
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	if _, ok := cfg.Contexts[name]; !ok {
		return usageError{fmt.Sprintf("no context %q%s (hellomdm admin context list shows them)", name, didYouMean(name, cfg.names()))}
	}
	cfg.Current = name
	if err := cfg.save(path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return c.done(fmt.Sprintf("now using context %q (%s)", name, cfg.Contexts[name].Server))
}
