package dump

import (
	"fmt"
	"iter"
	"sort"
)

// MemoryRange is a span of the target's address space whose bytes the dump
// holds, and where they are in the file.
type MemoryRange struct {
	Start  uint64
	Size   uint64
	Offset int64      // file offset of the first byte
	Source StreamType // StreamThreadList (a stack), StreamMemoryList or StreamMemory64List
}

// End is one past the last byte.
func (r MemoryRange) End() uint64 { return r.Start + r.Size }

// memoryMap is the sorted, non-overlapping set of captured ranges.
type memoryMap struct {
	ranges []MemoryRange // coalesced, for reads and scans
	raw    []MemoryRange // as the streams list them, for derived regions
}

// find returns the index of the range containing addr, or -1.
func (m *memoryMap) find(addr uint64) int {
	i := sort.Search(len(m.ranges), func(i int) bool { return m.ranges[i].End() > addr })
	if i < len(m.ranges) && m.ranges[i].Start <= addr {
		return i
	}
	return -1
}

// buildMemoryMap gathers MemoryList, Memory64List and thread stack ranges.
// Where ranges overlap, thread stacks win over MemoryList, which wins over
// Memory64List, so the result is the same whatever order the streams are in.
func buildMemoryMap(f *File) memoryMap {
	var stacks, list, list64 []MemoryRange
	for _, t := range f.Threads {
		if r, ok := f.descriptorRange(t.Stack, StreamThreadList, fmt.Sprintf("thread list entry %d stack", t.Index)); ok {
			stacks = append(stacks, r)
		}
	}
	if c := f.streamCursor(StreamMemoryList, "memory list"); c != nil {
		n := listCount(c, memoryDescriptorSize)
		for i := 0; i < n && c.err == nil; i++ {
			d := MemoryDescriptor{Start: c.u64(), Data: c.location()}
			if c.err != nil {
				break
			}
			f.MemoryListCount++
			if r, ok := f.descriptorRange(d, StreamMemoryList, fmt.Sprintf("memory list entry %d", i)); ok {
				list = append(list, r)
			}
		}
		f.finish(c)
	}
	if c := f.streamCursor(StreamMemory64List, "memory64 list"); c != nil {
		n := c.u64()
		rva := c.u64()
		if c.err == nil && n > uint64(len(c.data)-16)/memory64DescSize {
			c.fail(fmt.Sprintf("count %d exceeds the stream (%d bytes hold %d descriptors)", n, len(c.data)-16, (len(c.data)-16)/memory64DescSize))
		}
		off := rva
		for i := uint64(0); i < n && c.err == nil; i++ {
			c.retarget(fmt.Sprintf("memory64 list entry %d", i))
			start, size := c.u64(), c.u64()
			if c.err != nil {
				break
			}
			f.Memory64ListCount++
			if off > uint64(f.Size) || size > uint64(f.Size)-off {
				avail := uint64(0)
				if off < uint64(f.Size) {
					avail = uint64(f.Size) - off
				}
				f.warn(&FormatError{File: f.Path, Offset: c.base + 16 + int64(i)*16, What: fmt.Sprintf("memory64 list entry %d", i),
					Err: fmt.Sprintf("range %#x+%#x: data at file offset %#x runs past the end of the file (%d bytes kept)", start, size, off, avail)})
				if avail > 0 {
					list64 = append(list64, MemoryRange{Start: start, Size: avail, Offset: int64(off), Source: StreamMemory64List})
				}
				break
			}
			if size > 0 && start+size > start {
				list64 = append(list64, MemoryRange{Start: start, Size: size, Offset: int64(off), Source: StreamMemory64List})
			}
			off += size
		}
		f.finish(c)
	}
	var all, raw []MemoryRange
	for _, group := range [][]MemoryRange{stacks, list, list64} {
		all = mergePriority(all, group)
	}
	// Region boundaries come from the memory lists; a stack descriptor that
	// starts inside a listed range must not split it.
	for _, group := range [][]MemoryRange{list, list64, stacks} {
		raw = mergePriority(raw, append([]MemoryRange(nil), group...))
	}
	return memoryMap{raw: raw, ranges: coalesce(all)}
}

