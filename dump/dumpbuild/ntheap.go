package dumpbuild

import (
	"encoding/binary"
	"fmt"
	"sort"

	"wdb/dump"
)

// This file writes NT heaps into a dump, byte for byte as ntdll lays them
// out (nt-heap.md §6.2), so that a heap walker can be tested against ground
// truth without a Windows machine: TEB/PEB with ProcessHeaps (WOW64
// included), _HEAP with segments, encoded block headers with checksums and
// PreviousSize chains, uncommitted ranges with their descriptors, virtual
// blocks, LFH subsegments (Windows 8+ with busy bitmaps and encoded chunk
// headers; Windows 7's free-chunk chain) and minimal segment heaps for
// detection. The offsets are typed in here from nt-heap.md on purpose,
// independently of the walker's tables, so a wrong offset on either side
// shows up as a test failure.

// HeapProcess describes the heaps of one process for Builder.Heaps.
type HeapProcess struct {
	// Build is the Windows build (7601, 9600, 17134, 19045, 22631, 26100, ...);
	// it selects the structure layout and is written to the system
	// information and the ntdll version. 0 means 19045.
	Build uint32
	// Wow64 (X64 builders only) makes a WOW64 process: Heaps are the 32-bit
	// heaps of the 32-bit PEB, Heaps64 those of the 64-bit PEB, and the
	// module list gains the WOW64 layer and a SysWOW64 ntdll.
	Wow64   bool
	Heaps   []NTHeap
	Heaps64 []NTHeap
	// SegmentHeaps are handles of minimal segment heaps (signature,
	// counters, empty segment lists) appended to ProcessHeaps.
	SegmentHeaps []uint64
	// SegHeaps are full segment heaps (segheap.go), appended after them.
	SegHeaps []SegHeap
	// HeapKey and SegLFHKey are RtlpHpHeapGlobals.HeapKey and LfhKey used
	// by SegHeaps (0: defaults); NoHeapGlobals leaves RtlpHpHeapGlobals
	// out of the dump.
	HeapKey       uint64
	SegLFHKey     uint32
	NoHeapGlobals bool

	NtGlobalFlag uint32
	// LFHKey is the low 32 bits of RtlpLFHKey used to encode LFH data; 0
	// means 0x5a17c0de.
	LFHKey uint32
	// Seed varies the per-heap header keys.
	Seed uint64
	// TEB is the (64-bit) TEB address; 0 picks a default.
	TEB      uint64
	ThreadID uint32
}

// NTHeap describes one NT heap. Segment 0 holds, in order: the _HEAP
// header block, the BlocksIndex block, Blocks, the UserBlocks of LFH,
// then free space and an uncommitted rest of the reservation.
type NTHeap struct {
	Address            uint64 // heap handle, 64 KiB aligned; 0 allocates one
	Flags, ForceFlags  uint32 // 0: 0x2 for the first heap, 0x1002 for the others
	NoEncode           bool   // EncodeFlagMask 0: plain headers
	ReservePages       uint64 // segment 0 reservation in pages; 0: what the blocks need plus 16
	Blocks             []Alloc
	Segments           []NTSegment
	Virtual            []uint64 // requested sizes of VirtualAlloc'd blocks
	LFH                []LFHSubsegment
	DropPages          []uint64 // committed pages left out of the dump (reported as not captured)
	LockCollisions     uint32
	NoUCRAtSegment0End bool // commit segment 0 to its end when ReservePages allows
}

// NTSegment is an extra segment: its own reservation that starts with a
// _HEAP_SEGMENT.
type NTSegment struct {
	Address      uint64 // 64 KiB aligned; 0 allocates one
	ReservePages uint64 // 0: what the blocks need plus 16
	Blocks       []Alloc
}

// Alloc is one back-end block.
type Alloc struct {
	// Size is the requested size of a busy block, or the total size of a
	// free block (rounded up to granules, at least two).
	Size uint64
	Free bool
	// Flags adds HEAP_ENTRY flags to a busy block (0x02 extra, 0x04 fill).
	Flags uint8
	// Pad adds granules to a busy block, so UnusedBytes exceeds 0x3E and
	// is stored after the block (the 0x3F escape).
	Pad uint64
	// Ext puts an extended header (UnusedBytes 0x40|2, EntryOffset 2,
	// signature 5) before the user data, as +ust does.
	Ext bool
	// Gap, when nonzero, makes this entry no block at all: the committed
	// run ends here and Gap pages stay uncommitted.
	Gap uint64
	// Data is written at the start of a busy block's user data (at most
	// Size bytes), for searches.
	Data []byte
}

// LFHSubsegment is one LFH subsegment: a UserBlocks back-end block cut into
// len(Requested) chunks of BlockUnits granules; a zero request is a free
// chunk.
type LFHSubsegment struct {
	BlockUnits uint16
	Requested  []uint64
}

// BlockKind is what kind of block a PlacedBlock is.
type BlockKind int

const (
	BackEndBlock BlockKind = iota
	LFHBlock
	VirtualBlock
)

// PlacedBlock is the ground truth for one block the writer placed.
type PlacedBlock struct {
	Entry, User         uint64
	Size, Granules      uint64 // bytes and granules (virtual: CommitSize)
	PrevSize            uint64 // granules, as written
	UserSize, Unused    uint64
	Flags               uint8 // HEAP_ENTRY flags as written (LFH busy: 0x01)
	Busy, Internal      bool
	Kind                BlockKind
	Heap, Segment       uint64 // segment base; LFH: subsegment; virtual: entry region
	UserBlocks          uint64 // LFH chunks: container's user data
	Index               int    // LFH chunk index
	SegmentHeader       bool   // the block holding the _HEAP / _HEAP_SEGMENT
	LFHContainer        bool
	Dropped             bool // its header lies in a dropped page
	RequestedFromCaller bool // an Alloc, Virtual or LFH request of the spec, not a block the writer added
}

// PlacedSegment is the ground truth for one segment.
type PlacedSegment struct {
	Base, End, FirstEntry uint64
	CommittedBytes        uint64
	UCRs                  [][2]uint64 // address, size
}

// PlacedHeap is the ground truth for one heap.
type PlacedHeap struct {
	Address        uint64
	Bits           int
	Segment        bool // a segment heap
	Encoding       [8]byte
	EncodeFlagMask uint32
	TotalFreeSize  uint64 // granules
	Segments       []PlacedSegment
	Blocks         []PlacedBlock // per segment in address order (LFH chunks after their container), then virtual blocks
	FreeList       []uint64      // entries in FreeLists order
	LFH            uint64
	Subsegments    []uint64
	Dropped        [][2]uint64 // dropped committed pages: address, bytes of the run not walkable from there
	PageSegments   []uint64    // segment heaps: the page segments listed
}

// HeapTruth is what Builder.Heaps placed.
type HeapTruth struct {
	Family     string
	TEB, TEB32 uint64
	PEB, PEB32 uint64
	LFHKey     uint32
	Heaps      []PlacedHeap // Heaps (the 32-bit ones for WOW64) then segment heaps
	Heaps64    []PlacedHeap // WOW64: the 64-bit PEB's heaps

	// HeapKey, SegLFHKey and HeapGlobals (0 when left out): the segment
	// heap keys and where RtlpHpHeapGlobals was written.
	HeapKey     uint64
	SegLFHKey   uint32
	HeapGlobals uint64
}

// Heap layout families.
const (
	famW7 = iota + 1
	famW8
	famW10
	famRS5
	famGE
)

