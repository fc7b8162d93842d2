// Package heap reads the Windows user-mode heaps of a process from a
// minidump, without ntdll symbols: NT heaps (back end, virtual blocks, LFH)
// of Windows 7 SP1 through Windows 11 24H2 on x86, x64 and WOW64, and the
// segment heap as far as nt-heap.md §4 documents it.
//
// Everything starts from Open, which finds the heaps through TEB → PEB →
// ProcessHeaps, picks the _HEAP layout family by build and confirms it with
// signature and pointer checks. Heap.Walk streams blocks in address order
// per segment; Process.Find locates the block holding an address. What
// cannot be read (a checksum failure, pages missing from the dump, a list
// cycle) is reported as a Problem and the walk goes on.
//
// Structure offsets live in one Layout per (family, bitness); see layout.go.
package heap

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"wdb/dump"
)

// Signatures (nt-heap.md §1.1, §2.1, §3.1, §4.2).
const (
	SegmentSignature     = 0xffeeffee // _HEAP_SEGMENT.SegmentSignature, at H+0x10 / H+0x08
	HeapSignature        = 0xeeffeeff // _HEAP.Signature
	SegmentHeapSignature = 0xddeeddee // _SEGMENT_HEAP.Signature
	UserBlocksSignature  = 0xf0e0d0c0 // _HEAP_USERDATA_HEADER.Signature
)

const pageSize = 0x1000

// Limits that keep a corrupt dump from making a walk run away.
const (
	maxSegments      = 4096
	maxUCRs          = 1 << 20
	maxVirtualBlocks = 1 << 20
	maxHeaps         = 4096
)

// Process is the set of heaps of one process (or, for WOW64, of one of its
// two bitnesses).
type Process struct {
	File  *dump.File
	Bits  int    // 32 or 64: the PEB and heap bitness
	PEB   uint64 // the PEB the heaps were read from
	Build uint32 // the Windows build used to choose layouts
	// Family is the layout family the build implies; a heap whose probe
	// disagrees records its own in Heap.Layout.
	Family       Family
	NtGlobalFlag uint32
	Heaps        []*Heap
	// Problems lists what could not be read while finding the heaps.
	Problems []Problem

	findOnce sync.Once
	index    *index

	keyMu    sync.Mutex
	lfhKey   uint32
	keyOK    bool
	keyTried bool

	segKeyOnce sync.Once
	segKey     *segKeys // RtlpHpHeapGlobals keys of the segment heaps (segheap_keys.go)
}

// HeapKind is what a ProcessHeaps entry points at.
type HeapKind uint8

const (
	UnknownHeap HeapKind = iota // unreadable, or neither signature
	NTHeap                      // 0xFFEEFFEE at H+0x10 / H+0x08
	SegmentHeap                 // 0xDDEEDDEE at H+0x10 / H+0x08
)

var heapKindNames = [...]string{"Unknown Heap", "NT Heap", "Segment Heap"}

func (k HeapKind) String() string {
	if int(k) < len(heapKindNames) {
		return heapKindNames[k]
	}
	return fmt.Sprintf("HeapKind(%d)", k)
}

// Counters is _HEAP_COUNTERS, what !heap -s reads.
type Counters struct {
	TotalMemoryReserved      uint64
	TotalMemoryCommitted     uint64
	TotalMemoryLargeUCR      uint64
	TotalSizeInVirtualBlocks uint64
	TotalSegments            uint32
	TotalUCRs                uint32
	CommitOps, DecommitOps   uint32
	LockAcquires             uint32
	LockCollisions           uint32
}

// Range is a span of addresses.
type Range struct{ Addr, Size uint64 }

// End is one past the last byte.
func (r Range) End() uint64 { return r.Addr + r.Size }

// Segment is a _HEAP_SEGMENT. Segment 0 is the _HEAP itself.
type Segment struct {
	Index            int
	Address          uint64 // where the _HEAP_SEGMENT is
	BaseAddress      uint64
	NumberOfPages    uint64 // reserved 4 KiB pages
	FirstEntry       uint64
	LastValidEntry   uint64
	UncommittedPages uint64
	// UncommittedRangeCount is NumberOfUnCommittedRanges as recorded; UCRs
	// the descriptors found on UCRSegmentList, sorted by address.
	UncommittedRangeCount uint64
	Flags                 uint32
	UCRs                  []Range
}

