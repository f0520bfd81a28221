package audit

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// IDGenerator makes UUIDv7 identifiers (RFC 9562 section 5.7): 48 bits of
// Unix milliseconds, version 7, 12 bits rand_a, variant 0b10, 62 bits
// rand_b. rand_a is used as a counter (RFC 9562 section 6.2, method 1,
// "fixed bit-length dedicated counter") seeded randomly below 0x800 at each
// new millisecond, so IDs from one generator are strictly increasing even
// when the clock stalls or steps back: the generator never goes below the
// last millisecond it used, and when the counter overflows it moves to the
// next millisecond. Safe for concurrent use (the randomness reader is only
// read under the generator's lock).
type IDGenerator struct {
	now  func() time.Time
	rand io.Reader

	mu      sync.Mutex
	lastMS  uint64
	counter uint16
}

// NewIDGenerator returns a generator reading the clock from now and
// randomness from rand (crypto/rand.Reader in production).
func NewIDGenerator(now func() time.Time, rand io.Reader) *IDGenerator {
	return &IDGenerator{now: now, rand: rand}
}

const (
	uuidMaxMS      = 1<<48 - 1
	uuidCounterMax = 0xfff
)

// New returns the next UUIDv7 in canonical 8-4-4-4-12 lower-case form.
func (g *IDGenerator) New() (string, error) {
	ms := g.now().UnixMilli()
	if ms < 0 || ms > uuidMaxMS {
		return "", fmt.Errorf("making UUIDv7: clock %d ms outside 48-bit range", ms)
	}

	var rnd [10]byte
	g.mu.Lock()
	// Read under the lock: an injected reader need not be safe for
	// concurrent use.
	if _, err := io.ReadFull(g.rand, rnd[:]); err != nil {
		g.mu.Unlock()
		return "", fmt.Errorf("reading randomness for UUIDv7: %w", err)
	}
	switch {
	case uint64(ms) > g.lastMS:
		g.lastMS = uint64(ms)
		g.counter = binary.BigEndian.Uint16(rnd[8:]) & 0x7ff
	case g.counter < uuidCounterMax:
		g.counter++
	default:
		g.lastMS++
		g.counter = binary.BigEndian.Uint16(rnd[8:]) & 0x7ff
	}
	msOut, counter := g.lastMS, g.counter
	g.mu.Unlock()

	var u [16]byte
	u[0] = byte(msOut >> 40)
	u[1] = byte(msOut >> 32)
	u[2] = byte(msOut >> 24)
	u[3] = byte(msOut >> 16)
	u[4] = byte(msOut >> 8)
	u[5] = byte(msOut)
	u[6] = 0x70 | byte(counter>>8) // version 7
	u[7] = byte(counter)
	copy(u[8:], rnd[:8])
	u[8] = 0x80 | u[8]&0x3f // variant 0b10
	return formatUUID(u), nil
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ErrBadUUID is returned by ParseUUIDv7 for anything but a canonical UUIDv7.
var ErrBadUUID = errors.New("not a canonical UUIDv7")

// ParseUUIDv7 checks that s is a canonical (lower- or upper-case
// 8-4-4-4-12) UUID with version 7 and variant 0b10, and returns its 16
// bytes and embedded millisecond timestamp.
func ParseUUIDv7(s string) ([16]byte, time.Time, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, time.Time{}, ErrBadUUID
	}
	hexPart := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(hexPart)); err != nil {
		return u, time.Time{}, fmt.Errorf("%w: %w", ErrBadUUID, err)
	}
	if u[6]>>4 != 7 || u[8]>>6 != 0b10 {
		return u, time.Time{}, ErrBadUUID
	}
	ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
	return u, time.UnixMilli(ms).UTC(), nil
}
