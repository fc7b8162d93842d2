package pdb

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// PDB info stream versions (microsoft-pdb langapi/include/pdb.h).
const (
	InfoVersionVC70Dep = 19990604 // first version that carries a GUID
	InfoVersionVC70    = 20000404
)

// InfoHeader is the fixed part of the PDB info stream (stream 1).
type InfoHeader struct {
	Version   uint32
	Signature uint32 // time stamp; not used for matching
	Age       uint32 // bumped by tools such as pdbstr; see MatchAge
	GUID      [16]byte
	Features  []uint32 // feature codes after the named stream map (20140508 = VC140, 0x494E494D = MINI)
}

// NamedStream is one entry of the info stream's name → stream map.
type NamedStream struct {
	Name   string
	Stream int
}

// readInfo parses stream 1: header, named stream map, feature codes.
func (f *File) readInfo() error {
	b, err := f.readStream(1)
	if err != nil {
		return err
	}
	c := &reader{f: f, stream: 1, b: b}
	f.info.Version = c.u32()
	f.info.Signature = c.u32()
	f.info.Age = c.u32()
	if c.err != nil {
		return c.fail("PDB info stream truncated")
	}
	if f.info.Version < InfoVersionVC70Dep {
		// Pre-7.0 toolsets wrote no GUID; nothing after this is reliable.
		return nil
	}
	copy(f.info.GUID[:], c.bytes(16))
	if c.err != nil {
		return c.fail("PDB info stream truncated in the GUID")
	}
	// Named stream map (llvm docs/PDB/PdbStream.md, HashTable.md). The
	// bitmaps are skipped: the (key, value) pairs alone give the map.
	if c.off == len(b) {
		return nil
	}
	keysAt := c.off
	keysSize := c.u32()
	keys := c.bytes(int(keysSize))
	if c.err != nil || keysSize > uint32(len(b)) {
		f.warn(c.failAt(keysAt, fmt.Sprintf("named stream map: %d bytes of names run past the end", keysSize)))
		return nil
	}
	size := c.u32()
	c.u32() // capacity
	present := c.u32()
	if present > uint32(len(b))/4 {
		f.warn(c.fail(fmt.Sprintf("named stream map: %d present-bit words run past the end", present)))
		return nil
	}
	c.skip(int(present) * 4)
	deleted := c.u32()
	if deleted > uint32(len(b))/4 {
		f.warn(c.fail(fmt.Sprintf("named stream map: %d deleted-bit words run past the end", deleted)))
		return nil
	}
	c.skip(int(deleted) * 4)
	if c.err != nil || uint64(size)*8 > uint64(len(b)-c.off) {
		f.warn(c.fail(fmt.Sprintf("named stream map: %d entries run past the end", size)))
		return nil
	}
	for i := uint32(0); i < size; i++ {
		ko := c.u32()
		si := c.u32()
		if ko >= uint32(len(keys)) {
			f.warn(c.failAt(c.off-8, fmt.Sprintf("named stream map entry %d: name offset %d outside the %d-byte name buffer", i, ko, len(keys))))
			continue
		}
		name := cstring(keys[ko:])
		f.named = append(f.named, NamedStream{Name: name, Stream: int(si)})
	}
	sort.SliceStable(f.named, func(i, j int) bool { return f.named[i].Name < f.named[j].Name })
	c.u32() // num_name_index, expected 0
	for c.err == nil && c.off+4 <= len(b) {
		f.info.Features = append(f.info.Features, c.u32())
	}
	return nil
}

// PDBInfo returns the PDB info stream header.
func (f *File) PDBInfo() InfoHeader { return f.info }

// NamedStreams lists the named streams ("/names", "/LinkInfo", "srcsrv", ...)
// sorted by name.
func (f *File) NamedStreams() []NamedStream { return append([]NamedStream(nil), f.named...) }

// NamedStream opens a stream by its name in the info stream's map.
func (f *File) NamedStream(name string) (*Stream, error) {
	for _, n := range f.named {
		if n.Name == name {
			return f.Stream(n.Stream)
		}
	}
	return nil, &FormatError{File: f.name, Stream: 1, What: "PDB info", Msg: fmt.Sprintf("no stream named %q", name), Err: ErrNoStream}
}

func (f *File) namedStreamIndex(name string) int {
	for _, n := range f.named {
		if n.Name == name {
			return n.Stream
		}
	}
	return -1
}

// cstring returns b up to its first NUL (all of b when there is none).
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// reader decodes little-endian fields from an in-memory stream. The first
// failure sticks, so a parser reads a run of fields and checks once.
type reader struct {
	f      *File
	stream int
	base   int64 // stream offset of b[0]
	b      []byte
	off    int
	err    error
}

func (c *reader) bytes(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > len(c.b)-c.off {
		c.err = c.f.streamErr(c.stream, c.base+int64(c.off), "truncated")
		return nil
	}
	v := c.b[c.off : c.off+n]
	c.off += n
	return v
}

func (c *reader) skip(n int) { c.bytes(n) }

func (c *reader) u16() uint16 {
	if v := c.bytes(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (c *reader) u32() uint32 {
	if v := c.bytes(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

// fail reports msg at the current offset.
func (c *reader) fail(msg string) error { return c.failAt(c.off, msg) }

func (c *reader) failAt(off int, msg string) error {
	return c.f.streamErr(c.stream, c.base+int64(off), msg)
}