// End is the end of the segment's reservation.
func (s *Segment) End() uint64 { return s.BaseAddress + s.NumberOfPages*pageSize }

// Reserved is the size of the reservation in bytes.
func (s *Segment) Reserved() uint64 { return s.NumberOfPages * pageSize }

// Committed is the committed part in bytes, as the segment counts it.
func (s *Segment) Committed() uint64 {
	if s.UncommittedPages > s.NumberOfPages {
		return 0
	}
	return (s.NumberOfPages - s.UncommittedPages) * pageSize
}

// LargestUCR is the size of the largest uncommitted range.
func (s *Segment) LargestUCR() uint64 {
	var m uint64
	for _, u := range s.UCRs {
		m = max(m, u.Size)
	}
	return m
}

// Contains reports whether addr is inside the segment's reservation.
func (s *Segment) Contains(addr uint64) bool { return addr >= s.BaseAddress && addr < s.End() }

// VirtualBlock is a _HEAP_VIRTUAL_ALLOC_ENTRY: a big block with its own
// VirtualAlloc region.
type VirtualBlock struct {
	Address     uint64 // the entry, at the start of the region
	CommitSize  uint64
	ReserveSize uint64
	Block       Block // valid when OK
	OK          bool  // the BusyBlock header decoded
}

// Heap is one entry of PEB.ProcessHeaps.
type Heap struct {
	Address uint64
	Index   int // 1-based position in ProcessHeaps
	Kind    HeapKind
	Layout  *Layout // nil unless Kind is NTHeap

	Flags, ForceFlags, CompatibilityFlags  uint32
	EncodeFlagMask                         uint32
	Encoding                               [8]byte // the header key
	VirtualMemoryThreshold                 uint64  // granules
	SegmentReserve, SegmentCommit          uint64
	DeCommitFreeBlockThreshold             uint64
	DeCommitTotalFreeThreshold             uint64
	TotalFreeSize                          uint64 // granules
	MaximumAllocationSize                  uint64
	ProcessHeapsListIndex                  uint16
	NextAvailableTagIndex, MaximumTagIndex uint16
	TagEntries, PseudoTagEntries           uint64
	AlignRound, AlignMask                  uint64
	BlocksIndex, UCRIndex, LockVariable    uint64
	// Addresses of the list heads inside the _HEAP.
	UCRList, VirtualAllocdBlocks, SegmentList, FreeLists uint64
	FrontEndHeap                                         uint64
	FrontEndHeapType                                     uint8 // 2 = LFH
	Counters                                             Counters

	Segments      []Segment
	VirtualBlocks []VirtualBlock
	// Problems lists what could not be read in the heap's header and lists
	// (walk problems come from Walk).
	Problems []Problem

	// Seg describes a segment heap (Kind SegmentHeap).
	Seg *SegmentHeapInfo

	p *Process
}

// HasLFH reports whether the low-fragmentation front end is active.
func (h *Heap) HasLFH() bool { return h.FrontEndHeapType == 2 && h.FrontEndHeap != 0 }

// Granularity is the block unit: 8 bytes on x86, 16 on x64.
func (h *Heap) Granularity() uint64 {
	if h.Layout != nil {
		return h.Layout.Gran
	}
	if h.p != nil && h.p.Bits == 32 {
		return 8
	}
	return 16
}

// Process is the process the heap belongs to.
func (h *Heap) Process() *Process { return h.p }

// ReservedBytes is Σ segment reservations plus virtual block reservations.
func (h *Heap) ReservedBytes() uint64 {
	var n uint64
	for i := range h.Segments {
		n += h.Segments[i].Reserved()
	}
	for _, v := range h.VirtualBlocks {
		n += v.ReserveSize
	}
	return n
}

// CommittedBytes is Σ segment committed bytes plus virtual block commits.
func (h *Heap) CommittedBytes() uint64 {
	var n uint64
	for i := range h.Segments {
		n += h.Segments[i].Committed()
	}
	for _, v := range h.VirtualBlocks {
		n += v.CommitSize
	}
	return n
}

// UCRCount is the number of uncommitted-range descriptors of all segments.
func (h *Heap) UCRCount() int {
	n := 0
	for i := range h.Segments {
		n += len(h.Segments[i].UCRs)
	}
	return n
}

// SegmentOf returns the segment whose reservation holds addr.
func (h *Heap) SegmentOf(addr uint64) *Segment {
	for i := range h.Segments {
		if h.Segments[i].Contains(addr) {
			return &h.Segments[i]
		}
	}
	return nil
}