var famNames = map[int]string{famW7: "Windows 7", famW8: "Windows 8/8.1", famW10: "Windows 10 before 1809", famRS5: "Windows 10 1809 to 11 23H2", famGE: "Windows 11 24H2"}

func familyOf(build uint32) int {
	switch {
	case build < 9200:
		return famW7
	case build < 10240:
		return famW8
	case build < 17763:
		return famW10
	case build < 26100:
		return famRS5
	}
	return famGE
}

// ntOff is the set of offsets the writer fills for one (family, bitness).
type ntOff struct {
	bits, ptr   int
	gran        uint64
	hdr         int    // meaningful header bytes within _HEAP_ENTRY
	headerBlock uint64 // FirstEntry - heap
	biBlock     uint64 // BlocksIndex block size
	descBlock   uint64 // UCR descriptor block size

	segSig, segFlags, segList, segHeap, segBase, segPages, segFirst, segLast, segUCPages, segUCRanges, segUCRList, segSize int

	flags, force, efm, encoding, vmThreshold, signature, segReserve, segCommit, dcFree, dcTotal  int
	totalFree, maxAlloc, phlIndex, ucrList, alignRound, alignMask, vab, segListHead, blocksIndex int
	freeLists, lock, commitRoutine, frontEnd, feType, counters, heapSize                         int
	ctrReserved, ctrCommitted, ctrLargeUCR, ctrVirtual, ctrSegments, ctrUCRs, ctrLockCollisions  int
	ucrSegEntry, ucrAddr, ucrSize                                                                int
	vaCommit, vaReserve, vaBusy, vaHeader                                                        int
	lfhZones, lfhHeap, lfhSize, zoneNext, zoneFree, zoneLimit, zoneHeader                        int
	subUB, subDepth, subFreeOff, subBlockSize, subBlockCount, subSizeIndex, subSize              int
	ubSub, ubSizeIndex, ubSig, ubEnc, ubBitmapSize, ubBitmapBuf, ubBitmapData, ubHeader          int
	chunkCode, chunkIndex, chunkUnused                                                           int
	chunkShift                                                                                   uint
	listLookupHead, listLookupArraySize, listLookupItemCount, listLookupInUse, listLookupHints   int
	pebHeapsArray                                                                                uint64
}

func ntOffsets(fam, bits int) *ntOff {
	// nt-heap.md §2.1 / §2.2: the _HEAP fields that move between families,
	// as {vmThreshold, signature, totalFree, ucrList, vab, segList,
	// blocksIndex, freeLists, lock, frontEnd, feType, counters, size}.
	type mv struct{ vmt, sig, tfs, ucr, vab, seg, bi, fl, lock, fe, fet, ctr, size int }
	var m mv
	o := &ntOff{bits: bits}
	if bits == 64 {
		switch fam {
		case famW7:
			m = mv{0x9c, 0xa0, 0xc8, 0xf8, 0x118, 0x128, 0x140, 0x158, 0x168, 0x178, 0x182, 0x188, 0x208}
			o.headerBlock = 0x400
		case famW8:
			m = mv{0x94, 0x98, 0xc0, 0xf0, 0x110, 0x120, 0x138, 0x150, 0x160, 0x170, 0x17a, 0x210, 0x298}
			o.headerBlock = 0x700
		case famW10:
			m = mv{0x94, 0x98, 0xc0, 0xf0, 0x110, 0x120, 0x138, 0x150, 0x160, 0x178, 0x182, 0x218, 0x2a0}
			o.headerBlock = 0x720
		default:
			m = mv{0x94, 0x98, 0xc0, 0xf0, 0x110, 0x120, 0x138, 0x150, 0x160, 0x198, 0x1a2, 0x238, 0x2c0}
			o.headerBlock = 0x740
		}
		o.ptr, o.gran, o.hdr = 8, 16, 8
		o.biBlock, o.descBlock = 0x130, 0x40
		o.segSig, o.segFlags, o.segList, o.segHeap, o.segBase, o.segPages = 0x10, 0x14, 0x18, 0x28, 0x30, 0x38
		o.segFirst, o.segLast, o.segUCPages, o.segUCRanges, o.segUCRList, o.segSize = 0x40, 0x48, 0x50, 0x54, 0x60, 0x70
		o.flags, o.force, o.efm, o.encoding = 0x70, 0x74, 0x7c, 0x80
		o.ctrReserved, o.ctrCommitted, o.ctrLargeUCR, o.ctrVirtual, o.ctrSegments, o.ctrUCRs, o.ctrLockCollisions = 0, 8, 0x10, 0x18, 0x20, 0x24, 0x34
		o.ucrSegEntry, o.ucrAddr, o.ucrSize = 0x10, 0x20, 0x28
		o.vaCommit, o.vaReserve, o.vaBusy, o.vaHeader = 0x20, 0x28, 0x30, 0x40
		o.chunkCode, o.chunkIndex, o.chunkUnused, o.chunkShift = 8, 0xd, 0xf, 4
		o.listLookupArraySize, o.listLookupItemCount, o.listLookupHead, o.listLookupInUse, o.listLookupHints = 0x08, 0x10, 0x20, 0x28, 0x30
		o.pebHeapsArray = 0x800
		if fam == famW7 {
			o.lfhZones, o.lfhHeap, o.lfhSize = 0x28, 0x40, 0x400
			o.zoneNext, o.zoneFree, o.zoneLimit, o.zoneHeader = -1, 0x10, 0x18, 0x20
			o.subUB, o.subDepth, o.subFreeOff, o.subBlockSize, o.subBlockCount, o.subSizeIndex, o.subSize = 0x08, 0x10, 0x12, 0x18, 0x1c, 0x1e, 0x30
			o.ubSub, o.ubSizeIndex, o.ubSig, o.ubEnc, o.ubHeader = 0, 0x10, 0x18, -1, 0x20
		} else {
			o.lfhZones, o.lfhHeap, o.lfhSize = 0x08, 0x18, 0xcf0
			o.zoneNext, o.zoneFree, o.zoneLimit, o.zoneHeader = 0x10, -1, -1, 0x20
			o.subUB, o.subDepth, o.subFreeOff, o.subBlockSize, o.subBlockCount, o.subSizeIndex, o.subSize = 0x08, 0x20, -1, 0x24, 0x28, 0x2a, 0x40
			o.ubSub, o.ubSizeIndex, o.ubSig, o.ubEnc, o.ubBitmapSize, o.ubBitmapBuf, o.ubBitmapData, o.ubHeader = 0, 0x10, 0x14, 0x18, 0x20, 0x28, 0x30, 0x30
		}
	} else {
		switch fam {
		case famW7:
			m = mv{0x60, 0x64, 0x78, 0x90, 0xa0, 0xa8, 0xb8, 0xc4, 0xcc, 0xd4, 0xda, 0xdc, 0x138}
			o.headerBlock = 0x588
		case famW8:
			m = mv{0x5c, 0x60, 0x74, 0x8c, 0x9c, 0xa4, 0xb4, 0xc0, 0xc8, 0xd0, 0xd6, 0x1e0, 0x248}
			o.headerBlock = 0x480
		case famW10:
			m = mv{0x5c, 0x60, 0x74, 0x8c, 0x9c, 0xa4, 0xb4, 0xc0, 0xc8, 0xd4, 0xda, 0x1e4, 0x248}
			o.headerBlock = 0x498
		default:
			m = mv{0x5c, 0x60, 0x74, 0x8c, 0x9c, 0xa4, 0xb4, 0xc0, 0xc8, 0xe4, 0xea, 0x1f4, 0x258}
			o.headerBlock = 0x4a8
		}
		o.ptr, o.gran, o.hdr = 4, 8, 0
		o.biBlock, o.descBlock = 0x108, 0x20
		o.segSig, o.segFlags, o.segList, o.segHeap, o.segBase, o.segPages = 0x08, 0x0c, 0x10, 0x18, 0x1c, 0x20
		o.segFirst, o.segLast, o.segUCPages, o.segUCRanges, o.segUCRList, o.segSize = 0x24, 0x28, 0x2c, 0x30, 0x38, 0x40
		o.flags, o.force, o.efm, o.encoding = 0x40, 0x44, 0x4c, 0x50
		o.ctrReserved, o.ctrCommitted, o.ctrLargeUCR, o.ctrVirtual, o.ctrSegments, o.ctrUCRs, o.ctrLockCollisions = 0, 4, 8, 0x0c, 0x10, 0x14, 0x24
		o.ucrSegEntry, o.ucrAddr, o.ucrSize = 0x08, 0x10, 0x14
		o.vaCommit, o.vaReserve, o.vaBusy, o.vaHeader = 0x10, 0x14, 0x18, 0x20
		o.chunkCode, o.chunkIndex, o.chunkUnused, o.chunkShift = 0, -1, 7, 3
		o.listLookupArraySize, o.listLookupItemCount, o.listLookupHead, o.listLookupInUse, o.listLookupHints = 0x04, 0x0c, 0x18, 0x1c, 0x20
		o.pebHeapsArray = 0x500
		if fam == famW7 {
			o.lfhZones, o.lfhHeap, o.lfhSize = 0x18, 0x24, 0x320
			o.zoneNext, o.zoneFree, o.zoneLimit, o.zoneHeader = -1, 0x08, 0x0c, 0x10
			o.subUB, o.subDepth, o.subFreeOff, o.subBlockSize, o.subBlockCount, o.subSizeIndex, o.subSize = 0x04, 0x08, 0x0a, 0x10, 0x14, 0x16, 0x20
			o.ubSub, o.ubSizeIndex, o.ubSig, o.ubEnc, o.ubHeader = 0, 0x08, 0x0c, -1, 0x10
		} else {
			o.lfhZones, o.lfhHeap, o.lfhSize = 0x04, 0x0c, 0x7e8
			o.zoneNext, o.zoneFree, o.zoneLimit, o.zoneHeader = 0x08, -1, -1, 0x10
			o.subUB, o.subDepth, o.subFreeOff, o.subBlockSize, o.subBlockCount, o.subSizeIndex, o.subSize = 0x04, 0x10, -1, 0x14, 0x18, 0x1a, 0x28
			o.ubSub, o.ubSizeIndex, o.ubSig, o.ubEnc, o.ubBitmapSize, o.ubBitmapBuf, o.ubBitmapData, o.ubHeader = 0, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c, 0x1c
		}
	}
	o.vmThreshold, o.signature, o.totalFree, o.ucrList, o.vab, o.segListHead = m.vmt, m.sig, m.tfs, m.ucr, m.vab, m.seg
	o.blocksIndex, o.freeLists, o.lock, o.frontEnd, o.feType, o.counters, o.heapSize = m.bi, m.fl, m.lock, m.fe, m.fet, m.ctr, m.size
	// Fields that sit at fixed distances from their neighbours in every
	// family: SegmentReserve follows Signature by one pointer, and so on.
	p := o.ptr
	o.segReserve = o.signature + p
	o.segCommit = o.segReserve + p
	o.dcFree = o.segCommit + p
	o.dcTotal = o.dcFree + p
	o.maxAlloc = o.totalFree + p
	o.phlIndex = o.maxAlloc + p
	o.alignRound = o.ucrList + 2*p
	o.alignMask = o.alignRound + p
	o.commitRoutine = o.lock + p
	return o
}