func (f *File) descriptorRange(d MemoryDescriptor, src StreamType, what string) (MemoryRange, bool) {
	size := uint64(d.Data.Size)
	if size == 0 {
		return MemoryRange{}, false
	}
	if d.Data.RVA < headerSize {
		// Full-memory dumps leave the thread stack descriptors at RVA 0:
		// the stack bytes are in the Memory64List. Never read the header as memory.
		if src != StreamThreadList {
			f.warn(&FormatError{File: f.Path, Offset: int64(d.Data.RVA), What: what, Err: fmt.Sprintf("range %#x+%#x points into the minidump header", d.Start, size)})
		}
		return MemoryRange{}, false
	}
	if int64(d.Data.RVA)+int64(size) > f.Size {
		f.warn(&FormatError{File: f.Path, Offset: int64(d.Data.RVA), What: what, Err: fmt.Sprintf("range %#x+%#x: data runs past the end of the file", d.Start, size)})
		return MemoryRange{}, false
	}
	if d.Start+size < d.Start {
		f.warn(&FormatError{File: f.Path, Offset: int64(d.Data.RVA), What: what, Err: fmt.Sprintf("range %#x+%#x wraps the address space", d.Start, size)})
		return MemoryRange{}, false
	}
	return MemoryRange{Start: d.Start, Size: size, Offset: int64(d.Data.RVA), Source: src}, true
}

// mergePriority adds the parts of group that have lower priority than have
// (which is sorted and non-overlapping) and returns the sorted union.
func mergePriority(have, group []MemoryRange) []MemoryRange {
	sort.SliceStable(group, func(i, j int) bool { return group[i].Start < group[j].Start })
	var add []MemoryRange
	j := 0
	var covered uint64 // end of what the group itself has placed
	for _, r := range group {
		start, end := r.Start, r.End()
		if start < covered {
			start = covered
		}
		for start < end {
			for j < len(have) && have[j].End() <= start {
				j++
			}
			if j < len(have) && have[j].Start <= start {
				start = have[j].End()
				continue
			}
			stop := end
			if j < len(have) && have[j].Start < stop {
				stop = have[j].Start
			}
			add = append(add, MemoryRange{Start: start, Size: stop - start, Offset: r.Offset + int64(start-r.Start), Source: r.Source})
			start = stop
		}
		if end > covered {
			covered = end
		}
	}
	if len(add) == 0 {
		return have
	}
	out := make([]MemoryRange, 0, len(have)+len(add))
	a, b := 0, 0
	for a < len(have) || b < len(add) {
		if b == len(add) || (a < len(have) && have[a].Start < add[b].Start) {
			out = append(out, have[a])
			a++
		} else {
			out = append(out, add[b])
			b++
		}
	}
	return out
}

// coalesce joins neighbours that are contiguous both in the address space and
// in the file, so scans see long zero-copy spans.
func coalesce(rs []MemoryRange) []MemoryRange {
	if len(rs) == 0 {
		return rs
	}
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if last.End() == r.Start && last.Offset+int64(last.Size) == r.Offset {
			last.Size += r.Size
			continue
		}
		out = append(out, r)
	}
	return out
}

// MemoryRanges returns the captured ranges, sorted and non-overlapping.
func (f *File) MemoryRanges() []MemoryRange { return f.mem.ranges }

// CapturedBytes is the total size of all captured ranges.
func (f *File) CapturedBytes() uint64 {
	var n uint64
	for _, r := range f.mem.ranges {
		n += r.Size
	}
	return n
}

// Captured reports whether the byte at addr is in the dump.
func (f *File) Captured(addr uint64) bool { return f.mem.find(addr) >= 0 }

// MemoryErrorKind tells why memory could not be read.
type MemoryErrorKind int

const (
	// NotCaptured: the address is mapped in the process but the dump holds no bytes for it.
	NotCaptured MemoryErrorKind = iota
	// NotMapped: the process had nothing at the address (free or reserved).
	NotMapped
	// NotInDump: the dump does not say (no region information covers it).
	NotInDump
)