// Open finds the heaps of the process in f. bits selects the PEB: 64 or 32
// (the 32-bit PEB of a WOW64 process), or 0 for the dump's native bitness
// (64 for a WOW64 process dumped by a 64-bit writer; open it twice for
// both heap sets). ARM64 dumps are read with the x64 layouts, unverified.
// A heap that cannot be read is kept with Kind UnknownHeap and its
// Problems; only a PEB or heap list that cannot be read at all is an error
// (the Process is then still returned with what is known).
func Open(f *dump.File, bits int) (*Process, error) {
	native := f.PointerSize() * 8
	if native != 32 && native != 64 {
		return nil, fmt.Errorf("heap: unsupported architecture %v", f.Arch())
	}
	if bits == 0 {
		bits = native
	}
	p := &Process{File: f, Bits: bits}
	var err error
	switch {
	case bits == native:
		p.PEB, err = f.PEB()
	case bits == 32 && native == 64:
		if !f.IsWow64() {
			return nil, errors.New("heap: no 32-bit heaps: the process is not a WOW64 process")
		}
		p.PEB, err = f.PEB32()
	default:
		return nil, fmt.Errorf("heap: a %d-bit dump has no %d-bit heaps", native, bits)
	}
	if err != nil {
		return nil, fmt.Errorf("heap: %w", err)
	}
	dl := &dump.Layout64
	if bits == 32 {
		dl = &dump.Layout32
	}
	p.Build = p.build(dl)
	p.Family = FamilyForBuild(p.Build)
	if v, err := f.ReadUint(p.PEB+uint64(dl.PEBNtGlobalFlag), 4); err == nil {
		p.NtGlobalFlag = uint32(v)
	}
	handles, err := f.ProcessHeaps(p.PEB, dl)
	if err != nil {
		p.Problems = append(p.Problems, Problem{Kind: NotCaptured, Addr: p.PEB, What: err.Error()})
		if len(handles) == 0 {
			return p, fmt.Errorf("heap: %w", err)
		}
	}
	if len(handles) > maxHeaps {
		handles = handles[:maxHeaps]
	}
	r := newReader(f)
	for i, a := range handles {
		h := &Heap{Address: a, Index: i + 1, p: p}
		p.Heaps = append(p.Heaps, h)
		p.readHeap(r, h)
	}
	return p, nil
}

// build picks the Windows build: the ntdll of the right bitness (SysWOW64
// for 32-bit heaps of a WOW64 process), else the system information, else
// PEB.OSBuildNumber.
func (p *Process) build(dl *dump.Layout) uint32 {
	f := p.File
	wow := p.Bits == 32 && f.PointerSize() == 8
	for i := range f.Modules {
		m := &f.Modules[i]
		if !strings.EqualFold(m.BaseName(), "ntdll.dll") || m.Version.FileVersionMS == 0 {
			continue
		}
		if strings.Contains(strings.ToLower(m.Name), "syswow64") != wow {
			continue
		}
		if b := m.Version.FileVersionLS >> 16; b != 0 {
			return b
		}
	}
	if f.System != nil && f.System.BuildNumber != 0 {
		return f.System.BuildNumber
	}
	if v, err := f.ReadUint(p.PEB+uint64(dl.PEBOSBuild), 2); err == nil {
		return uint32(v)
	}
	return 0
}

// readHeap classifies the handle and reads an NT heap's header, segments,
// uncommitted ranges and virtual blocks.
func (p *Process) readHeap(r *reader, h *Heap) {
	sigOff := uint64(0x10)
	if p.Bits == 32 {
		sigOff = 0x08
	}
	sig, ok := r.u32(h.Address + sigOff)
	if !ok {
		h.problem(NotCaptured, 0, h.Address, 0, "heap header "+r.missingWhy(h.Address+sigOff))
		return
	}
	switch sig {
	case SegmentSignature:
		h.Kind = NTHeap
	case SegmentHeapSignature:
		h.Kind = SegmentHeap
		p.readSegmentHeap(r, h)
		return
	default:
		h.problem(BadHeader, 0, h.Address, 0, fmt.Sprintf("signature %#08x is neither an NT heap's nor a segment heap's", sig))
		return
	}
	h.Layout = p.chooseLayout(r, h.Address)
	p.readNTHeader(r, h)
	h.readSegments(r)
	h.readVirtualBlocks(r)
}