const (
	heapPage         = 0x1000
	heapAlign        = 0x10000
	encodeFlag       = 0x00100000
	ntSegSignature   = 0xffeeffee
	ntHeapSignature  = 0xeeffeeff
	segHeapSignature = 0xddeeddee
	ubSignature      = 0xf0e0d0c0
)

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// hregion is one reservation the writer fills.
type hregion struct {
	base   uint64
	data   []byte
	commit [][2]uint64 // committed runs: start, end
	drop   map[uint64]bool
}

// hspace is the writer's address space.
type hspace struct {
	regs []*hregion
	last *hregion
	next uint64
	err  error
}

func (s *hspace) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// alloc returns a free 64 KiB-aligned address for size bytes.
func (s *hspace) alloc(size uint64) uint64 {
	a := s.next
	s.next = alignUp(a+size, heapAlign) + heapAlign
	return a
}

func (s *hspace) reserve(base, size uint64) *hregion {
	for _, r := range s.regs {
		if base < r.base+uint64(len(r.data)) && r.base < base+size {
			s.fail(fmt.Errorf("dumpbuild: heap region %#x+%#x overlaps %#x+%#x", base, size, r.base, len(r.data)))
		}
	}
	r := &hregion{base: base, data: make([]byte, size)}
	s.regs = append(s.regs, r)
	if end := alignUp(base+size, heapAlign) + heapAlign; end > s.next {
		s.next = end
	}
	return r
}

func (s *hspace) at(addr uint64, n int) []byte {
	if r := s.last; r != nil && addr >= r.base && addr+uint64(n) <= r.base+uint64(len(r.data)) {
		return r.data[addr-r.base : addr-r.base+uint64(n)]
	}
	for _, r := range s.regs {
		if addr >= r.base && addr+uint64(n) <= r.base+uint64(len(r.data)) {
			s.last = r
			return r.data[addr-r.base : addr-r.base+uint64(n)]
		}
	}
	s.fail(fmt.Errorf("dumpbuild: heap write of %d bytes at %#x outside every region", n, addr))
	return make([]byte, n)
}

func (s *hspace) u8(a uint64, v uint8)   { s.at(a, 1)[0] = v }
func (s *hspace) u16(a uint64, v uint16) { binary.LittleEndian.PutUint16(s.at(a, 2), v) }
func (s *hspace) u32(a uint64, v uint32) { binary.LittleEndian.PutUint32(s.at(a, 4), v) }
func (s *hspace) u64(a uint64, v uint64) { binary.LittleEndian.PutUint64(s.at(a, 8), v) }
func (s *hspace) ptr(a uint64, v uint64, size int) {
	if size == 4 {
		s.u32(a, uint32(v))
	} else {
		s.u64(a, v)
	}
}

// link makes a circular doubly linked list of LIST_ENTRYs: head, then
// entries in order.
func (s *hspace) link(head uint64, entries []uint64, ptr int) {
	all := append([]uint64{head}, entries...)
	for i, e := range all {
		s.ptr(e, all[(i+1)%len(all)], ptr)
		s.ptr(e+uint64(ptr), all[(i+len(all)-1)%len(all)], ptr)
	}
}

// heapWriter places one process's heaps.
type heapWriter struct {
	sp        *hspace
	fam       int
	key       uint32
	seed      uint64
	heapFlags uint32 // Flags of the heap being planned
	build     uint32
}

// plannedBlock is a back-end block before it is written.
type plannedBlock struct {
	PlacedBlock
	unusedByte uint8
	ext        bool
	data       []byte
	ucr        [2]uint64 // for UCR descriptor blocks: the range it describes
	lfh        int       // index into NTHeap.LFH for UserBlocks, else -1
}

// plannedSegment is a segment before it is written.
type plannedSegment struct {
	base, first, end uint64
	blocks           []plannedBlock
	runs             [][2]uint64
	ucrs             [][2]uint64
}

