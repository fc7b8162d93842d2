package heap

// segWalkLayout holds the segment heap offsets the walker reads, for
// Windows 10 2004 (19041) through Windows 11 23H2 (22631), from
// nt-heap.md §4.3 (PDB 19041 x64/x86) and, where §4.3 is silent, from the
// public parsers it cites (MemProcFS vmmheap.c, DbgHelpUtils, radare2):
// the first VS chunk offset, the VS and LFH unused-bytes word, the VS
// header bit fields and the page-range flag values. The _SEGMENT_HEAP and
// _HEAP_SEG_CONTEXT offsets shared with the listing stay in segHeapLayout.
type segWalkLayout struct {
	bits int
	ptr  int
	gran uint64 // VS size unit: 16 on x64, 8 on x86

	// sigConst is XORed into _HEAP_PAGE_SEGMENT.Signature with the segment,
	// its _HEAP_SEG_CONTEXT and RtlpHpHeapGlobals.HeapKey.
	sigConst uint64

	largeTree int // _SEGMENT_HEAP.LargeAllocMetadata (_RTL_RB_TREE)

	// _HEAP_SEG_CONTEXT.
	ctxUnitShift, ctxFirstDesc int

	// _HEAP_PAGE_SEGMENT and _HEAP_PAGE_RANGE_DESCRIPTOR.
	segSig                                  int
	descSize                                uint64
	descUnused, descFlags, descUnits        int
	flagsMask                               uint8 // x86 keeps other bits above RangeFlags:5
	vsSize, vsSig, vsFirst                  int   // _HEAP_VS_SUBSEGMENT; vsFirst: the first chunk header
	vsHdr                                   uint64
	lfhFree, lfhCount, lfhOffsets, lfhBlock int // _HEAP_LFH_SUBSEGMENT; lfhBlock: BlockBitmap
	laVA, laPages                           int // _HEAP_LARGE_ALLOC_DATA
	globalsLfh                              int // RtlpHpHeapGlobals.LfhKey
}

// segDescriptors is the DescArray length of a _HEAP_PAGE_SEGMENT.
const segDescriptors = 256

// Page range flag values of a range's first descriptor as 19041-era
// ntdll writes them: bit 0x01 busy, 0x02 first of a range; MemProcFS and
// DbgHelpUtils (which reads them with symbols) agree on the whole values.
// Yason's 2016 bit names (LFH 0x01, COMMITTED 0x02, ALLOCATED 0x04,
// FIRST 0x08, VS 0x20) do not match these builds.
const (
	rangeBusy  = 0x01
	rangeFirst = 0x02
	rangeFree  = 0x02 // a free page range
	rangeBlock = 0x03 // a segment-allocator block
	rangeLFH   = 0x0b // an LFH subsegment
	rangeVS    = 0x0f // a VS subsegment
)

// vsSignatureXor: _HEAP_VS_SUBSEGMENT.Signature (15 bits) is Size ^ 0x2BED.
const vsSignatureXor = 0x2bed

var (
	segWalk64 = segWalkLayout{bits: 64, ptr: 8, gran: 16, sigConst: 0xa2e64eada2e64ead,
		largeTree: 0x48, ctxUnitShift: 0x08, ctxFirstDesc: 0x0a,
		segSig: 0x10, descSize: 0x20, descUnused: 0x04, descFlags: 0x18, descUnits: 0x1f, flagsMask: 0xff,
		vsSize: 0x20, vsSig: 0x22, vsFirst: 0x30, vsHdr: 0x10,
		lfhFree: 0x20, lfhCount: 0x22, lfhOffsets: 0x28, lfhBlock: 0x30,
		laVA: 0x18, laPages: 0x20, globalsLfh: 8}
	segWalk32 = segWalkLayout{bits: 32, ptr: 4, gran: 8, sigConst: 0xa2e64ead,
		largeTree: 0x44, ctxUnitShift: 0x04, ctxFirstDesc: 0x06,
		segSig: 0x08, descSize: 0x10, descUnused: 0x04, descFlags: 0x0c, descUnits: 0x0f, flagsMask: 0x1f,
		vsSize: 0x14, vsSig: 0x16, vsFirst: 0x18, vsHdr: 0x08,
		lfhFree: 0x10, lfhCount: 0x12, lfhOffsets: 0x18, lfhBlock: 0x20,
		laVA: 0x0c, laPages: 0x10, globalsLfh: 4}
)

// segWalkBuilds says whether the segment heap of a build is walked: the
// layouts are from 19041 and assumed for Windows 11 up to 23H2; §4.3 rates
// 24H2 (26100+) Low, with a moved UnitOffset and an unconfirmed
// LfhContext.
func segWalkBuilds(build uint32) bool { return build >= 19041 && build < 26100 }

// segLayoutFor returns the walker layout of a bitness.
func segLayoutFor(bits int) *segWalkLayout {
	if bits == 32 {
		return &segWalk32
	}
	return &segWalk64
}

// mask trims a pointer-sized value to the layout's width.
func (sl *segWalkLayout) mask(v uint64) uint64 {
	if sl.ptr == 4 {
		return v & 0xffffffff
	}
	return v
}