// candidates lists the families to try for a build, the build's own first,
// then its neighbours outward.
func candidates(fam Family) []Family {
	if fam == FamilyUnknown {
		return []Family{FamilyRS5, FamilyW10, FamilyGE, FamilyW8, FamilyW7}
	}
	out := []Family{fam}
	for d := 1; d <= int(FamilyGE); d++ {
		for _, f := range []Family{fam - Family(d), fam + Family(d)} {
			if f >= FamilyW7 && f <= FamilyGE {
				out = append(out, f)
			}
		}
	}
	return out
}

// chooseLayout probes the heap with each candidate layout (nt-heap.md
// §1.4): _HEAP.Signature must hold, FrontEndHeapType must be 0–2, an LFH
// must point back at the heap, SegmentList must close on the heap, and the
// segment and reservation counters should agree with the segment list. The
// build's own family wins ties.
func (p *Process) chooseLayout(r *reader, a uint64) *Layout {
	best, bestScore := LayoutFor(p.Family, p.Bits), -1
	if best == nil {
		best = LayoutFor(FamilyRS5, p.Bits)
	}
	for _, fam := range candidates(p.Family) {
		l := LayoutFor(fam, p.Bits)
		if s := probe(r, a, l); s > bestScore {
			best, bestScore = l, s
		}
	}
	return best
}

// probe scores how well layout l fits the heap at a; below zero it does not.
func probe(r *reader, a uint64, l *Layout) int {
	sig, ok := r.u32(a + uint64(l.HeapSignature))
	if !ok || sig != HeapSignature {
		return -1
	}
	score := 0
	fe, _ := r.u8(a + uint64(l.HeapFrontEndHeapType))
	if fe > 2 {
		return -1
	}
	if fe == 2 {
		lfh, _ := r.ptr(a+uint64(l.HeapFrontEndHeap), l.Ptr)
		back, ok := r.ptr(lfh+uint64(l.LFHHeap), l.Ptr)
		if ok && back == a {
			score += 4
		} else if ok {
			return -1
		}
	}
	head := a + uint64(l.HeapSegmentList)
	n, found := 0, false
	at := head
	link, ok := r.ptr(at, l.Ptr)
	for ok && link != head && n < 64 {
		if link == a+uint64(l.SegListEntry) {
			found = true
		}
		n++
		at = link
		link, ok = r.ptr(at, l.Ptr)
	}
	if !ok || !found {
		return -1
	}
	ctr := a + uint64(l.HeapCounters)
	if segs, ok := r.u32(ctr + uint64(l.CtrSegments)); ok && int(segs) == n {
		score += 2
	}
	if res, ok := r.ptr(ctr+uint64(l.CtrReserved), l.Ptr); ok && res != 0 && res%pageSize == 0 {
		score++
	}
	if ucrs, ok := r.u32(ctr + uint64(l.CtrUCRs)); ok && ucrs < maxUCRs {
		score++
	}
	return score
}

