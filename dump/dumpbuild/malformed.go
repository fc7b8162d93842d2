package dumpbuild

import (
	"fmt"
	"math"
	"slices"

	"wdb/dump"
)

// Malformation is a deterministic way of breaking a dump, for testing that a
// reader rejects or tolerates hostile input without panicking, looping or
// allocating without bound. Each value documents exactly what it changes.
//
// "Past EOF" RVAs are file size + 0x1000 when that fits 32 bits; in a file of
// 4 GiB or more no 32-bit RVA is past EOF, so 0xfffff000 is used, which then
// lands in the Memory64 data.
type Malformation int

const (
	// BadSignature replaces "MDMP" in the header with "PMDM".
	BadSignature Malformation = iota + 1
	// BadVersion clears the low word of Version (MINIDUMP_VERSION 0xa793).
	BadVersion
	// BadStreamCount sets NumberOfStreams to 0xffffffff, so the directory
	// would run far past EOF (and count*12 overflows 32 bits).
	BadStreamCount
	// DirectoryPastEOF points StreamDirectoryRva past EOF.
	DirectoryPastEOF
	// StreamPastEOF points the targeted directory entries' Rva past EOF,
	// keeping their DataSize.
	StreamPastEOF
	// StreamSizePastEOF grows the targeted entries' DataSize so the stream
	// ends 256 bytes past EOF (clamped to 0xffffffff).
	StreamSizePastEOF
	// TruncatedStreams halves the targeted entries' DataSize, so fixed
	// headers are cut or lists claim more entries than the stream holds.
	TruncatedStreams
	// OverlappingStreams grows each targeted entry's DataSize to cover the
	// next stream in file order as well; the contents stay valid.
	OverlappingStreams
	// DuplicateStreams repeats each targeted directory entry right after the
	// original, with the same type and location.
	DuplicateStreams
	// MissingStreams leaves the targeted streams out of the directory (their
	// bytes stay in the file), e.g. a dump without SystemInfo or ThreadList.
	MissingStreams
	// HugeCounts sets every element count in the targeted streams to its
	// maximum (0xffffffff, or 2^64-1 for Memory64List and MemoryInfoList),
	// including the exception's NumberParameters.
	HugeCounts
	// BadEntrySizes sets SizeOfHeader to 0xffffffff and SizeOfEntry (or
	// SizeOfDescriptor) to 0 in the targeted self-describing lists:
	// UnloadedModuleList, ThreadInfoList, HandleData, MemoryInfoList.
	BadEntrySizes
	// ZeroSizedRanges appends a zero-length range to each of MemoryList,
	// Memory64List and MemoryInfoList that the dump has (to MemoryList if it
	// has none of them), at the address just past the list's last range.
	ZeroSizedRanges
	// MemoryRVAPastEOF points the Rva of every MemoryList descriptor and
	// thread stack descriptor in the targeted streams past EOF.
	MemoryRVAPastEOF
	// Memory64BaseRVAPastEOF sets the Memory64List BaseRva to file size + 0x1000.
	Memory64BaseRVAPastEOF
	// StringPastEOF points every MINIDUMP_STRING RVA in the targeted streams
	// (module, unloaded module, handle and thread names, CSDVersion) past EOF.
	StringPastEOF
	// BadStringLength sets the Length of every MINIDUMP_STRING in the
	// targeted streams to 0xffffffff (odd, and far past EOF).
	BadStringLength
	// ContextTooSmall sets the DataSize of thread and exception context
	// locations in the targeted streams to 16, less than any CONTEXT.
	ContextTooSmall
	// ContextPastEOF points thread and exception context locations in the
	// targeted streams past EOF.
	ContextPastEOF
	// CodeViewPastEOF points every module's CvRecord Rva past EOF.
	CodeViewPastEOF
	// BadCodeView cuts every module's CvRecord DataSize to 8 bytes, shorter
	// than the 24-byte RSDS header.
	BadCodeView
	malformationEnd
)

