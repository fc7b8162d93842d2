package dump

import (
	"encoding/binary"
	"fmt"
)

// FormatError reports a malformed dump: which file, which record, at which
// file offset, and what is wrong with it.
type FormatError struct {
	File   string // path of the dump, may be empty
	Offset int64  // file offset of the record or field that failed
	What   string // "thread list entry 3", "stream directory"
	Err    string // "truncated", "count 4000000 exceeds the stream"
}

func (e *FormatError) Error() string {
	s := ""
	if e.File != "" {
		s = e.File + ": "
	}
	return fmt.Sprintf("%s%s at 0x%x: %s", s, e.What, e.Offset, e.Err)
}

// cursor decodes little-endian fields from a byte slice that starts at file
// offset base. The first failure sticks: later reads return zero and the
// error names the context and the offset where decoding first went wrong, so
// parsers read every field without checking each one.
type cursor struct {
	data []byte
	base int64 // file offset of data[0]
	off  int
	what string
	err  *FormatError
}

func newCursor(data []byte, base int64, what string) *cursor {
	return &cursor{data: data, base: base, what: what}
}

func (c *cursor) fail(msg string) {
	if c.err == nil {
		c.err = &FormatError{Offset: c.base + int64(c.off), What: c.what, Err: msg}
	}
}

// take returns the next n bytes, or nil (and a sticky error) if they run past the end.
func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || c.off+n > len(c.data) || c.off+n < c.off {
		c.fail("truncated")
		return nil
	}
	b := c.data[c.off : c.off+n]
	c.off += n
	return b
}

func (c *cursor) skip(n int) { c.take(n) }

func (c *cursor) u8() uint8 {
	if b := c.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (c *cursor) u16() uint16 {
	if b := c.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if b := c.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (c *cursor) u64() uint64 {
	if b := c.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// location reads a MINIDUMP_LOCATION_DESCRIPTOR (DataSize u32, Rva u32).
func (c *cursor) location() Location {
	size := c.u32()
	rva := c.u32()
	return Location{Size: size, RVA: rva}
}

// seek moves to an absolute offset inside the slice.
func (c *cursor) seek(off int) {
	if c.err != nil {
		return
	}
	if off < 0 || off > len(c.data) {
		c.fail("offset out of range")
		return
	}
	c.off = off
}

// retarget names a new record for error messages without losing the position.
func (c *cursor) retarget(what string) { c.what = what }

// Location is a MINIDUMP_LOCATION_DESCRIPTOR: a span of the dump file.
type Location struct {
	Size uint32
	RVA  uint32
}
