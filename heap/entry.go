package heap

import (
	"encoding/binary"
	"fmt"
)

// HEAP_ENTRY flag bits (nt-heap.md §2.5).
const (
	FlagBusy         = 0x01
	FlagExtraPresent = 0x02
	FlagFillPattern  = 0x04
	FlagVirtualAlloc = 0x08 // also marks heap-internal blocks such as LFH UserBlocks
	FlagLastEntry    = 0x10
	FlagUser1        = 0x20
	FlagUser2        = 0x40
	FlagUser3        = 0x80
)

// State tells whether a block is allocated. Internal blocks are busy blocks
// the heap keeps for itself (Flags & 0x08 outside a virtual block: the
// BlocksIndex block, LFH UserBlocks, ...).
type State uint8

const (
	Free State = iota
	Busy
	Internal
)

var stateNames = [...]string{"free", "busy", "internal"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// Kind tells which allocator a block comes from.
type Kind uint8

const (
	BackEnd Kind = iota // a block of a heap segment
	LFH                 // a chunk of a low-fragmentation-heap subsegment
	Virtual             // a VirtualAlloc'd big block
	// Segment heap kinds (nt-heap.md §4; segheap_walk.go).
	SegBackEnd // a page range of a segment heap's page segment: a segment-allocator block, a free range, a VS or LFH subsegment (internal), the segment's own header
	SegVS      // a chunk of a segment heap VS subsegment
	SegLFH     // a block of a segment heap LFH subsegment
	SegLarge   // a segment heap large block, its own VirtualAlloc region
)

var kindNames = [...]string{"back end", "LFH", "virtual", "segment back end", "VS", "segment LFH", "large"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Attr holds facts about a block beyond its state and kind.
type Attr uint8

const (
	// AttrSegmentHeader: the block holds the segment's own header (for
	// segment 0 the _HEAP itself); it runs from the segment base to
	// FirstEntry.
	AttrSegmentHeader Attr = 1 << iota
	// AttrUserBlocks: the block is an LFH subsegment's UserBlocks; its
	// chunks follow it in the walk.
	AttrUserBlocks
	// AttrExtendedHeader: UnusedBytes has bit 0x40 and an extended header
	// (UnusedBytesLength, EntryOffset, signature 5, as +ust writes it)
	// sits in front of the user data, so User is past it.
	AttrExtendedHeader
	// AttrNoChecksum: the header was not verified (LFH chunks, whose
	// busy state comes from the subsegment instead).
	AttrNoChecksum
	// AttrSubsegment: the block is a segment heap VS or LFH subsegment
	// (an internal SegBackEnd block); its chunks follow it in the walk.
	AttrSubsegment
)

// Block is one heap block: a back-end block, an LFH chunk or a virtual
// block. Sizes are in bytes unless named granules.
type Block struct {
	Entry     uint64 // address of the _HEAP_ENTRY
	User      uint64 // address of the user data
	Size      uint64 // bytes from Entry to the next block (VA blocks: CommitSize)
	Granules  uint64 // Size / granularity
	PrevSize  uint64 // previous block's size in granules as the header records it (0 for LFH chunks)
	Unused    uint64 // Size - UserSize: bytes not given to the caller, header included
	UserSize  uint64 // the size the caller asked for (free blocks: Size - granularity; segment heap blocks without a header: Size)
	Flags     uint8  // decoded HEAP_ENTRY Flags (LFH: FlagBusy when busy)
	RawUnused uint8  // the UnusedBytes byte as stored
	State     State
	Kind      Kind
	Attr      Attr
	Heap      uint64 // heap handle
	// Segment is the segment base for back-end blocks, the
	// _HEAP_SUBSEGMENT for LFH chunks and the _HEAP_VIRTUAL_ALLOC_ENTRY for
	// virtual blocks. Segment heap: the _HEAP_PAGE_SEGMENT for SegBackEnd
	// blocks, the VS or LFH subsegment for SegVS and SegLFH blocks, the
	// _HEAP_LARGE_ALLOC_DATA for SegLarge blocks.
	Segment uint64
	// UserBlocks is the LFH container (its user data) of an LFH chunk;
	// Index the chunk's position in it.
	UserBlocks uint64
	Index      int
}

// Busy reports whether the block is allocated (busy or internal).
func (b *Block) Busy() bool { return b.State != Free }

// End is one past the block's last byte. A virtual block spans its whole
// committed region, which starts at Segment (the entry) before Entry.
func (b *Block) End() uint64 {
	if b.Kind == Virtual {
		return b.Segment + b.Size
	}
	return b.Entry + b.Size
}

// Contains reports whether addr lies in the block.
func (b *Block) Contains(addr uint64) bool {
	start := b.Entry
	if b.Kind == Virtual {
		start = b.Segment
	}
	return addr >= start && addr < b.End()
}

// PrevBytes is PrevSize in bytes.
func (b *Block) PrevBytes() uint64 {
	if b.Granules == 0 {
		return 0
	}
	return b.PrevSize * (b.Size / b.Granules)
}

// ProblemKind classifies what a walk could not read or trust.
type ProblemKind uint8

const (
	NotCaptured ProblemKind = iota // memory the walk needs is not in the dump
	BadChecksum                    // a header's SmallTagIndex does not match
	BadHeader                      // zero size, a block that overruns its range, a bad signature
	BadPrevSize                    // PreviousSize disagrees with the previous block
	BadList                        // a list with a cycle or a pointer out of range
	LFHMismatch                    // LFH bookkeeping disagrees (bitmap vs depth, chunk header)
	Unsupported                    // a structure this package cannot walk
)

var problemNames = [...]string{"not captured", "bad checksum", "bad header", "bad previous size", "bad list", "LFH mismatch", "unsupported"}

func (k ProblemKind) String() string {
	if int(k) < len(problemNames) {
		return problemNames[k]
	}
	return fmt.Sprintf("ProblemKind(%d)", k)
}

// Problem is something a walk met and went on past.
type Problem struct {
	Kind    ProblemKind
	Heap    uint64
	Segment uint64 // segment base, subsegment, or 0
	Addr    uint64 // where it was found
	// Skipped is the number of bytes the walk did not cover because of the
	// problem, starting at Addr (0 when nothing was skipped).
	Skipped uint64
	What    string
}

func (p Problem) Error() string {
	s := fmt.Sprintf("heap %#x: %s at %#x: %s", p.Heap, p.Kind, p.Addr, p.What)
	if p.Skipped > 0 {
		s += fmt.Sprintf(" (%#x bytes not walked)", p.Skipped)
	}
	return s
}

// header is a decoded _HEAP_ENTRY (its 8 meaningful bytes).
type header struct {
	size      uint16 // granules
	flags     uint8
	tag       uint8 // SmallTagIndex: the checksum
	prevSize  uint16
	segOffset uint8
	unused    uint8
	raw       [8]byte // as decoded
}

func (h *header) checksumOK() bool {
	return h.tag == uint8(h.size)^uint8(h.size>>8)^h.flags
}

// decodeHeader XORs the 8 header bytes with the heap's key when the heap
// encodes headers and the raw first dword says this one is encoded, as
// ntdll does (EncodeFlagMask & dword); if that gives a bad checksum, the
// other reading is tried, so both encoded and plain headers are read.
func decodeHeader(b []byte, key *[8]byte, mask uint32) (header, bool) {
	first := binary.LittleEndian.Uint32(b)
	enc := mask != 0 && first&mask != 0
	h := unpack(b, key, enc)
	if h.checksumOK() {
		return h, true
	}
	if mask != 0 {
		if h2 := unpack(b, key, !enc); h2.checksumOK() {
			return h2, true
		}
	}
	return h, false
}

func unpack(b []byte, key *[8]byte, enc bool) header {
	var d [8]byte
	copy(d[:], b[:8])
	if enc {
		for i := range d {
			d[i] ^= key[i]
		}
	}
	return header{
		size:      binary.LittleEndian.Uint16(d[0:]),
		flags:     d[2],
		tag:       d[3],
		prevSize:  binary.LittleEndian.Uint16(d[4:]),
		segOffset: d[6],
		unused:    d[7],
		raw:       d,
	}
}