// Heaps lays out the heaps of p: it sets the system information (build,
// version), adds ntdll (and for WOW64 the WOW64 modules), one thread whose
// TEB leads to the PEB(s), the heap memory as Memory64 ranges and the
// regions of everything it placed as MemoryInfoList entries, sorted. Call it
// once per Builder, and add no other Region entries. The returned truth
// lists every block placed.
func (b *Builder) Heaps(p HeapProcess) (*HeapTruth, error) {
	if p.Build == 0 {
		p.Build = 19045
	}
	if p.Wow64 && b.arch != X64 {
		return nil, b.heapFail(fmt.Errorf("dumpbuild: a WOW64 process needs an X64 builder"))
	}
	if p.LFHKey == 0 {
		p.LFHKey = 0x5a17c0de
	}
	fam := familyOf(p.Build)
	bits := 64
	if b.arch == X86 || p.Wow64 {
		bits = 32
	}
	sp := &hspace{next: 0x00400000}
	if b.arch == X64 && !p.Wow64 {
		sp.next = 0x000001f000000000
	}
	w := &heapWriter{sp: sp, fam: fam, key: p.LFHKey, seed: p.Seed, build: p.Build}
	t := &HeapTruth{Family: famNames[fam], LFHKey: p.LFHKey}

	// TEB and PEB pages first, at fixed places.
	teb := p.TEB
	if teb == 0 {
		teb = sp.alloc(0x3000)
	} else {
		sp.next = max(sp.next, alignUp(teb+0x3000, heapAlign))
	}
	pebBase := sp.alloc(0x2000)
	tebRegion := sp.reserve(teb, 0x3000)
	tebRegion.commit = [][2]uint64{{teb, teb + 0x3000}}
	pebRegion := sp.reserve(pebBase, 0x2000)
	pebRegion.commit = [][2]uint64{{pebBase, pebBase + 0x2000}}

	var heaps, heaps64 []PlacedHeap
	for i := range p.Heaps {
		heaps = append(heaps, w.heap(&p.Heaps[i], bits, i))
	}
	for _, a := range p.SegmentHeaps {
		heaps = append(heaps, w.segmentHeap(a, bits, len(heaps)))
	}
	if len(p.SegHeaps) > 0 {
		ntdll := uint64(0x7ffc8d700000)
		if b.arch == X86 {
			ntdll = 0x77bd0000
		} else if p.Wow64 {
			ntdll = 0x77cf0000
		}
		heaps = append(heaps, w.segmentHeaps(&p, bits, len(heaps), t, ntdll)...)
	}
	if p.Wow64 {
		for i := range p.Heaps64 {
			heaps64 = append(heaps64, w.heap(&p.Heaps64[i], 64, i))
		}
	}
	if sp.err != nil {
		return nil, b.heapFail(sp.err)
	}
	tid := p.ThreadID
	if tid == 0 {
		tid = 0x1234
	}
	writePEB := func(peb uint64, bits int, hs []PlacedHeap) {
		l := &dump.Layout64
		if bits == 32 {
			l = &dump.Layout32
		}
		arr := peb + ntOffsets(fam, bits).pebHeapsArray
		ps := l.PointerSize
		sp.ptr(peb+uint64(l.PEBImageBase), 0x00400000, ps)
		if len(hs) > 0 {
			sp.ptr(peb+uint64(l.PEBProcessHeap), hs[0].Address, ps)
		}
		sp.u32(peb+uint64(l.PEBNtGlobalFlag), p.NtGlobalFlag)
		sp.u32(peb+uint64(l.PEBNumberOfHeaps), uint32(len(hs)))
		sp.u32(peb+uint64(l.PEBMaxNumberOfHeaps), uint32(max(16, len(hs))))
		sp.ptr(peb+uint64(l.PEBProcessHeaps), arr, ps)
		major, minor := uint32(10), uint32(0)
		if fam == famW7 {
			major, minor = 6, 1
		} else if fam == famW8 {
			major, minor = 6, 3
			if p.Build < 9600 {
				minor = 2
			}
		}
		sp.u32(peb+uint64(l.PEBOSMajor), major)
		sp.u32(peb+uint64(l.PEBOSMinor), minor)
		sp.u16(peb+uint64(l.PEBOSBuild), uint16(p.Build))
		for i, h := range hs {
			sp.ptr(arr+uint64(i*ps), h.Address, ps)
		}
	}
	if p.Wow64 {
		teb32 := teb + 0x2000
		peb32 := pebBase + 0x1000
		sp.u64(teb+uint64(dump.Layout64.TEBSelf), teb)
		sp.u64(teb+uint64(dump.Layout64.TEBPEB), pebBase)
		sp.u32(teb+uint64(dump.Layout64.TEBClientID)+8, tid)
		sp.u32(teb+uint64(dump.Layout64.TEBWowTebOffset), 0x2000)
		sp.u32(teb32+uint64(dump.Layout32.TEBSelf), uint32(teb32))
		sp.u32(teb32+uint64(dump.Layout32.TEBPEB), uint32(peb32))
		sp.u32(teb32+uint64(dump.Layout32.TEBClientID)+4, tid)
		sp.u32(teb32+uint64(dump.Layout32.TEBWowTebOffset), uint32(0xffffe000))
		writePEB(pebBase, 64, heaps64)
		writePEB(peb32, 32, heaps)
		t.TEB, t.TEB32, t.PEB, t.PEB32 = teb, teb32, pebBase, peb32
	} else {
		l := &dump.Layout64
		if bits == 32 {
			l = &dump.Layout32
		}
		sp.ptr(teb+uint64(l.TEBSelf), teb, l.PointerSize)
		sp.ptr(teb+uint64(l.TEBPEB), pebBase, l.PointerSize)
		sp.u32(teb+uint64(l.TEBClientID)+uint64(l.PointerSize), tid)
		writePEB(pebBase, bits, heaps)
		t.TEB, t.PEB = teb, pebBase
	}
	if sp.err != nil {
		return nil, b.heapFail(sp.err)
	}
	t.Heaps, t.Heaps64 = heaps, heaps64

	// System information and modules.
	si := b.sys
	si.Build = p.Build
	si.Major, si.Minor = 10, 0
	ver := [4]uint16{10, 0, uint16(p.Build), 1}
	switch fam {
	case famW7:
		si.Major, si.Minor, si.CSD = 6, 1, "Service Pack 1"
		ver = [4]uint16{6, 1, uint16(p.Build), 17514}
	case famW8:
		si.Major, si.Minor = 6, 3
		if p.Build < 9600 {
			si.Minor = 2
		}
		ver = [4]uint16{6, uint16(si.Minor), uint16(p.Build), 16384}
	}
	b.System(si)
	ntdllBase := uint64(0x7ffc8d700000)
	if b.arch == X86 {
		ntdllBase = 0x77bd0000
	}
	b.Module(Module{Name: `C:\Windows\System32\ntdll.dll`, Base: ntdllBase, Size: 0x1e1000, Version: ver})
	if p.Wow64 {
		b.Module(Module{Name: `C:\Windows\SysWOW64\ntdll.dll`, Base: 0x77cf0000, Size: 0x190000, Version: ver})
		b.Module(Module{Name: `C:\Windows\System32\wow64.dll`, Base: 0x7ffc8d600000, Size: 0x58000, Version: ver})
		b.Module(Module{Name: `C:\Windows\System32\wow64win.dll`, Base: 0x7ffc8d500000, Size: 0x78000, Version: ver})
		b.Module(Module{Name: `C:\Windows\System32\wow64cpu.dll`, Base: 0x77ce0000, Size: 0xa000, Version: ver})
	}
	b.Thread(Thread{ID: tid, TEB: teb})

	// Memory and regions, sorted by address.
	sort.Slice(sp.regs, func(i, j int) bool { return sp.regs[i].base < sp.regs[j].base })
	for _, r := range sp.regs {
		end := r.base + uint64(len(r.data))
		pos := r.base
		for _, c := range r.commit {
			if c[0] > pos {
				b.Region(Region{Base: pos, AllocBase: r.base, AllocProtect: dump.PageReadWrite, Size: c[0] - pos, State: dump.MemReserve, Type: dump.MemPrivate})
			}
			b.Region(Region{Base: c[0], AllocBase: r.base, AllocProtect: dump.PageReadWrite, Size: c[1] - c[0], State: dump.MemCommit, Protect: dump.PageReadWrite, Type: dump.MemPrivate})
			for a := c[0]; a < c[1]; {
				if r.drop[a] {
					a += heapPage
					continue
				}
				e := a
				for e < c[1] && !r.drop[e] {
					e += heapPage
				}
				b.Memory64(a, r.data[a-r.base:e-r.base])
				a = e
			}
			pos = c[1]
		}
		if pos < end {
			b.Region(Region{Base: pos, AllocBase: r.base, AllocProtect: dump.PageReadWrite, Size: end - pos, State: dump.MemReserve, Type: dump.MemPrivate})
		}
	}
	return t, nil
}

