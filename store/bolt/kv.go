package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// KV is a kv.Backend on one bbolt file: buckets are bbolt buckets, View and Update are
// bbolt's, Batch groups concurrent calls into one commit and one fsync (batcher).
type KV struct {
	db     *bbolt.DB
	batch  *batcher // Batch
	log    *slog.Logger
	packed map[kv.Bucket]bool // PackBuckets
}

var (
	_ kv.Backend     = (*KV)(nil)
	_ kv.Packer      = (*KV)(nil)
	_ store.Backuper = (*KV)(nil)
)

// OpenKV opens (creating when absent) the bbolt file at path with mode 0600 and fsync on
// every commit. A file locked by another process gives store.ErrUnavailable after
// Options.Timeout.
func OpenKV(path string, opts Options) (*KV, error) {
	if path == "" {
		return nil, errors.New("opening bbolt store: empty path")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store.bolt")
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// See Open for why the freelist is a hashmap and is written with each commit.
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		if errors.Is(err, bberrors.ErrTimeout) {
			return nil, fmt.Errorf("opening bbolt store %s: %w: %w", path, store.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("opening bbolt store %s: %w", path, err)
	}
	bdb.NoSync = false
	b := &batcher{db: bdb, delay: opts.MaxBatchDelay, max: opts.MaxBatchSize}
	if b.delay <= 0 {
		b.delay = DefaultMaxBatchDelay
	}
	if b.max <= 0 {
		b.max = DefaultMaxBatchSize
	}
	log.Debug("opened", "path", path)
	return &KV{db: bdb, batch: b, log: log, packed: map[kv.Bucket]bool{}}, nil
}

// Name returns "bbolt".
func (k *KV) Name() string { return "bbolt" }

// Serial is kv.Serial: bbolt runs one write transaction at a time.
func (k *KV) Serial() bool { return true }

// Path returns the file the store lives in.
func (k *KV) Path() string { return k.db.Path() }

// Close waits for running transactions and closes the file.
func (k *KV) Close() error {
	if err := k.db.Close(); err != nil {
		return fmt.Errorf("closing bbolt store: %w", err)
	}
	k.log.Debug("closed")
	return nil
}

// EnsureBuckets creates the buckets that do not exist yet.
func (k *KV) EnsureBuckets(ctx context.Context, buckets ...kv.Bucket) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapErr(k.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("creating bucket %s: %w", name, err)
			}
		}
		return nil
	}))
}

// packFill is how full the pages of packed buckets are left when bbolt splits them.
const packFill = 0.95

// PackBuckets makes bbolt split the pages of the given buckets nearly full: their keys only
// grow at the end of each prefix, so bbolt's default of half-full pages would double their
// size. Call it before the backend is used concurrently.
func (k *KV) PackBuckets(buckets ...kv.Bucket) {
	for _, b := range buckets {
		k.packed[b] = true
	}
}

