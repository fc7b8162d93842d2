package heap

import (
	"encoding/binary"
	"errors"
	"sort"

	"wdb/dump"
)

// window is the most a reader views at once: large enough that a walk
// refills rarely, small enough that an unmapped dump copies little.
const window = 1 << 20

// reader reads target memory through a cached view of one captured range,
// so walking a million headers costs a bounds check each instead of a
// range lookup and a copy. It is not safe for concurrent use; every walk
// makes its own.
type reader struct {
	f       *dump.File
	ranges  []dump.MemoryRange
	lo, hi  uint64
	win     []byte
	scratch [16]byte
}

func newReader(f *dump.File) *reader { return &reader{f: f, ranges: f.MemoryRanges()} }

// bytes returns n (≤ 16) bytes at addr, or nil when any of them is not in
// the dump. The slice is valid until the next call.
func (r *reader) bytes(addr uint64, n int) []byte {
	end := addr + uint64(n)
	if end < addr {
		return nil
	}
	if addr >= r.lo && end <= r.hi {
		return r.win[addr-r.lo : end-r.lo]
	}
	if r.refill(addr) && end <= r.hi {
		return r.win[addr-r.lo : end-r.lo]
	}
	// Straddles two ranges that are adjacent in the address space.
	if k, err := r.f.ReadMemory(addr, r.scratch[:n]); err != nil || k < n {
		return nil
	}
	return r.scratch[:n]
}

// refill points the window at the captured range holding addr.
func (r *reader) refill(addr uint64) bool {
	i := sort.Search(len(r.ranges), func(i int) bool { return r.ranges[i].End() > addr })
	if i == len(r.ranges) || r.ranges[i].Start > addr {
		return false
	}
	rg := r.ranges[i]
	lo := max(rg.Start, addr&^(window/2-1))
	hi := min(rg.End(), lo+window)
	b, err := r.f.Slice(lo, hi-lo)
	if err != nil || uint64(len(b)) != hi-lo {
		return false
	}
	r.lo, r.hi, r.win = lo, hi, b
	return true
}

func (r *reader) u8(addr uint64) (uint8, bool) {
	b := r.bytes(addr, 1)
	if b == nil {
		return 0, false
	}
	return b[0], true
}

func (r *reader) u16(addr uint64) (uint16, bool) {
	b := r.bytes(addr, 2)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b), true
}

func (r *reader) u32(addr uint64) (uint32, bool) {
	b := r.bytes(addr, 4)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

func (r *reader) u64(addr uint64) (uint64, bool) {
	b := r.bytes(addr, 8)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// ptr reads a pointer of size 4 or 8.
func (r *reader) ptr(addr uint64, size int) (uint64, bool) {
	if size == 4 {
		v, ok := r.u32(addr)
		return uint64(v), ok
	}
	return r.u64(addr)
}

// uint reads an unsigned integer of size 1, 2, 4 or 8.
func (r *reader) uint(addr uint64, size int) (uint64, bool) {
	switch size {
	case 1:
		v, ok := r.u8(addr)
		return uint64(v), ok
	case 2:
		v, ok := r.u16(addr)
		return uint64(v), ok
	case 4:
		v, ok := r.u32(addr)
		return uint64(v), ok
	}
	return r.u64(addr)
}

// captured reports whether the byte at addr is in the dump.
func (r *reader) captured(addr uint64) bool {
	if addr >= r.lo && addr < r.hi {
		return true
	}
	return r.f.Captured(addr)
}

// nextCaptured returns the first captured address in [addr, end), or end.
func (r *reader) nextCaptured(addr, end uint64) uint64 {
	i := sort.Search(len(r.ranges), func(i int) bool { return r.ranges[i].End() > addr })
	if i == len(r.ranges) {
		return end
	}
	return min(end, max(addr, r.ranges[i].Start))
}

// missingWhy explains why addr cannot be read, in the reader's words.
func (r *reader) missingWhy(addr uint64) string {
	_, err := r.f.ReadMemory(addr, r.scratch[:1])
	var me *dump.MemoryError
	if errors.As(err, &me) {
		switch me.Kind {
		case dump.NotCaptured:
			return "committed but not captured in the dump"
		case dump.NotMapped:
			return "not mapped in the process"
		}
	}
	return "not in the dump"
}