func (b *Builder) heapFail(err error) error {
	b.fail(err)
	return err
}

// heapKey returns the per-heap header key: six pseudo-random bytes, byte 2
// with the 0x10 bit ntdll keeps set (so EncodeFlagMask & dword says
// "encoded"), bytes 6 and 7 zero.
func (w *heapWriter) heapKey(addr uint64) [8]byte {
	x := addr ^ w.seed*0x9e3779b97f4a7c15 ^ 0x243f6a8885a308d3
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	var k [8]byte
	binary.LittleEndian.PutUint64(k[:], x)
	k[2] |= 0x10
	k[6], k[7] = 0, 0
	return k
}

// header writes an encoded _HEAP_ENTRY at e.
func (w *heapWriter) header(o *ntOff, e uint64, units uint16, flags uint8, prev uint16, segOff, unused uint8, key *[8]byte, encode bool) {
	var h [8]byte
	binary.LittleEndian.PutUint16(h[0:], units)
	h[2] = flags
	h[3] = h[0] ^ h[1] ^ h[2]
	binary.LittleEndian.PutUint16(h[4:], prev)
	h[6], h[7] = segOff, unused
	if encode {
		for i := range h {
			h[i] ^= key[i]
		}
	}
	copy(w.sp.at(e+uint64(o.hdr), 8), h[:])
}

// planSegment lays out the blocks of one segment from base: the header
// block of hdrSize, then allocs, then extra (LFH UserBlocks), and closes
// the last run. reservePages 0 picks the size.
func (w *heapWriter) planSegment(o *ntOff, heap, base, hdrSize uint64, pre []plannedBlock, allocs []Alloc, post []plannedBlock, reservePages uint64, commitAll bool) (*plannedSegment, error) {
	ps := &plannedSegment{base: base, first: base + hdrSize, blocks: make([]plannedBlock, 0, len(pre)+len(allocs)+len(post)+8)}
	g := o.gran
	var prev uint64
	p := base
	runStart := base
	add := func(pb plannedBlock) {
		pb.Entry, pb.PrevSize, pb.Heap, pb.Segment = p, prev, heap, base
		if pb.User == 0 {
			pb.User = p + g
		}
		ps.blocks = append(ps.blocks, pb)
		prev = pb.Granules
		p += pb.Size
	}
	busy := func(size, req uint64, flags uint8, internal bool) plannedBlock {
		return plannedBlock{PlacedBlock: PlacedBlock{Size: size, Granules: size / g, UserSize: req, Unused: size - req, Flags: flags | 1, Busy: true, Internal: internal}, unusedByte: uint8(size - req), lfh: -1}
	}
	hb := busy(hdrSize, hdrSize-1, 0, false)
	hb.SegmentHeader = true
	add(hb)
	freeFill := func(n uint64) {
		for n > 0 {
			sz := min(n, 0xfff0*g)
			if n-sz != 0 && n-sz < 2*g {
				sz -= 2 * g
			}
			if k := len(ps.blocks) - 1; k >= 0 && !ps.blocks[k].Busy && ps.blocks[k].Size+sz <= 0xfff0*g {
				// Coalesce with the free block before, as ntdll would.
				last := &ps.blocks[k]
				last.Size += sz
				last.Granules = last.Size / g
				last.UserSize = last.Size - g
				prev = last.Granules
				p += sz
			} else {
				add(plannedBlock{PlacedBlock: PlacedBlock{Size: sz, Granules: sz / g, UserSize: sz - g, Unused: g, Flags: w.freeFlags()}, lfh: -1})
			}
			n -= sz
		}
	}
	closeRun := func(ucrPages uint64, last bool) {
		if last && ucrPages == 0 {
			// Fully committed to the end: no descriptor, free to the end.
			freeFill(ps.end - p)
			ps.runs = append(ps.runs, [2]uint64{runStart, p})
			return
		}
		end := alignUp(p+o.descBlock, heapPage)
		if r := end - o.descBlock - p; r != 0 && r < 2*g {
			end += heapPage
		}
		freeFill(end - o.descBlock - p)
		d := busy(o.descBlock, o.descBlock-3, 0, false)
		d.ucr = [2]uint64{end, ucrPages * heapPage}
		add(d)
		ps.runs = append(ps.runs, [2]uint64{runStart, end})
		ps.ucrs = append(ps.ucrs, d.ucr)
		p = end + ucrPages*heapPage
		runStart, prev = p, 0
	}
	for _, pb := range pre {
		add(pb)
	}
	for _, a := range allocs {
		switch {
		case a.Gap > 0:
			closeRun(a.Gap, false)
		case a.Free:
			sz := max(alignUp(a.Size, g), 2*g)
			if sz > 0xffff*g {
				return nil, fmt.Errorf("dumpbuild: free block of %#x bytes exceeds 0xffff granules", sz)
			}
			add(plannedBlock{PlacedBlock: PlacedBlock{Size: sz, Granules: sz / g, UserSize: sz - g, Unused: g, Flags: w.freeFlags()}, lfh: -1})
		default:
			over := g
			if a.Ext {
				over = 3 * g
			}
			sz := max(alignUp(a.Size+over, g), 2*g) + a.Pad*g
			if sz > 0xffff*g {
				return nil, fmt.Errorf("dumpbuild: busy block of %#x bytes exceeds 0xffff granules", sz)
			}
			pb := busy(sz, a.Size, a.Flags, false)
			pb.RequestedFromCaller = true
			pb.data = a.Data[:min(uint64(len(a.Data)), a.Size)]
			unused := sz - a.Size
			switch {
			case a.Ext:
				pb.ext = true
				pb.unusedByte = 0x40 | 2
				pb.User = 0 // set by add, then moved below
			case unused >= 0x3f:
				pb.unusedByte = 0x3f
			}
			add(pb)
			if a.Ext {
				ps.blocks[len(ps.blocks)-1].User = ps.blocks[len(ps.blocks)-1].Entry + 3*g
			}
		}
	}
	for _, pb := range post {
		add(pb)
	}
	// The last run: commit what the blocks need, then the rest reserved.
	need := alignUp(p+o.descBlock+2*g, heapPage)
	if reservePages == 0 {
		reservePages = (need-base)/heapPage + 16
	}
	ps.end = base + reservePages*heapPage
	if need > ps.end {
		return nil, fmt.Errorf("dumpbuild: segment at %#x needs %#x bytes, more than its %#x-page reservation", base, need-base, reservePages)
	}
	if commitAll {
		closeRun(0, true)
	} else {
		end := alignUp(p+o.descBlock, heapPage)
		if r := end - o.descBlock - p; r != 0 && r < 2*g {
			end += heapPage
		}
		if end >= ps.end {
			closeRun(0, true)
		} else {
			closeRun((ps.end-end)/heapPage, true)
		}
	}
	return ps, nil
}

