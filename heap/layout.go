package heap

import "fmt"

// Family is a group of Windows builds whose ntdll heap structures have the
// same field offsets (nt-heap.md §1.4). The walker never hard-codes an
// offset: it reads them from the Layout of the heap's family and bitness.
type Family int

// The layout families, oldest first. FamilyGE has the same walker offsets as
// FamilyRS5 and is kept apart because its segment heap and commit-limit data
// differ and because reports should name the build family that was assumed.
const (
	FamilyUnknown Family = iota
	FamilyW7             // Windows 7 SP1 (7600–7601)
	FamilyW8             // Windows 8 and 8.1 (9200–9600)
	FamilyW10            // Windows 10 1507 through 1803 (10240–17134)
	FamilyRS5            // Windows 10 1809 through Windows 11 23H2 (17763–22631)
	FamilyGE             // Windows 11 24H2 and later (26100+)
)

var familyNames = [...]string{"unknown", "Windows 7", "Windows 8/8.1", "Windows 10 before 1809", "Windows 10 1809 to 11 23H2", "Windows 11 24H2"}

func (f Family) String() string {
	if int(f) >= 0 && int(f) < len(familyNames) {
		return familyNames[f]
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// FamilyForBuild maps a Windows build number to its layout family. Builds
// between known releases map to the family of the next older release.
func FamilyForBuild(build uint32) Family {
	switch {
	case build == 0:
		return FamilyUnknown
	case build < 9200:
		return FamilyW7
	case build < 10240:
		return FamilyW8
	case build < 17763:
		return FamilyW10
	case build < 26100:
		return FamilyRS5
	}
	return FamilyGE
}

// Layout holds every structure offset the walker uses for one (family,
// bitness) pair. Offsets are from the start of the named structure; -1
// means the field does not exist in that family.
type Layout struct {
	Family Family
	Bits   int    // 32 or 64
	Ptr    int    // pointer size
	Gran   uint64 // sizeof(_HEAP_ENTRY): the block granularity
	Hdr    int    // offset of the 8 meaningful header bytes in a _HEAP_ENTRY (x64 keeps 8 bytes of the previous block first)

	// _HEAP_SEGMENT (also the start of _HEAP).
	SegSignature, SegFlags, SegListEntry, SegHeap, SegBaseAddress, SegNumberOfPages         int
	SegFirstEntry, SegLastValidEntry, SegUncommittedPages, SegUncommittedRanges, SegUCRList int
	SegSize                                                                                 int

	// _HEAP.
	HeapFlags, HeapForceFlags, HeapCompatibilityFlags, HeapEncodeFlagMask, HeapEncoding int // HeapEncoding: the 8 key bytes
	HeapVirtualMemoryThreshold, HeapSignature, HeapSegmentReserve, HeapSegmentCommit    int
	HeapDeCommitFreeBlockThreshold, HeapDeCommitTotalFreeThreshold, HeapTotalFreeSize   int
	HeapMaximumAllocationSize, HeapProcessHeapsListIndex, HeapNextAvailableTagIndex     int
	HeapMaximumTagIndex, HeapTagEntries, HeapUCRList, HeapAlignRound, HeapAlignMask     int
	HeapVirtualAllocdBlocks, HeapSegmentList, HeapBlocksIndex, HeapUCRIndex             int
	HeapPseudoTagEntries, HeapFreeLists, HeapLockVariable, HeapFrontEndHeap             int
	HeapFrontEndHeapType, HeapCounters, HeapSize                                        int

	// _HEAP_COUNTERS.
	CtrReserved, CtrCommitted, CtrLargeUCR, CtrVirtualBlocks, CtrSegments, CtrUCRs int
	CtrCommitOps, CtrDecommitOps, CtrLockAcquires, CtrLockCollisions               int

	// _HEAP_UCR_DESCRIPTOR (ListEntry is at 0).
	UCRSegmentEntry, UCRAddress, UCRSize int

	// _HEAP_VIRTUAL_ALLOC_ENTRY (Entry is at 0).
	VACommitSize, VAReserveSize, VABusyBlock, VAHeaderSize int

	// _HEAP_FREE_ENTRY.FreeList.
	FreeListEntry int

	// _LFH_HEAP and _LFH_BLOCK_ZONE.
	LFHSubSegmentZones, LFHHeap int
	ZoneNextIndex               int // Win8+: NextIndex (count of used subsegments); -1 on Win7
	ZoneFreePointer             int // Win7: FreePointer (end of used subsegments); -1 on Win8+
	ZoneHeader                  int // where the _HEAP_SUBSEGMENT array starts

	// _HEAP_SUBSEGMENT.
	SubLocalInfo, SubUserBlocks, SubDepth, SubFreeEntryOffset, SubBlockSize int
	SubFlags, SubBlockCount, SubSizeIndex, SubSize                          int

	// _HEAP_USERDATA_HEADER.
	UBSubSegment, UBSizeIndex, UBSignature, UBEncodedOffsets      int
	UBBitmapSize, UBBitmapBuffer, UBBitmapData, UBHeader, UBFirst int // UBFirst: chunk offset when the header is fixed (Win7)

	// LFH chunk header (relative to the chunk's _HEAP_ENTRY).
	ChunkCode, ChunkIndex, ChunkUnused int  // ChunkIndex -1 where unknown
	ChunkShift                         uint // chunk address shift in the encoding (4 x64, 3 x86)
}

var layouts = map[[2]int]*Layout{}

// LayoutFor returns the layout of a family and bitness (32 or 64), or nil.
func LayoutFor(f Family, bits int) *Layout { return layouts[[2]int{int(f), bits}] }

// heapOffsets lists the _HEAP offsets that differ between families, in the
// order of the Layout fields they fill.
type heapOffsets struct {
	vmThreshold, signature, segReserve, segCommit, dcFree, dcTotal, totalFree, maxAlloc int
	phlIndex, nextTag, maxTag, tagEntries, ucrList, alignRound, alignMask, vab, segList int
	blocksIndex, ucrIndex, pseudoTag, freeLists, lock, frontEnd, feType, counters, size int
}

func init() {
	// nt-heap.md §2.1 (x64) and §2.2 (x86).
	x64 := map[Family]heapOffsets{
		FamilyW7:  {0x9c, 0xa0, 0xa8, 0xb0, 0xb8, 0xc0, 0xc8, 0xd0, 0xd8, 0xe8, 0xea, 0xf0, 0xf8, 0x108, 0x110, 0x118, 0x128, 0x140, 0x148, 0x150, 0x158, 0x168, 0x178, 0x182, 0x188, 0x208},
		FamilyW8:  {0x94, 0x98, 0xa0, 0xa8, 0xb0, 0xb8, 0xc0, 0xc8, 0xd0, 0xe0, 0xe2, 0xe8, 0xf0, 0x100, 0x108, 0x110, 0x120, 0x138, 0x140, 0x148, 0x150, 0x160, 0x170, 0x17a, 0x210, 0x298},
		FamilyW10: {0x94, 0x98, 0xa0, 0xa8, 0xb0, 0xb8, 0xc0, 0xc8, 0xd0, 0xe0, 0xe2, 0xe8, 0xf0, 0x100, 0x108, 0x110, 0x120, 0x138, 0x140, 0x148, 0x150, 0x160, 0x178, 0x182, 0x218, 0x2a0},
		FamilyRS5: {0x94, 0x98, 0xa0, 0xa8, 0xb0, 0xb8, 0xc0, 0xc8, 0xd0, 0xe0, 0xe2, 0xe8, 0xf0, 0x100, 0x108, 0x110, 0x120, 0x138, 0x140, 0x148, 0x150, 0x160, 0x198, 0x1a2, 0x238, 0x2c0},
	}
	x86 := map[Family]heapOffsets{
		FamilyW7:  {0x60, 0x64, 0x68, 0x6c, 0x70, 0x74, 0x78, 0x7c, 0x80, 0x88, 0x8a, 0x8c, 0x90, 0x98, 0x9c, 0xa0, 0xa8, 0xb8, 0xbc, 0xc0, 0xc4, 0xcc, 0xd4, 0xda, 0xdc, 0x138},
		FamilyW8:  {0x5c, 0x60, 0x64, 0x68, 0x6c, 0x70, 0x74, 0x78, 0x7c, 0x84, 0x86, 0x88, 0x8c, 0x94, 0x98, 0x9c, 0xa4, 0xb4, 0xb8, 0xbc, 0xc0, 0xc8, 0xd0, 0xd6, 0x1e0, 0x248},
		FamilyW10: {0x5c, 0x60, 0x64, 0x68, 0x6c, 0x70, 0x74, 0x78, 0x7c, 0x84, 0x86, 0x88, 0x8c, 0x94, 0x98, 0x9c, 0xa4, 0xb4, 0xb8, 0xbc, 0xc0, 0xc8, 0xd4, 0xda, 0x1e4, 0x248},
		FamilyRS5: {0x5c, 0x60, 0x64, 0x68, 0x6c, 0x70, 0x74, 0x78, 0x7c, 0x84, 0x86, 0x88, 0x8c, 0x94, 0x98, 0x9c, 0xa4, 0xb4, 0xb8, 0xbc, 0xc0, 0xc8, 0xe4, 0xea, 0x1f4, 0x258},
	}
	x64[FamilyGE], x86[FamilyGE] = x64[FamilyRS5], x86[FamilyRS5]
	for fam := FamilyW7; fam <= FamilyGE; fam++ {
		layouts[[2]int{int(fam), 64}] = newLayout(fam, 64, x64[fam])
		layouts[[2]int{int(fam), 32}] = newLayout(fam, 32, x86[fam])
	}
}

func newLayout(fam Family, bits int, h heapOffsets) *Layout {
	l := &Layout{Family: fam, Bits: bits,
		HeapVirtualMemoryThreshold: h.vmThreshold, HeapSignature: h.signature, HeapSegmentReserve: h.segReserve,
		HeapSegmentCommit: h.segCommit, HeapDeCommitFreeBlockThreshold: h.dcFree, HeapDeCommitTotalFreeThreshold: h.dcTotal,
		HeapTotalFreeSize: h.totalFree, HeapMaximumAllocationSize: h.maxAlloc, HeapProcessHeapsListIndex: h.phlIndex,
		HeapNextAvailableTagIndex: h.nextTag, HeapMaximumTagIndex: h.maxTag, HeapTagEntries: h.tagEntries,
		HeapUCRList: h.ucrList, HeapAlignRound: h.alignRound, HeapAlignMask: h.alignMask, HeapVirtualAllocdBlocks: h.vab,
		HeapSegmentList: h.segList, HeapBlocksIndex: h.blocksIndex, HeapUCRIndex: h.ucrIndex, HeapPseudoTagEntries: h.pseudoTag,
		HeapFreeLists: h.freeLists, HeapLockVariable: h.lock, HeapFrontEndHeap: h.frontEnd, HeapFrontEndHeapType: h.feType,
		HeapCounters: h.counters, HeapSize: h.size,
	}
	win7 := fam == FamilyW7
	if bits == 64 {
		l.Ptr, l.Gran, l.Hdr = 8, 16, 8
		// §2.4 _HEAP_SEGMENT.
		l.SegSignature, l.SegFlags, l.SegListEntry, l.SegHeap, l.SegBaseAddress = 0x10, 0x14, 0x18, 0x28, 0x30
		l.SegNumberOfPages, l.SegFirstEntry, l.SegLastValidEntry = 0x38, 0x40, 0x48
		l.SegUncommittedPages, l.SegUncommittedRanges, l.SegUCRList, l.SegSize = 0x50, 0x54, 0x60, 0x70
		l.HeapFlags, l.HeapForceFlags, l.HeapCompatibilityFlags, l.HeapEncodeFlagMask, l.HeapEncoding = 0x70, 0x74, 0x78, 0x7c, 0x88
		// §2.3 _HEAP_COUNTERS.
		l.CtrReserved, l.CtrCommitted, l.CtrLargeUCR, l.CtrVirtualBlocks = 0x00, 0x08, 0x10, 0x18
		l.CtrSegments, l.CtrUCRs, l.CtrCommitOps, l.CtrDecommitOps, l.CtrLockAcquires, l.CtrLockCollisions = 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34
		// §2.7 / §2.8.
		l.UCRSegmentEntry, l.UCRAddress, l.UCRSize = 0x10, 0x20, 0x28
		l.VACommitSize, l.VAReserveSize, l.VABusyBlock, l.VAHeaderSize = 0x20, 0x28, 0x30, 0x40
		l.FreeListEntry = 0x10
		l.ChunkCode, l.ChunkIndex, l.ChunkUnused, l.ChunkShift = 0x08, 0x0d, 0x0f, 4
		if win7 {
			// §3.2.
			l.LFHSubSegmentZones, l.LFHHeap = 0x28, 0x40
			l.ZoneNextIndex, l.ZoneFreePointer, l.ZoneHeader = -1, 0x10, 0x20
			l.SubLocalInfo, l.SubUserBlocks, l.SubDepth, l.SubFreeEntryOffset = 0x00, 0x08, 0x10, 0x12
			l.SubBlockSize, l.SubFlags, l.SubBlockCount, l.SubSizeIndex, l.SubSize = 0x18, 0x1a, 0x1c, 0x1e, 0x30
			l.UBSubSegment, l.UBSizeIndex, l.UBSignature, l.UBEncodedOffsets = 0x00, 0x10, 0x18, -1
			l.UBBitmapSize, l.UBBitmapBuffer, l.UBBitmapData, l.UBHeader, l.UBFirst = -1, -1, -1, 0x20, 0x20
			l.ChunkIndex = -1
		} else {
			// §3.1.
			l.LFHSubSegmentZones, l.LFHHeap = 0x08, 0x18
			l.ZoneNextIndex, l.ZoneFreePointer, l.ZoneHeader = 0x10, -1, 0x20
			l.SubLocalInfo, l.SubUserBlocks, l.SubDepth, l.SubFreeEntryOffset = 0x00, 0x08, 0x20, -1
			l.SubBlockSize, l.SubFlags, l.SubBlockCount, l.SubSizeIndex, l.SubSize = 0x24, 0x26, 0x28, 0x2a, 0x40
			l.UBSubSegment, l.UBSizeIndex, l.UBSignature, l.UBEncodedOffsets = 0x00, 0x10, 0x14, 0x18
			l.UBBitmapSize, l.UBBitmapBuffer, l.UBBitmapData, l.UBHeader, l.UBFirst = 0x20, 0x28, 0x30, 0x30, -1
		}
		return l
	}
	l.Ptr, l.Gran, l.Hdr = 4, 8, 0
	l.SegSignature, l.SegFlags, l.SegListEntry, l.SegHeap, l.SegBaseAddress = 0x08, 0x0c, 0x10, 0x18, 0x1c
	l.SegNumberOfPages, l.SegFirstEntry, l.SegLastValidEntry = 0x20, 0x24, 0x28
	l.SegUncommittedPages, l.SegUncommittedRanges, l.SegUCRList, l.SegSize = 0x2c, 0x30, 0x38, 0x40
	l.HeapFlags, l.HeapForceFlags, l.HeapCompatibilityFlags, l.HeapEncodeFlagMask, l.HeapEncoding = 0x40, 0x44, 0x48, 0x4c, 0x50
	l.CtrReserved, l.CtrCommitted, l.CtrLargeUCR, l.CtrVirtualBlocks = 0x00, 0x04, 0x08, 0x0c
	l.CtrSegments, l.CtrUCRs, l.CtrCommitOps, l.CtrDecommitOps, l.CtrLockAcquires, l.CtrLockCollisions = 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24
	l.UCRSegmentEntry, l.UCRAddress, l.UCRSize = 0x08, 0x10, 0x14
	l.VACommitSize, l.VAReserveSize, l.VABusyBlock, l.VAHeaderSize = 0x10, 0x14, 0x18, 0x20
	l.FreeListEntry = 0x08
	l.ChunkCode, l.ChunkIndex, l.ChunkUnused, l.ChunkShift = 0x00, -1, 0x07, 3
	if win7 {
		l.LFHSubSegmentZones, l.LFHHeap = 0x18, 0x24
		l.ZoneNextIndex, l.ZoneFreePointer, l.ZoneHeader = -1, 0x08, 0x10
		l.SubLocalInfo, l.SubUserBlocks, l.SubDepth, l.SubFreeEntryOffset = 0x00, 0x04, 0x08, 0x0a
		l.SubBlockSize, l.SubFlags, l.SubBlockCount, l.SubSizeIndex, l.SubSize = 0x10, 0x12, 0x14, 0x16, 0x20
		l.UBSubSegment, l.UBSizeIndex, l.UBSignature, l.UBEncodedOffsets = 0x00, 0x08, 0x0c, -1
		l.UBBitmapSize, l.UBBitmapBuffer, l.UBBitmapData, l.UBHeader, l.UBFirst = -1, -1, -1, 0x10, 0x10
	} else {
		l.LFHSubSegmentZones, l.LFHHeap = 0x04, 0x0c
		l.ZoneNextIndex, l.ZoneFreePointer, l.ZoneHeader = 0x08, -1, 0x10
		l.SubLocalInfo, l.SubUserBlocks, l.SubDepth, l.SubFreeEntryOffset = 0x00, 0x04, 0x10, -1
		l.SubBlockSize, l.SubFlags, l.SubBlockCount, l.SubSizeIndex, l.SubSize = 0x14, 0x16, 0x18, 0x1a, 0x28
		l.UBSubSegment, l.UBSizeIndex, l.UBSignature, l.UBEncodedOffsets = 0x00, 0x08, 0x0c, 0x10
		l.UBBitmapSize, l.UBBitmapBuffer, l.UBBitmapData, l.UBHeader, l.UBFirst = 0x14, 0x18, 0x1c, 0x1c, -1
	}
	return l
}

// Name is "<family> x86" or "<family> x64".
func (l *Layout) Name() string {
	if l.Bits == 32 {
		return l.Family.String() + " x86"
	}
	return l.Family.String() + " x64"
}