// View runs fn in a read transaction.
func (k *KV) View(ctx context.Context, fn func(kv.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.run(k.db.View, fn)
}

// Update runs fn in a write transaction of its own.
func (k *KV) Update(ctx context.Context, fn func(kv.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.run(k.db.Update, fn)
}

// Batch runs fn in a write transaction that concurrent callers may share (batcher, group
// commit); fn may run more than once, because a failing member of a batch makes the others
// run again without it.
func (k *KV) Batch(ctx context.Context, fn func(kv.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.run(k.batch.do, fn)
}

// run runs fn through one of bbolt's transaction functions; an error from fn comes back as
// it is, bbolt's own errors through mapErr.
func (k *KV) run(through func(func(*bbolt.Tx) error) error, fn func(kv.Tx) error) error {
	var fnErr error
	err := through(func(tx *bbolt.Tx) error {
		fnErr = fn(&boltTx{tx: tx, packed: k.packed})
		return fnErr
	})
	if err != nil && err == fnErr {
		return err
	}
	return mapErr(err)
}

// Backup writes a consistent copy of the database file to w from one read transaction
// (bbolt's Tx.WriteTo): the copy is the database as of the transaction's start, while
// check-ins and admin writes go on. The copy is a complete bbolt file: restore it by
// stopping the server and putting it in place of hellomdm.db. size receives the copy's size
// before the first byte is written.
func (k *KV) Backup(ctx context.Context, w io.Writer, size func(n int64)) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := mapErr(k.db.View(func(tx *bbolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	}))
	if err != nil {
		return n, fmt.Errorf("backing up the bbolt store: %w", err)
	}
	return n, nil
}

// boltTx is a kv.Tx on a bbolt transaction.
type boltTx struct {
	tx     *bbolt.Tx
	packed map[kv.Bucket]bool
}

func (t *boltTx) Writable() bool { return t.tx.Writable() }

func (t *boltTx) bucket(b kv.Bucket) (*bbolt.Bucket, error) {
	bk := t.tx.Bucket([]byte(b))
	if bk == nil {
		return nil, fmt.Errorf("bucket %s does not exist", b)
	}
	if t.packed[b] && t.tx.Writable() {
		bk.FillPercent = packFill
	}
	return bk, nil
}

func (t *boltTx) Get(b kv.Bucket, key []byte) ([]byte, error) {
	bk, err := t.bucket(b)
	if err != nil {
		return nil, err
	}
	return bk.Get(key), nil
}

// GetForUpdate is Get: bbolt has one writer at a time.
func (t *boltTx) GetForUpdate(b kv.Bucket, key []byte) ([]byte, error) { return t.Get(b, key) }

func (t *boltTx) GetMany(b kv.Bucket, keys [][]byte) ([][]byte, error) {
	bk, err := t.bucket(b)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, key := range keys {
		out[i] = bk.Get(key)
	}
	return out, nil
}

// writeBucket is the bucket b of a write: an error for a read-only transaction or a bad key.
func (t *boltTx) writeBucket(b kv.Bucket, key []byte) (*bbolt.Bucket, error) {
	if !t.tx.Writable() {
		return nil, kv.ErrReadOnly
	}
	if err := kv.CheckKey(key); err != nil {
		return nil, err
	}
	return t.bucket(b)
}

func (t *boltTx) Put(b kv.Bucket, key, value []byte) error {
	bk, err := t.writeBucket(b, key)
	if err != nil {
		return err
	}
	return put(bk, key, value)
}

// put writes key and value without copying them: bbolt keeps references to both until the
// commit, which kv.Tx's contract allows (the caller leaves them alone until the transaction
// ends). A nil value is stored empty.
func put(bk *bbolt.Bucket, key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return bk.Put(key, value)
}

func (t *boltTx) Insert(b kv.Bucket, key, value []byte) error {
	bk, err := t.writeBucket(b, key)
	if err != nil {
		return err
	}
	if bk.Get(key) != nil {
		return fmt.Errorf("key in bucket %s: %w", b, store.ErrExists)
	}
	return put(bk, key, value)
}

func (t *boltTx) Delete(b kv.Bucket, key []byte) error {
	if !t.tx.Writable() {
		return kv.ErrReadOnly
	}
	bk, err := t.bucket(b)
	if err != nil {
		return err
	}
	return bk.Delete(key)
}

func (t *boltTx) Scan(b kv.Bucket, span kv.Span, fn func(key, value []byte) (bool, error)) error {
	bk, err := t.bucket(b)
	if err != nil {
		return err
	}
	c := bk.Cursor()
	var k, v []byte
	switch {
	case span.Start != nil:
		k, v = c.Seek(span.Start)
	case span.Prefix != nil:
		k, v = c.Seek(span.Prefix)
	default:
		k, v = c.First()
	}
	for ; k != nil; k, v = c.Next() {
		if !bytes.HasPrefix(k, span.Prefix) {
			return nil
		}
		if span.KeysOnly {
			v = nil
		} else if v == nil {
			v = []byte{} // a nested bucket never appears here; an empty value is not absent
		}
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Check opens the bbolt file at path read-only and runs bbolt's consistency check over it
// (every page reachable once, no page both free and in use): what a backup copy must pass
// before it replaces anything.
func Check(path string) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
}