// freeFlags is the Flags byte of a free block: FILL when the heap checks
// frees (HEAP_FREE_CHECKING_ENABLED), as the real debug heaps show.
func (w *heapWriter) freeFlags() uint8 {
	if w.heapFlags&0x40 != 0 {
		return 0x04
	}
	return 0
}

// heap plans and writes one NT heap.
func (w *heapWriter) heap(spec *NTHeap, bits, index int) PlacedHeap {
	o := ntOffsets(w.fam, bits)
	sp := w.sp
	g := o.gran
	flags := spec.Flags
	if flags == 0 {
		flags = 0x1002
		if index == 0 {
			flags = 0x2
		}
	}
	w.heapFlags = flags
	addr := spec.Address
	ph := PlacedHeap{Bits: bits}
	if addr == 0 || addr%heapAlign != 0 {
		if addr != 0 {
			sp.fail(fmt.Errorf("dumpbuild: heap address %#x is not 64 KiB aligned", addr))
		}
		addr = sp.alloc(0x100000)
	}
	ph.Address = addr
	key := w.heapKey(addr)
	encode := !spec.NoEncode
	if encode {
		ph.Encoding, ph.EncodeFlagMask = key, encodeFlag
	}
	// The LFH UserBlocks are back-end blocks at the end of segment 0.
	type ubPlan struct {
		first, stride uint64
		count         int
	}
	var ubs []ubPlan
	var post []plannedBlock
	for i, s := range spec.LFH {
		count := len(s.Requested)
		stride := uint64(s.BlockUnits) * g
		if s.BlockUnits == 0 || count == 0 || count > 0xffff {
			sp.fail(fmt.Errorf("dumpbuild: LFH subsegment %d has %d chunks of %d units", i, count, s.BlockUnits))
			return ph
		}
		first := uint64(o.ubHeader)
		if o.ubEnc >= 0 {
			// The busy bitmap, in whole words, then granule alignment.
			word := uint64(o.ptr)
			words := (uint64(count) + 8*word - 1) / (8 * word)
			first = alignUp(uint64(o.ubBitmapData)+words*word, g)
		}
		size := alignUp(g+first+uint64(count)*stride+8, g)
		ubs = append(ubs, ubPlan{first, stride, count})
		post = append(post, plannedBlock{PlacedBlock: PlacedBlock{Size: size, Granules: size / g, UserSize: size - g, Unused: g, Flags: 0x09, Busy: true, Internal: true, LFHContainer: true}, unusedByte: uint8(g), lfh: i})
	}
	bi := plannedBlock{PlacedBlock: PlacedBlock{Size: o.biBlock, Granules: o.biBlock / g, UserSize: o.biBlock - 1, Unused: 1, Flags: 0x09, Busy: true, Internal: true}, unusedByte: 1, lfh: -1}
	seg0, err := w.planSegment(o, addr, addr, o.headerBlock, []plannedBlock{bi}, spec.Blocks, post, spec.ReservePages, spec.NoUCRAtSegment0End)
	if err != nil {
		sp.fail(err)
		return ph
	}
	segs := []*plannedSegment{seg0}
	regions := []*hregion{sp.reserve(seg0.base, seg0.end-seg0.base)}
	regions[0].commit = seg0.runs
	// The _LFH_HEAP and its zone live in their own region.
	var lfhAddr, zone uint64
	var subs []uint64
	if len(spec.LFH) > 0 {
		lfhAddr = sp.alloc(0x10000)
		zone = lfhAddr + alignUp(uint64(o.lfhSize), heapPage)
		for i := range spec.LFH {
			subs = append(subs, zone+uint64(o.zoneHeader)+uint64(i*o.subSize))
		}
		if zone+uint64(o.zoneHeader)+uint64(len(spec.LFH)*o.subSize) > lfhAddr+0x10000 {
			sp.fail(fmt.Errorf("dumpbuild: %d LFH subsegments do not fit the LFH region", len(spec.LFH)))
			return ph
		}
		lr := sp.reserve(lfhAddr, 0x10000)
		lr.commit = [][2]uint64{{lfhAddr, lfhAddr + 0x10000}}
	}
	for _, es := range spec.Segments {
		base := es.Address
		if base == 0 {
			base = sp.alloc(0x100000)
		}
		s, err := w.planSegment(o, addr, base, uint64(o.segSize), nil, es.Blocks, nil, es.ReservePages, false)
		if err != nil {
			sp.fail(err)
			return ph
		}
		segs = append(segs, s)
		r := sp.reserve(s.base, s.end-s.base)
		r.commit = s.runs
		regions = append(regions, r)
	}
	if sp.err != nil {
		return ph
	}
	drop := map[uint64]bool{}
	for _, d := range spec.DropPages {
		drop[d&^(heapPage-1)] = true
	}
	for _, r := range regions {
		r.drop = drop
	}

	// Write the blocks.
	var frees []PlacedBlock
	var ucrDescs, totalUCRs []uint64
	segEntries := make([]uint64, len(segs))
	var reserved, committed, totalFree uint64
	ucrCount := 0
	for si, s := range segs {
		var descs []uint64
		for bi := range s.blocks {
			pb := &s.blocks[bi]
			units := uint16(pb.Granules)
			w.header(o, pb.Entry, units, pb.Flags, uint16(pb.PrevSize), 0, pb.unusedByte, &key, encode)
			if pb.Busy && pb.unusedByte == 0x3f {
				if bits == 64 {
					sp.u64(pb.Entry+pb.Size, pb.Unused)
				} else {
					sp.u32(pb.Entry+pb.Size-4, uint32(pb.Unused))
				}
			}
			if len(pb.data) > 0 {
				copy(sp.at(pb.User, len(pb.data)), pb.data)
			}
			if pb.ext {
				x := pb.Entry + 2*g + uint64(o.hdr)
				sp.u16(x+4, uint16(pb.Unused))
				sp.u8(x+6, 2)
				sp.u8(x+7, 5)
			}
			if !pb.Busy {
				frees = append(frees, pb.PlacedBlock)
				totalFree += pb.Granules
			}
			if pb.ucr[1] != 0 {
				d := pb.Entry + g
				sp.ptr(d+uint64(o.ucrAddr), pb.ucr[0], o.ptr)
				sp.ptr(d+uint64(o.ucrSize), pb.ucr[1], o.ptr)
				descs = append(descs, d+uint64(o.ucrSegEntry))
				ucrDescs = append(ucrDescs, d)
				ucrCount++
			}
		}
		// _HEAP_SEGMENT fields.
		a := s.base
		sp.u32(a+uint64(o.segSig), ntSegSignature)
		sp.ptr(a+uint64(o.segHeap), addr, o.ptr)
		sp.ptr(a+uint64(o.segBase), s.base, o.ptr)
		sp.u32(a+uint64(o.segPages), uint32((s.end-s.base)/heapPage))
		sp.ptr(a+uint64(o.segFirst), s.first, o.ptr)
		sp.ptr(a+uint64(o.segLast), s.end, o.ptr)
		var uc uint64
		for _, u := range s.ucrs {
			uc += u[1]
		}
		sp.u32(a+uint64(o.segUCPages), uint32(uc/heapPage))
		sp.u32(a+uint64(o.segUCRanges), uint32(len(s.ucrs)))
		sp.link(a+uint64(o.segUCRList), descs, o.ptr)
		segEntries[si] = a + uint64(o.segList)
		reserved += s.end - s.base
		committed += s.end - s.base - uc
		totalUCRs = append(totalUCRs, uint64(len(s.ucrs)))
		seg := PlacedSegment{Base: s.base, End: s.end, FirstEntry: s.first, CommittedBytes: s.end - s.base - uc}
		for _, u := range s.ucrs {
			seg.UCRs = append(seg.UCRs, [2]uint64{u[0], u[1]})
		}
		ph.Segments = append(ph.Segments, seg)
	}
	sp.link(addr+uint64(o.segListHead), segEntries, o.ptr)
	sp.link(addr+uint64(o.ucrList), ucrDescs, o.ptr)

	// FreeLists in ascending size order, then address.
	sort.SliceStable(frees, func(i, j int) bool { return frees[i].Size < frees[j].Size })
	var links []uint64
	for _, f := range frees {
		links = append(links, f.Entry+g)
		ph.FreeList = append(ph.FreeList, f.Entry)
	}
	sp.link(addr+uint64(o.freeLists), links, o.ptr)

	// BlocksIndex: a _HEAP_LIST_LOOKUP in the internal block after the header.
	biAddr := seg0.blocks[1].Entry + g
	sp.ptr(addr+uint64(o.blocksIndex), biAddr, o.ptr)
	sp.u32(biAddr+uint64(o.listLookupArraySize), 0x20)
	sp.u32(biAddr+uint64(o.listLookupItemCount), uint32(len(frees)))
	sp.ptr(biAddr+uint64(o.listLookupHead), addr+uint64(o.freeLists), o.ptr)
	sp.ptr(biAddr+uint64(o.listLookupInUse), biAddr+uint64(o.listLookupHints)+uint64(o.ptr), o.ptr)
	sp.ptr(biAddr+uint64(o.listLookupHints), biAddr+uint64(o.listLookupHints)+uint64(2*o.ptr), o.ptr)

	// Virtual blocks.
	var vbs []PlacedBlock
	var vaEntries []uint64
	var vaTotal uint64
	for _, req := range spec.Virtual {
		commit := alignUp(req+uint64(o.vaHeader), heapPage)
		va := sp.alloc(commit)
		r := sp.reserve(va, commit)
		r.commit = [][2]uint64{{va, va + commit}}
		sp.ptr(va+uint64(o.vaCommit), commit, o.ptr)
		sp.ptr(va+uint64(o.vaReserve), commit, o.ptr)
		slack := commit - req
		w.header(o, va+uint64(o.vaBusy), uint16(slack), 0x0b, 0, 0, 4, &key, encode)
		vaEntries = append(vaEntries, va)
		vaTotal += commit
		vbs = append(vbs, PlacedBlock{Entry: va + uint64(o.vaBusy), User: va + uint64(o.vaHeader), Size: commit, Granules: commit / g,
			UserSize: req, Unused: slack, Flags: 0x0b, Busy: true, Kind: VirtualBlock, Heap: addr, Segment: va, RequestedFromCaller: true})
	}
	sp.link(addr+uint64(o.vab), vaEntries, o.ptr)

	// _HEAP body.
	sp.u32(addr+uint64(o.flags), flags)
	sp.u32(addr+uint64(o.force), spec.ForceFlags)
	if encode {
		sp.u32(addr+uint64(o.efm), encodeFlag)
		copy(sp.at(addr+uint64(o.encoding)+uint64(o.hdr), 8), key[:])
	}
	if bits == 64 {
		sp.u32(addr+uint64(o.vmThreshold), 0xff00)
		sp.u64(addr+uint64(o.maxAlloc), 0x7ffffffdefff)
		sp.u64(addr+uint64(o.alignRound), 0x2f)
		sp.u64(addr+uint64(o.alignMask), 0xfffffffffffffff0)
	} else {
		sp.u32(addr+uint64(o.vmThreshold), 0xfe00)
		sp.u32(addr+uint64(o.maxAlloc), 0x7ffdefff)
		sp.u32(addr+uint64(o.alignRound), 0x17)
		sp.u32(addr+uint64(o.alignMask), 0xfffffff8)
	}
	sp.u32(addr+uint64(o.signature), ntHeapSignature)
	sp.ptr(addr+uint64(o.segReserve), 0x100000, o.ptr)
	sp.ptr(addr+uint64(o.segCommit), 0x2000, o.ptr)
	sp.ptr(addr+uint64(o.dcFree), 0x800, o.ptr)
	sp.ptr(addr+uint64(o.dcTotal), 0x2000, o.ptr)
	sp.ptr(addr+uint64(o.totalFree), totalFree, o.ptr)
	sp.u16(addr+uint64(o.phlIndex), uint16(index+1))
	lockAddr := addr + alignUp(uint64(o.heapSize), 16)
	sp.ptr(addr+uint64(o.lock), lockAddr, o.ptr)
	sp.ptr(addr+uint64(o.commitRoutine), 0x07ce91e558906ea0&uint64(1<<(o.ptr*8-1)-1), o.ptr)
	c := addr + uint64(o.counters)
	sp.ptr(c+uint64(o.ctrReserved), reserved, o.ptr)
	sp.ptr(c+uint64(o.ctrCommitted), committed, o.ptr)
	sp.ptr(c+uint64(o.ctrVirtual), vaTotal, o.ptr)
	sp.u32(c+uint64(o.ctrSegments), uint32(len(segs)))
	sp.u32(c+uint64(o.ctrUCRs), uint32(ucrCount))
	sp.u32(c+uint64(o.ctrLockCollisions), spec.LockCollisions)

	// LFH structures.
	var lfhBlocks [][]PlacedBlock
	if lfhAddr != 0 {
		sp.ptr(addr+uint64(o.frontEnd), lfhAddr, o.ptr)
		sp.u8(addr+uint64(o.feType), 2)
		sp.ptr(lfhAddr+uint64(o.lfhHeap), addr, o.ptr)
		sp.link(lfhAddr+uint64(o.lfhZones), []uint64{zone}, o.ptr)
		if o.zoneNext >= 0 {
			sp.u32(zone+uint64(o.zoneNext), uint32(len(subs)))
		} else {
			sp.ptr(zone+uint64(o.zoneFree), zone+uint64(o.zoneHeader)+uint64(len(subs)*o.subSize), o.ptr)
			sp.ptr(zone+uint64(o.zoneLimit), lfhAddr+0x10000, o.ptr)
		}
		lfhBlocks = make([][]PlacedBlock, len(spec.LFH))
		for _, pb := range seg0.blocks {
			if pb.lfh < 0 || pb.lfh >= len(ubs) {
				continue
			}
			i := pb.lfh
			lfhBlocks[i] = w.subsegment(o, addr, lfhAddr, subs[i], pb.Entry+g, i, ubs[i].first, ubs[i].stride, ubs[i].count, spec.LFH[i], &ph)
		}
		ph.LFH, ph.Subsegments = lfhAddr, subs
	}
	ph.TotalFreeSize = totalFree

	// Truth: per segment, header then blocks with chunks after their
	// container; then virtual blocks.
	nb := len(vbs)
	for _, s := range segs {
		nb += len(s.blocks)
	}
	for _, l := range lfhBlocks {
		nb += len(l)
	}
	ph.Blocks = make([]PlacedBlock, 0, nb)
	for _, s := range segs {
		var lost uint64 // the rest of a run after a dropped page holding a header
		for _, pb := range s.blocks {
			blk := pb.PlacedBlock
			page := blk.Entry + uint64(o.hdr)
			if lost != 0 && blk.Entry < lost {
				blk.Dropped = true
			} else if drop[page&^(heapPage-1)] || drop[(page+7)&^(heapPage-1)] {
				blk.Dropped = true
				for _, run := range s.runs {
					if blk.Entry >= run[0] && blk.Entry < run[1] {
						lost = run[1]
						ph.Dropped = append(ph.Dropped, [2]uint64{blk.Entry, run[1] - blk.Entry})
					}
				}
			}
			ph.Blocks = append(ph.Blocks, blk)
			if pb.lfh >= 0 && pb.lfh < len(lfhBlocks) {
				for _, cb := range lfhBlocks[pb.lfh] {
					cb.Dropped = blk.Dropped
					ph.Blocks = append(ph.Blocks, cb)
				}
			}
		}
	}
	ph.Blocks = append(ph.Blocks, vbs...)
	return ph
}

