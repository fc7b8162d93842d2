package cab

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// corpusDir is the shared corpus of real files, absent on some machines.
const corpusDir = "../../../shared/corpus"

func openBytes(t testing.TB, b []byte) *Cabinet {
	t.Helper()
	c, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

func extract(t testing.TB, c *Cabinet, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Extract(f, &buf); err != nil {
		t.Fatalf("Extract %q: %v", f.Name, err)
	}
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestRealMSZIP extracts the minidump in kdlibcpp's test cabinet (written
// by Microsoft's tools) and compares it with the expanded copy beside it.
func TestRealMSZIP(t *testing.T) {
	dir := filepath.Join(corpusDir, "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_minidump")
	raw, err := os.ReadFile(filepath.Join(dir, "targetapp_minidump.cab"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("shared corpus not present (%s): skipping the real-cabinet test", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "target_minidump.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha(want); got != "ea0b4087c899f7dbf16eb591e8bf5197608442498fca462906df0f8c51e7afd0" {
		t.Fatalf("reference dump sha256 %s", got)
	}
	if !IsCab(raw) {
		t.Fatal("IsCab = false")
	}
	c := openBytes(t, raw)
	if len(c.Files) != 1 || len(c.Folders) != 1 {
		t.Fatalf("%d files, %d folders", len(c.Files), len(c.Folders))
	}
	f := &c.Files[0]
	if f.Name != "target_minidump.dmp" || f.Size != uint32(len(want)) || f.Folder != 0 || f.Offset != 0 {
		t.Fatalf("file %+v", *f)
	}
	if c.Folders[0].Compression != MSZIP || c.Folders[0].Blocks != 1 {
		t.Fatalf("folder %+v", c.Folders[0])
	}
	if f.Time.IsZero() || f.Time.Year() < 2000 {
		t.Errorf("time %v", f.Time)
	}
	got := extract(t, c, f)
	if !bytes.Equal(got, want) {
		t.Fatalf("extracted %d bytes, sha256 %s; want %d bytes", len(got), sha(got), len(want))
	}

	// The stored checksum is nonzero: a flipped payload byte must be caught.
	bad := bytes.Clone(raw)
	bad[len(bad)-100] ^= 0x40
	c = openBytes(t, bad)
	err = c.Extract(&c.Files[0], &bytes.Buffer{})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "CFDATA block 0 of folder 0 at 0x50") {
		t.Fatalf("corrupted block: %v", err)
	}
}

func TestDOSTime(t *testing.T) {
	got := dosTime(0x5a4b, 0x8c45)
	want := time.Date(2025, 2, 11, 17, 34, 10, 0, time.UTC)
	if !got.Equal(want) {
		t.Errorf("dosTime = %v, want %v", got, want)
	}
	if !dosTime(0, 0).IsZero() {
		t.Error("zero DOS date is not the zero time")
	}
}

// TestChecksum: whole words are XORed little-endian; a 1-3 byte tail is
// folded in with its first byte most significant (libmspack's cabd_checksum).
func TestChecksum(t *testing.T) {
	cases := []struct {
		b    []byte
		want uint32
	}{
		{nil, 0},
		{[]byte{1}, 0x01},
		{[]byte{1, 2}, 0x0102},
		{[]byte{1, 2, 3}, 0x010203},
		{[]byte{1, 2, 3, 4}, 0x04030201},
		{[]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0x04030201 ^ 0x08070605 ^ 0x09},
		{bytes.Repeat([]byte{0xAB}, 35), 0xABABAB},
	}
	for _, c := range cases {
		if got := checksum(c.b, 0); got != c.want {
			t.Errorf("checksum(% x) = %#x, want %#x", c.b, got, c.want)
		}
	}
	if got := dataChecksum([]byte{1, 2, 3}, 3, 3); got != 0x010203^0x00030003 {
		t.Errorf("dataChecksum = %#x", got)
	}
}
