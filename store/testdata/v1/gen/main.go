//go:build ignore

// Command gen writes the v1 store fixtures (see ../README.md): the same dataset, through the
// store API of the code it is built with, into a bbolt file and a PostgreSQL database, which
// it dumps as plain SQL; then the manifest expected.json, read back from the bbolt store and
// checked against both (the PostgreSQL one after loading the dump into a fresh schema).
//
// Run from the repository root, with a PostgreSQL server whose user may create databases:
//
//	go run store/testdata/v1/gen/main.go store/testdata/v1/gen/data.go \
//	    -pg 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/postgres"
	"github.com/hellomdm/hellomdm/store/storetest"
)

// pgKey is the fixture's PostgreSQL store key (postgres.Options.EncryptionKey): bytes 0..31.
func pgKey() []byte {
	k := make([]byte, postgres.KeySize)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// auditSeed seeds the randomness of the audit log's event IDs, so both backends get the
// same IDs (and so the same hashes).
var auditSeed = [32]byte{'h', 'e', 'l', 'l', 'o', 'm', 'd', 'm', ' ', 'f', 'i', 'x', 't', 'u', 'r', 'e', ' ', 'v', '1'}

func main() {
	out := flag.String("out", "store/testdata/v1", "directory of the fixtures")
	pgAdmin := flag.String("pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "DSN of a PostgreSQL database to create the fixture database from")
	pgDB := flag.String("pg-db", "hm_fixture", "name of the database to (re)create and dump")
	pgDump := flag.String("pg-dump", "pg_dump", "pg_dump binary")
	flag.Parse()
	ctx := context.Background()

	commit := gitOut("rev-parse", "HEAD")
	// The store code must be the commit's: a fixture of uncommitted code documents nothing.
	// (Tests and this fixture's own files may differ.)
	for _, l := range strings.Split(gitOut("status", "--porcelain", "--", "store", "audit", "syncml", ":!store/testdata", ":!store/storetest/fixturev1.go"), "\n") {
		if strings.HasSuffix(l, ".go") && !strings.HasSuffix(l, "_test.go") || strings.HasSuffix(l, ".sql") {
			fail(fmt.Errorf("store code differs from HEAD: %s", l))
		}
	}
	sec := makeSecrets()

	// bbolt.
	tmp, err := os.MkdirTemp("", "hellomdm-fixture-")
	must(err)
	defer os.RemoveAll(tmp)
	raw := filepath.Join(tmp, "raw.db")
	clk := &clock{}
	bdb, err := bolt.Open(raw, bolt.Options{Now: clk.Now})
	must(err)
	g := newGen(ctx, bdb, clk)
	g.populate(sec)
	m, err := storetest.ReadFixtureV1(ctx, bdb, g.seed)
	must(err)
	m.Commit, m.PostgresSchemaVersion, m.PostgresEncryptionKeyHex, m.Now = commit, postgres.SchemaVersion(), hex.EncodeToString(pgKey()), tNow
	must(bdb.Close())
	boltOut := filepath.Join(*out, "hellomdm-v1.db")
	must(compact(raw, boltOut))
	checkBolt(ctx, boltOut, filepath.Join(tmp, "check.db"), m)

	// PostgreSQL.
	dsn := recreateDB(ctx, *pgAdmin, *pgDB)
	clk = &clock{}
	pdb, err := postgres.Open(ctx, dsn, postgres.Options{EncryptionKey: pgKey(), Now: clk.Now})
	must(err)
	pg := newGen(ctx, pdb, clk)
	pg.populate(sec)
	pdb.Close()
	conn, err := pgx.Connect(ctx, dsn)
	must(err)
	// applied_at defaults to now(): fix it so the dump does not change with the day it was made.
	_, err = conn.Exec(ctx, `UPDATE schema_migrations SET applied_at = $1`, tNov)
	must(err)
	must(conn.Close(ctx))
	sqlOut := filepath.Join(*out, "postgres-v1.sql")
	dump, err := exec.Command(*pgDump, "--inserts", "--no-owner", "--no-privileges", "--no-comments", "--dbname", dsn).Output()
	if err != nil {
		fail(fmt.Errorf("pg_dump: %w", err))
	}
	must(os.WriteFile(sqlOut, cleanDump(dump), 0o644))
	checkPostgres(ctx, dsn, sqlOut, m)

	js, err := json.MarshalIndent(m, "", "  ")
	must(err)
	must(os.WriteFile(filepath.Join(*out, "expected.json"), append(js, '\n'), 0o644))
	for _, f := range []string{boltOut, sqlOut, filepath.Join(*out, "expected.json")} {
		st, err := os.Stat(f)
		must(err)
		fmt.Printf("%s\t%d bytes\n", f, st.Size())
	}
}

func newGen(ctx context.Context, st store.Store, clk *clock) *gen {
	log, err := audit.New(st, audit.WithClock(clk.Now), audit.WithRand(mrand.NewChaCha8(auditSeed)))
	must(err)
	return &gen{ctx: ctx, st: st, clk: clk, log: log}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}

func gitOut(args ...string) string {
	b, err := exec.Command("git", args...).Output()
	if err != nil {
		fail(fmt.Errorf("git %v: %w", args, err))
	}
	return strings.TrimSpace(string(b))
}

// makeSecrets generates the keys the server would keep in config: the device CA, the
// tenants' token signing keys, Contoso's PIN reset key and a named secret, each PEM
// encoded as the server stores them.
func makeSecrets() secrets {
	keyPEM := func(der []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "HELLOMDM KEY", Bytes: der})
	}
	ec := func() []byte {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		der, err := x509.MarshalPKCS8PrivateKey(k)
		must(err)
		return keyPEM(der)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	rder, err := x509.MarshalPKCS8PrivateKey(rk)
	must(err)
	authority, err := ca.Generate(tJan, rand.Reader, "hellomdm device CA")
	must(err)
	caKey, err := authority.KeyPEM()
	must(err)
	cookie := make([]byte, 32)
	_, err = rand.Read(cookie)
	must(err)
	return secrets{
		caBundle: append(authority.CertPEM(), caKey...), caCert: authority.CertPEM(),
		signingKey1: ec(), pinResetK1: keyPEM(rder), signingKey2: ec(), cookieKey: keyPEM(cookie),
	}
}

// compact copies the bbolt file src into a new, compacted dst.
func compact(src, dst string) error {
	_ = os.Remove(dst)
	s, err := bbolt.Open(src, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := bbolt.Open(dst, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return err
	}
	if err := bbolt.Compact(d, s, 1<<20); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

func copyFile(src, dst string) {
	in, err := os.Open(src)
	must(err)
	defer in.Close()
	o, err := os.Create(dst)
	must(err)
	_, err = io.Copy(o, in)
	must(err)
	must(o.Close())
}

// checkBolt opens a copy of the compacted file with today's store and checks it against m.
func checkBolt(ctx context.Context, file, scratch string, m *storetest.FixtureV1) {
	copyFile(file, scratch)
	db, err := bolt.Open(scratch, bolt.Options{Now: func() time.Time { return m.Now }})
	must(err)
	defer db.Close()
	if err := storetest.CheckFixtureV1(ctx, db, m); err != nil {
		fail(fmt.Errorf("bbolt fixture: %w", err))
	}
}

// recreateDB drops and creates the fixture database and returns its DSN.
func recreateDB(ctx context.Context, admin, name string) string {
	c, err := pgx.Connect(ctx, admin)
	must(err)
	defer c.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	_, err = c.Exec(ctx, `DROP DATABASE IF EXISTS `+ident+` WITH (FORCE)`)
	must(err)
	_, err = c.Exec(ctx, `CREATE DATABASE `+ident+` TEMPLATE template0 ENCODING 'UTF8'`)
	must(err)
	u, err := url.Parse(admin)
	must(err)
	u.Path = "/" + name
	return u.String()
}

var (
	// publicQual is the schema qualification pg_dump writes on every object; dropped so the
	// script creates its tables in the search_path's first schema.
	publicQual = regexp.MustCompile(`\bpublic\.`)
	insertPub  = regexp.MustCompile(`^INSERT INTO public\.`)
)

// cleanDump makes pg_dump's output a script of plain statements that runs in any schema:
// no psql meta-commands (\restrict), no SET or set_config lines (the search_path reset would
// send the tables to no schema), no comments, no "public." qualification; statements end
// with ";" at the end of a line and are separated by a blank line.
func cleanDump(dump []byte) []byte {
	var b bytes.Buffer
	b.WriteString("-- hellomdm v1 store fixture: PostgreSQL schema version 5 and data, made by store/testdata/v1/gen (see README.md).\n")
	inStmt := false
	for line := range strings.Lines(string(dump)) {
		line = strings.TrimRight(line, "\n")
		if !inStmt {
			switch {
			case line == "", strings.HasPrefix(line, "--"), strings.HasPrefix(line, `\`),
				strings.HasPrefix(line, "SET "), strings.HasPrefix(line, "SELECT pg_catalog.set_config("):
				continue
			}
			b.WriteString("\n")
		}
		if strings.HasPrefix(line, "INSERT INTO ") {
			line = insertPub.ReplaceAllString(line, "INSERT INTO ")
		} else {
			line = publicQual.ReplaceAllString(line, "")
		}
		b.WriteString(line)
		b.WriteString("\n")
		inStmt = !strings.HasSuffix(line, ";")
	}
	return b.Bytes()
}

// checkPostgres loads the script into a fresh schema of the fixture database, statement by
// statement, opens it with today's store and checks it against m.
func checkPostgres(ctx context.Context, dsn, script string, m *storetest.FixtureV1) {
	stmts, err := storetest.FixtureV1SQL(script)
	must(err)
	c, err := pgx.Connect(ctx, dsn)
	must(err)
	defer c.Close(ctx)
	const schema = "fixture_load_check"
	_, err = c.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE; CREATE SCHEMA `+schema)
	must(err)
	defer c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
	u, err := url.Parse(dsn)
	must(err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	lc, err := pgx.Connect(ctx, u.String())
	must(err)
	for _, s := range stmts {
		if _, err := lc.Exec(ctx, s); err != nil {
			fail(fmt.Errorf("loading %s: %q: %w", script, s, err))
		}
	}
	var tables int
	must(lc.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, schema).Scan(&tables))
	must(lc.Close(ctx))
	db, err := postgres.Open(ctx, u.String(), postgres.Options{EncryptionKey: pgKey(), Now: func() time.Time { return m.Now }})
	must(err)
	defer db.Close()
	if err := storetest.CheckFixtureV1(ctx, db, m); err != nil {
		fail(fmt.Errorf("PostgreSQL fixture: %w", err))
	}
	fmt.Printf("postgres: %d statements, %d tables loaded into schema %s and checked\n", len(stmts), tables, schema)
}