// subsegment writes one LFH subsegment: the _HEAP_SUBSEGMENT, the UserBlocks
// header and every chunk header, and returns the chunks placed.
func (w *heapWriter) subsegment(o *ntOff, heap, lfh, sub, ub uint64, sizeIndex int, first, stride uint64, count int, spec LFHSubsegment, ph *PlacedHeap) []PlacedBlock {
	sp := w.sp
	g := o.gran
	free := 0
	for _, r := range spec.Requested {
		if r == 0 {
			free++
		}
	}
	sp.ptr(sub+uint64(o.subUB), ub, o.ptr)
	sp.u16(sub+uint64(o.subDepth), uint16(free))
	sp.u16(sub+uint64(o.subBlockSize), spec.BlockUnits)
	sp.u16(sub+uint64(o.subBlockCount), uint16(count))
	sp.u8(sub+uint64(o.subSizeIndex), uint8(sizeIndex))
	sp.ptr(ub+uint64(o.ubSub), sub, o.ptr)
	sp.u8(ub+uint64(o.ubSizeIndex), uint8(sizeIndex))
	sp.u32(ub+uint64(o.ubSig), ubSignature)
	if o.ubEnc >= 0 {
		sp.u32(ub+uint64(o.ubEnc), uint32(first|stride<<16)^uint32(ub)^uint32(lfh)^w.key)
		sp.ptr(ub+uint64(o.ubBitmapSize), uint64(count), o.ptr)
		sp.ptr(ub+uint64(o.ubBitmapBuf), ub+uint64(o.ubBitmapData), o.ptr)
	}
	var out []PlacedBlock
	var freeOffs []uint64
	for i, req := range spec.Requested {
		c := ub + first + uint64(i)*stride
		off := c - ub
		busy := req != 0
		unused := stride - req
		if busy && (req+g > stride || unused > 0x3e) {
			sp.fail(fmt.Errorf("dumpbuild: LFH chunk request %#x does not fit %#x-byte chunks with fewer than 0x3f unused bytes", req, stride))
			return nil
		}
		ub8 := uint8(0x80)
		if busy {
			ub8 |= uint8(unused)
		}
		if o.ubEnc >= 0 {
			code := uint32(off>>o.chunkShift)<<16 ^ uint32(heap) ^ w.key ^ uint32(c>>o.chunkShift)
			sp.u32(c+uint64(o.chunkCode), code)
			if o.chunkIndex >= 0 {
				sp.u16(c+uint64(o.chunkIndex), uint16(i))
			}
			if busy {
				bm := ub + uint64(o.ubBitmapData) + uint64(i/8)
				sp.u8(bm, sp.at(bm, 1)[0]|1<<(i%8))
			}
		} else {
			sp.u32(c+uint64(o.chunkCode), uint32(sub)^uint32(heap)^w.key^uint32(c>>o.chunkShift))
			if !busy {
				freeOffs = append(freeOffs, off/g)
			}
		}
		sp.u8(c+uint64(o.chunkUnused), ub8)
		pb := PlacedBlock{Entry: c, User: c + g, Size: stride, Granules: uint64(spec.BlockUnits), Kind: LFHBlock, Heap: heap, Segment: sub, UserBlocks: ub, Index: i}
		if busy {
			pb.Busy, pb.Flags, pb.UserSize, pb.Unused, pb.RequestedFromCaller = true, 1, req, unused, true
		} else {
			pb.UserSize, pb.Unused = stride-g, g
		}
		out = append(out, pb)
	}
	if o.subFreeOff >= 0 {
		// Windows 7: the free chunks chain through their first user word.
		head := uint64(0xffff)
		if len(freeOffs) > 0 {
			head = freeOffs[0]
		}
		sp.u16(sub+uint64(o.subFreeOff), uint16(head))
		for k, f := range freeOffs {
			next := uint64(0xffff)
			if k+1 < len(freeOffs) {
				next = freeOffs[k+1]
			}
			sp.u16(ub+f*g+g, uint16(next))
		}
	}
	return out
}

