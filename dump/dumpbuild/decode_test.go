package dumpbuild

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"

	"wdb/dump"
)

// A deliberately small, independent minidump decoder: offsets are spelled out
// here from the documented layouts rather than shared with the writer, so a
// wrong constant in the writer cannot hide behind the same constant here.

type raw struct {
	t *testing.T
	b []byte
}

func (r raw) need(off, n int) {
	r.t.Helper()
	if off < 0 || off+n > len(r.b) {
		r.t.Fatalf("read of %d bytes at %#x past end %#x", n, off, len(r.b))
	}
}

func (r raw) u8(off int) uint8 { r.t.Helper(); r.need(off, 1); return r.b[off] }
func (r raw) u16(off int) uint16 {
	r.t.Helper()
	r.need(off, 2)
	return binary.LittleEndian.Uint16(r.b[off:])
}
func (r raw) u32(off int) uint32 {
	r.t.Helper()
	r.need(off, 4)
	return binary.LittleEndian.Uint32(r.b[off:])
}
func (r raw) u64(off int) uint64 {
	r.t.Helper()
	r.need(off, 8)
	return binary.LittleEndian.Uint64(r.b[off:])
}

// str decodes a MINIDUMP_STRING and checks its NUL terminator.
func (r raw) str(rva uint32) string {
	r.t.Helper()
	n := int(r.u32(int(rva)))
	if n%2 != 0 {
		r.t.Fatalf("odd MINIDUMP_STRING length %d at %#x", n, rva)
	}
	r.need(int(rva)+4, n+2)
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(r.b[int(rva)+4+2*i:])
	}
	if r.u16(int(rva)+4+n) != 0 {
		r.t.Fatalf("MINIDUMP_STRING at %#x lacks its NUL", rva)
	}
	return string(utf16.Decode(u))
}

type hdr struct {
	sig, version, nstreams, dirRva, checksum, time uint32
	flags                                          uint64
}

type dent struct {
	typ       dump.StreamType
	size, rva uint32
}

func parseHeader(r raw) (hdr, []dent) {
	r.t.Helper()
	h := hdr{r.u32(0), r.u32(4), r.u32(8), r.u32(12), r.u32(16), r.u32(20), r.u64(24)}
	var d []dent
	for i := range int(h.nstreams) {
		e := int(h.dirRva) + 12*i
		d = append(d, dent{dump.StreamType(r.u32(e)), r.u32(e + 4), r.u32(e + 8)})
	}
	return h, d
}

// find returns the offset and size of the first stream of type t.
func find(r raw, t dump.StreamType) (int, int) {
	r.t.Helper()
	_, d := parseHeader(r)
	for _, e := range d {
		if e.typ == t {
			r.need(int(e.rva), int(e.size))
			return int(e.rva), int(e.size)
		}
	}
	r.t.Fatalf("no %v stream", t)
	return 0, 0
}

func has(r raw, t dump.StreamType) bool {
	_, d := parseHeader(r)
	for _, e := range d {
		if e.typ == t {
			return true
		}
	}
	return false
}

func mustBytes(t *testing.T, b *Builder) raw {
	t.Helper()
	out, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return raw{t, out}
}