var malformationNames = [...]string{
	BadSignature: "BadSignature", BadVersion: "BadVersion", BadStreamCount: "BadStreamCount",
	DirectoryPastEOF: "DirectoryPastEOF", StreamPastEOF: "StreamPastEOF",
	StreamSizePastEOF: "StreamSizePastEOF", TruncatedStreams: "TruncatedStreams",
	OverlappingStreams: "OverlappingStreams", DuplicateStreams: "DuplicateStreams",
	MissingStreams: "MissingStreams", HugeCounts: "HugeCounts", BadEntrySizes: "BadEntrySizes",
	ZeroSizedRanges: "ZeroSizedRanges", MemoryRVAPastEOF: "MemoryRVAPastEOF",
	Memory64BaseRVAPastEOF: "Memory64BaseRVAPastEOF", StringPastEOF: "StringPastEOF",
	BadStringLength: "BadStringLength", ContextTooSmall: "ContextTooSmall",
	ContextPastEOF: "ContextPastEOF", CodeViewPastEOF: "CodeViewPastEOF", BadCodeView: "BadCodeView",
}

func (m Malformation) String() string {
	if m > 0 && m < malformationEnd {
		return malformationNames[m]
	}
	return fmt.Sprintf("Malformation(%d)", int(m))
}

// Malformations lists every Malformation, for table-driven robustness tests.
func Malformations() []Malformation {
	out := make([]Malformation, 0, malformationEnd-1)
	for m := BadSignature; m < malformationEnd; m++ {
		out = append(out, m)
	}
	return out
}

type breakReq struct {
	m       Malformation
	streams []dump.StreamType
}

func (r breakReq) hits(t dump.StreamType) bool {
	return len(r.streams) == 0 || slices.Contains(r.streams, t)
}

// Break applies m when the dump is laid out. streams restricts it to those
// stream types (by directory entry, or by the stream holding the field); none
// means all. Header-level malformations ignore streams. Several Breaks
// combine, applied in call order.
func (b *Builder) Break(m Malformation, streams ...dump.StreamType) {
	if m <= 0 || m >= malformationEnd {
		b.fail(fmt.Errorf("dumpbuild: unknown malformation %d", int(m)))
		return
	}
	b.breaks = append(b.breaks, breakReq{m, append([]dump.StreamType(nil), streams...)})
}

// dirCount is the number of directory entries directory will produce.
func (b *Builder) dirCount(ss []stream) int {
	dir := make([]dirEntry, len(ss))
	for i, s := range ss {
		dir[i].typ = s.typ
	}
	return len(b.directory(dir))
}

// directory shapes the directory from the laid-out streams: missing and
// duplicated entries, then the UnusedStream entries.
func (b *Builder) directory(streams []dirEntry) []dirEntry {
	var dir []dirEntry
	for _, d := range streams {
		if b.hit(MissingStreams, d.typ) {
			continue
		}
		dir = append(dir, d)
		if b.hit(DuplicateStreams, d.typ) {
			dir = append(dir, d)
		}
	}
	for range b.unused {
		dir = append(dir, dirEntry{typ: dump.StreamUnused})
	}
	return dir
}

func (b *Builder) hit(m Malformation, t dump.StreamType) bool {
	for _, r := range b.breaks {
		if r.m == m && r.hits(t) {
			return true
		}
	}
	return false
}

// breakBefore applies the malformations that add records before layout.
func (w *writer) breakBefore() {
	for _, r := range w.b.breaks {
		if r.m != ZeroSizedRanges {
			continue
		}
		none := len(w.memList) == 0 && len(w.m64) == 0 && len(w.regions) == 0
		if len(w.memList) > 0 || none {
			var next uint64 = 0x10000
			if n := len(w.memList); n > 0 {
				next = w.memList[n-1].addr + uint64(len(w.memList[n-1].data))
			}
			w.memList = append(w.memList, memItem{addr: next, data: []byte{}})
		}
		if n := len(w.m64); n > 0 {
			last := w.m64[n-1]
			w.m64 = append(w.m64, mem64Range{addr: last.addr + uint64(last.len())})
		}
		if n := len(w.regions); n > 0 {
			last := w.regions[n-1]
			w.regions = append(w.regions, Region{Base: last.Base + last.Size, State: dump.MemFree, Protect: dump.PageNoAccess})
		}
	}
}