// segmentHeap writes a minimal segment heap: the _SEGMENT_HEAP signature,
// flags, list index, large-allocation counters, and two SegContexts that
// point back at the heap, the first listing one page segment (nt-heap.md
// §4.3; SegContexts at 0x100, or 0x140 on Windows 11 x64).
func (w *heapWriter) segmentHeap(a uint64, bits, index int) PlacedHeap {
	sp := w.sp
	if a == 0 {
		a = sp.alloc(0x10000)
	}
	r := sp.reserve(a, 0x10000)
	r.commit = [][2]uint64{{a, a + 0x2000}}
	seg := sp.alloc(0x10000)
	sr := sp.reserve(seg, 0x10000)
	sr.commit = [][2]uint64{{seg, seg + heapPage}}
	sig, flags, idx, ctx, ctxSize, ctxHeap, listHead, ptr := uint64(0x10), uint64(0x14), uint64(0x1c), uint64(0x100), uint64(0xc0), uint64(0x38), uint64(0x48), 8
	large := uint64(0x58)
	if bits == 64 && (w.fam == famGE || w.build >= 22000) {
		ctx = 0x140
	}
	if bits == 32 {
		sig, flags, idx, ctx, ctxSize, ctxHeap, listHead, ptr, large = 0x08, 0x0c, 0x14, 0x100, 0x80, 0x24, 0x44, 4, 0x4c
	}
	sp.u32(a+sig, segHeapSignature)
	sp.u32(a+flags, 0x2)
	sp.u16(a+idx, uint16(index+1))
	sp.ptr(a+large, 4, ptr)
	sp.ptr(a+large+uint64(ptr), 2, ptr)
	for i := uint64(0); i < 2; i++ {
		c := a + ctx + i*ctxSize
		sp.ptr(c, ^uint64(0x100000-1), ptr)
		sp.ptr(c+ctxHeap, a, ptr)
		var segs []uint64
		if i == 0 {
			segs = []uint64{seg}
		}
		sp.link(c+listHead, segs, ptr)
	}
	return PlacedHeap{Address: a, Bits: bits, Segment: true, PageSegments: []uint64{seg}}
}