func (p *Process) readNTHeader(r *reader, h *Heap) {
	l, a := h.Layout, h.Address
	u32 := func(off int) uint32 { v, _ := r.u32(a + uint64(off)); return v }
	u16 := func(off int) uint16 { v, _ := r.u16(a + uint64(off)); return v }
	ptr := func(off int) uint64 { v, _ := r.ptr(a+uint64(off), l.Ptr); return v }
	if sig, ok := r.u32(a + uint64(l.HeapSignature)); !ok || sig != HeapSignature {
		h.problem(BadHeader, a, a+uint64(l.HeapSignature), 0, fmt.Sprintf("_HEAP.Signature is %#08x, want %#08x (%s layout)", sig, HeapSignature, l.Name()))
	}
	h.Flags, h.ForceFlags, h.CompatibilityFlags = u32(l.HeapFlags), u32(l.HeapForceFlags), u32(l.HeapCompatibilityFlags)
	h.EncodeFlagMask = u32(l.HeapEncodeFlagMask)
	if b := r.bytes(a+uint64(l.HeapEncoding), 8); b != nil {
		copy(h.Encoding[:], b)
	}
	h.VirtualMemoryThreshold = uint64(u32(l.HeapVirtualMemoryThreshold))
	h.SegmentReserve, h.SegmentCommit = ptr(l.HeapSegmentReserve), ptr(l.HeapSegmentCommit)
	h.DeCommitFreeBlockThreshold, h.DeCommitTotalFreeThreshold = ptr(l.HeapDeCommitFreeBlockThreshold), ptr(l.HeapDeCommitTotalFreeThreshold)
	h.TotalFreeSize, h.MaximumAllocationSize = ptr(l.HeapTotalFreeSize), ptr(l.HeapMaximumAllocationSize)
	h.ProcessHeapsListIndex = u16(l.HeapProcessHeapsListIndex)
	h.NextAvailableTagIndex, h.MaximumTagIndex = u16(l.HeapNextAvailableTagIndex), u16(l.HeapMaximumTagIndex)
	h.TagEntries, h.PseudoTagEntries = ptr(l.HeapTagEntries), ptr(l.HeapPseudoTagEntries)
	h.AlignRound, h.AlignMask = ptr(l.HeapAlignRound), ptr(l.HeapAlignMask)
	h.BlocksIndex, h.UCRIndex = ptr(l.HeapBlocksIndex), ptr(l.HeapUCRIndex)
	h.LockVariable = ptr(l.HeapLockVariable)
	h.UCRList = a + uint64(l.HeapUCRList)
	h.VirtualAllocdBlocks = a + uint64(l.HeapVirtualAllocdBlocks)
	h.SegmentList = a + uint64(l.HeapSegmentList)
	h.FreeLists = a + uint64(l.HeapFreeLists)
	h.FrontEndHeap = ptr(l.HeapFrontEndHeap)
	fe, _ := r.u8(a + uint64(l.HeapFrontEndHeapType))
	h.FrontEndHeapType = fe
	c := l.HeapCounters
	h.Counters = Counters{
		TotalMemoryReserved:      ptr(c + l.CtrReserved),
		TotalMemoryCommitted:     ptr(c + l.CtrCommitted),
		TotalMemoryLargeUCR:      ptr(c + l.CtrLargeUCR),
		TotalSizeInVirtualBlocks: ptr(c + l.CtrVirtualBlocks),
		TotalSegments:            u32(c + l.CtrSegments),
		TotalUCRs:                u32(c + l.CtrUCRs),
		CommitOps:                u32(c + l.CtrCommitOps),
		DecommitOps:              u32(c + l.CtrDecommitOps),
		LockAcquires:             u32(c + l.CtrLockAcquires),
		LockCollisions:           u32(c + l.CtrLockCollisions),
	}
}

// readSegments follows _HEAP.SegmentList and each segment's UCRSegmentList.
func (h *Heap) readSegments(r *reader) {
	l := h.Layout
	ucrBudget := maxUCRs
	head := h.SegmentList
	seen := map[uint64]bool{}
	at := head
	link, ok := r.ptr(at, l.Ptr)
	for ok && link != head {
		if seen[link] || len(h.Segments) >= maxSegments {
			h.problem(BadList, 0, link, 0, "_HEAP.SegmentList has a cycle")
			break
		}
		seen[link] = true
		sa := link - uint64(l.SegListEntry)
		seg, sok := h.readSegment(r, sa, &ucrBudget)
		if !sok {
			break
		}
		seg.Index = len(h.Segments)
		h.Segments = append(h.Segments, seg)
		at = link
		link, ok = r.ptr(at, l.Ptr)
	}
	if !ok {
		h.problem(NotCaptured, 0, at, 0, fmt.Sprintf("_HEAP.SegmentList link at %#x %s", at, r.missingWhy(at)))
	}
	// Segment 0 first, the rest by address, as !heap lists them.
	sortSegments(h.Segments, h.Address)
	for i := range h.Segments {
		h.Segments[i].Index = i
	}
}

func sortSegments(s []Segment, heap uint64) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && segLess(&s[j], &s[j-1], heap); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func segLess(a, b *Segment, heap uint64) bool {
	if (a.Address == heap) != (b.Address == heap) {
		return a.Address == heap
	}
	return a.BaseAddress < b.BaseAddress
}