func pastEOF(size int64) uint32 {
	if size+0x1000 <= math.MaxUint32 {
		return uint32(size + 0x1000)
	}
	return 0xfffff000
}

// breakAfter patches the laid-out bytes; dir is the directory as written.
func (b *Builder) breakAfter(l *layout, dir []dirEntry, size int64) {
	eof := pastEOF(size)
	entry := func(i int) int { return l.dirOff + dirEntrySize*i }
	for _, r := range b.breaks {
		switch r.m {
		case BadSignature:
			copy(l.buf[0:4], "PMDM")
		case BadVersion:
			l.u32(4, b.version&^0xffff)
		case BadStreamCount:
			l.u32(8, math.MaxUint32)
		case DirectoryPastEOF:
			l.u32(12, eof)
		case StreamPastEOF, StreamSizePastEOF, TruncatedStreams, OverlappingStreams:
			for i, d := range dir {
				if d.typ == dump.StreamUnused || !r.hits(d.typ) {
					continue
				}
				e := entry(i)
				switch r.m {
				case StreamPastEOF:
					l.u32(e+8, eof)
				case StreamSizePastEOF:
					l.u32(e+4, uint32(min(size-int64(d.rva)+256, math.MaxUint32)))
				case TruncatedStreams:
					l.u32(e+4, d.size/2)
				case OverlappingStreams:
					if end, ok := nextStreamEnd(dir, d.rva); ok {
						l.u32(e+4, end-d.rva)
					}
				}
			}
		}
		for _, f := range l.refs {
			if !r.hits(f.stream) {
				continue
			}
			switch {
			case r.m == HugeCounts && f.kind == refCount32:
				l.u32(f.off, math.MaxUint32)
			case r.m == HugeCounts && f.kind == refCount64:
				l.u64(f.off, math.MaxUint64)
			case r.m == BadEntrySizes && f.kind == refHeaderSize:
				l.u32(f.off, math.MaxUint32)
			case r.m == BadEntrySizes && f.kind == refEntrySize:
				l.u32(f.off, 0)
			case r.m == MemoryRVAPastEOF && f.kind == refMemRVA:
				l.u32(f.off, eof)
			case r.m == Memory64BaseRVAPastEOF && f.kind == refM64Base:
				l.u64(f.off, uint64(size)+0x1000)
			case r.m == StringPastEOF && f.kind == refStr32:
				l.u32(f.off, eof)
			case r.m == StringPastEOF && f.kind == refStr64:
				l.u64(f.off, uint64(size)+0x1000)
			case r.m == BadStringLength && f.kind == refString:
				l.u32(f.off, math.MaxUint32)
			case r.m == ContextTooSmall && f.kind == refContext:
				l.u32(f.off, 16)
			case r.m == ContextPastEOF && f.kind == refContext:
				l.u32(f.off+4, eof)
			case r.m == CodeViewPastEOF && f.kind == refCodeView:
				l.u32(f.off+4, eof)
			case r.m == BadCodeView && f.kind == refCodeView:
				l.u32(f.off, 8)
			}
		}
	}
}

// nextStreamEnd finds the stream that starts first after rva and returns
// where it ends.
func nextStreamEnd(dir []dirEntry, rva uint32) (uint32, bool) {
	var best *dirEntry
	for i := range dir {
		d := &dir[i]
		if d.rva > rva && (best == nil || d.rva < best.rva) {
			best = d
		}
	}
	if best == nil {
		return 0, false
	}
	return best.rva + best.size, true
}

// Truncate returns a copy of the first n bytes of file (all of it if n is
// larger), for tests of files cut short by a crash or a partial download.
func Truncate(file []byte, n int) []byte {
	n = max(0, min(n, len(file)))
	return append([]byte{}, file[:n]...)
}

// Patch returns a copy of file with p written at off, growing the copy if p
// reaches past its end; for corruptions the Malformation set does not cover.
func Patch(file []byte, off int, p []byte) []byte {
	out := append([]byte{}, file...)
	if end := off + len(p); end > len(out) {
		out = append(out, make([]byte, end-len(out))...)
	}
	copy(out[off:], p)
	return out
}