// MemoryError reports the first address that could not be read.
type MemoryError struct {
	Addr uint64
	Kind MemoryErrorKind
}

func (e *MemoryError) Error() string {
	switch e.Kind {
	case NotCaptured:
		return fmt.Sprintf("memory at %#x is not captured in the dump", e.Addr)
	case NotMapped:
		return fmt.Sprintf("memory at %#x is not mapped in the process", e.Addr)
	}
	return fmt.Sprintf("memory at %#x is not in the dump", e.Addr)
}

// ReadMemory copies target memory at addr into p. It returns how many bytes
// were read from addr on; when that is fewer than len(p), the error is a
// *MemoryError for the first missing byte.
func (f *File) ReadMemory(addr uint64, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		a := addr + uint64(n)
		if a < addr {
			return n, &MemoryError{Addr: a, Kind: NotMapped}
		}
		i := f.mem.find(a)
		if i < 0 {
			return n, &MemoryError{Addr: a, Kind: f.missingKind(a)}
		}
		r := f.mem.ranges[i]
		k, err := f.src.readAt(p[n:min(len(p), n+int(min(uint64(len(p)-n), r.End()-a)))], r.Offset+int64(a-r.Start))
		n += k
		if err != nil && k == 0 {
			return n, &MemoryError{Addr: a, Kind: NotCaptured}
		}
	}
	return n, nil
}

// Slice returns size bytes at addr without copying when they lie in one
// captured range of a mapped file; otherwise it copies. The slice must not
// be modified.
func (f *File) Slice(addr, size uint64) ([]byte, error) {
	if i := f.mem.find(addr); i >= 0 && f.src.mapped() {
		r := f.mem.ranges[i]
		if size <= r.End()-addr {
			b, _ := f.src.slice(r.Offset+int64(addr-r.Start), int64(size))
			return b, nil
		}
	}
	if size > 1<<30 {
		return nil, fmt.Errorf("read of %#x bytes at %#x is too large", size, addr)
	}
	p := make([]byte, size)
	n, err := f.ReadMemory(addr, p)
	return p[:n], err
}

// chunkBuffer bounds the copies of the ReadAt fallback.
const chunkBuffer = 4 << 20

// Chunks yields the captured bytes in [start, end) in address order, each
// with its address. On a mapped file every chunk is a view of the mapping;
// without a mapping chunks are read into a buffer reused between chunks, so a
// caller that keeps bytes must copy them.
func (f *File) Chunks(start, end uint64) iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		i := sort.Search(len(f.mem.ranges), func(i int) bool { return f.mem.ranges[i].End() > start })
		var buf []byte
		for ; i < len(f.mem.ranges); i++ {
			r := f.mem.ranges[i]
			if r.Start >= end {
				return
			}
			lo, hi := max(r.Start, start), min(r.End(), end)
			for lo < hi {
				n := hi - lo
				if !f.src.mapped() && n > chunkBuffer {
					n = chunkBuffer
				}
				var b []byte
				if f.src.mapped() {
					b, _ = f.src.slice(r.Offset+int64(lo-r.Start), int64(n))
				} else {
					if buf == nil {
						buf = make([]byte, chunkBuffer)
					}
					k, _ := f.src.readAt(buf[:n], r.Offset+int64(lo-r.Start))
					b = buf[:k]
				}
				if len(b) == 0 || !yield(lo, b) {
					return
				}
				lo += uint64(len(b))
			}
		}
	}
}

// missingKind decides why addr has no bytes, from the regions when known.
func (f *File) missingKind(addr uint64) MemoryErrorKind {
	if !f.HasMemoryInfo {
		for i := range f.Modules {
			if m := &f.Modules[i]; addr >= m.Base && addr < m.End() {
				return NotCaptured
			}
		}
		return NotInDump
	}
	i := sort.Search(len(f.MemoryInfo), func(i int) bool {
		m := f.MemoryInfo[i]
		return m.BaseAddress+m.RegionSize > addr
	})
	if i < len(f.MemoryInfo) && f.MemoryInfo[i].BaseAddress <= addr {
		if f.MemoryInfo[i].State == MemCommit {
			return NotCaptured
		}
	}
	return NotMapped
}