// readSegment reads the _HEAP_SEGMENT at sa and its UCR descriptors; budget
// bounds the descriptors of the whole heap.
func (h *Heap) readSegment(r *reader, sa uint64, budget *int) (Segment, bool) {
	l := h.Layout
	if sig, ok := r.u32(sa + uint64(l.SegSignature)); !ok {
		h.problem(NotCaptured, sa, sa, 0, "segment header "+r.missingWhy(sa+uint64(l.SegSignature)))
		return Segment{}, false
	} else if sig != SegmentSignature {
		h.problem(BadList, sa, sa, 0, fmt.Sprintf("segment signature %#08x, want %#08x", sig, SegmentSignature))
		return Segment{}, false
	}
	ptr := func(off int) uint64 { v, _ := r.ptr(sa+uint64(off), l.Ptr); return v }
	u32 := func(off int) uint64 { v, _ := r.u32(sa + uint64(off)); return uint64(v) }
	s := Segment{
		Address:               sa,
		BaseAddress:           ptr(l.SegBaseAddress),
		NumberOfPages:         u32(l.SegNumberOfPages),
		FirstEntry:            ptr(l.SegFirstEntry),
		LastValidEntry:        ptr(l.SegLastValidEntry),
		UncommittedPages:      u32(l.SegUncommittedPages),
		UncommittedRangeCount: u32(l.SegUncommittedRanges),
		Flags:                 uint32(u32(l.SegFlags)),
	}
	if owner := ptr(l.SegHeap); owner != h.Address {
		h.problem(BadHeader, sa, sa+uint64(l.SegHeap), 0, fmt.Sprintf("segment names heap %#x as its owner", owner))
	}
	if s.BaseAddress > sa || s.FirstEntry <= sa || s.LastValidEntry <= s.FirstEntry || s.LastValidEntry > s.End() && s.NumberOfPages != 0 {
		h.problem(BadHeader, sa, sa, 0, fmt.Sprintf("segment bounds base %#x first %#x last %#x pages %#x are inconsistent", s.BaseAddress, s.FirstEntry, s.LastValidEntry, s.NumberOfPages))
	}
	// UCR descriptors, through their SegmentEntry links.
	head := sa + uint64(l.SegUCRList)
	seen := map[uint64]bool{}
	at := head
	link, ok := r.ptr(at, l.Ptr)
	for ok && link != head {
		if seen[link] || uint64(len(s.UCRs)) > s.NumberOfPages || *budget <= 0 {
			h.problem(BadList, sa, link, 0, "UCRSegmentList has a cycle or more entries than the segment has pages")
			break
		}
		*budget--
		seen[link] = true
		d := link - uint64(l.UCRSegmentEntry)
		addr, ok1 := r.ptr(d+uint64(l.UCRAddress), l.Ptr)
		size, ok2 := r.ptr(d+uint64(l.UCRSize), l.Ptr)
		if !ok1 || !ok2 {
			h.problem(NotCaptured, sa, d, 0, "UCR descriptor "+r.missingWhy(d))
			break
		}
		if addr < s.FirstEntry || addr+size < addr || addr+size > max(s.LastValidEntry, s.End()) {
			h.problem(BadList, sa, d, 0, fmt.Sprintf("UCR descriptor range %#x+%#x lies outside its segment", addr, size))
		} else {
			s.UCRs = append(s.UCRs, Range{addr, size})
		}
		at = link
		link, ok = r.ptr(at, l.Ptr)
	}
	if !ok {
		h.problem(NotCaptured, sa, at, 0, fmt.Sprintf("UCRSegmentList link at %#x %s", at, r.missingWhy(at)))
	}
	sortRanges(s.UCRs)
	// Overlapping descriptors cannot both be right; keep the first.
	out := s.UCRs[:0]
	for _, u := range s.UCRs {
		if len(out) > 0 && u.Addr < out[len(out)-1].End() {
			h.problem(BadList, sa, u.Addr, 0, fmt.Sprintf("UCR %#x+%#x overlaps the previous one", u.Addr, u.Size))
			continue
		}
		out = append(out, u)
	}
	s.UCRs = out
	return s, true
}

func sortRanges(rs []Range) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Addr < rs[j-1].Addr; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func (h *Heap) problem(k ProblemKind, seg, addr, skipped uint64, what string) {
	h.Problems = append(h.Problems, Problem{Kind: k, Heap: h.Address, Segment: seg, Addr: addr, Skipped: skipped, What: what})
}

// PageHeap reports whether NtGlobalFlag enables the page heap (+hpa):
// ProcessHeaps then holds page-heap handles whose blocks live in
// _DPH_HEAP_ROOT structures this package does not walk (nt-heap.md §5.8).
func (p *Process) PageHeap() bool { return p.NtGlobalFlag&0x02000000 != 0 }

// Heap returns the heap with handle a.
func (p *Process) Heap(a uint64) *Heap {
	for _, h := range p.Heaps {
		if h.Address == a {
			return h
		}
	}
	return nil
}
