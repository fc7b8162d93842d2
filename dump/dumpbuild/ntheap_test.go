package dumpbuild

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"testing"

	"wdb/dump"
)

// heapSpec exercises every structure the writer places: busy blocks with
// each UnusedBytes form, free blocks, an uncommitted gap, an extra segment,
// virtual blocks and LFH subsegments.
func heapSpec(gran uint64) NTHeap {
	var blocks []Alloc
	for i := 0; i < 40; i++ {
		switch {
		case i%9 == 4:
			blocks = append(blocks, Alloc{Free: true, Size: 0x40 + uint64(i)*8})
		case i%11 == 5:
			blocks = append(blocks, Alloc{Size: 0x30, Pad: 6})
		case i%13 == 6:
			blocks = append(blocks, Alloc{Size: 0x28, Ext: true})
		default:
			blocks = append(blocks, Alloc{Size: uint64(1 + i*37%0x200), Flags: 0x04})
		}
		if i == 20 {
			blocks = append(blocks, Alloc{Gap: 2})
		}
	}
	reqs := func(units uint16, n int) []uint64 {
		req := make([]uint64, n)
		for i := range req {
			if i%3 != 0 {
				req[i] = uint64(units)*gran - gran - uint64(i%4)
			}
		}
		return req
	}
	return NTHeap{Flags: 0x40000062, Blocks: blocks, Virtual: []uint64{0x23456},
		Segments: []NTSegment{{Blocks: blocks[:10]}},
		LFH:      []LFHSubsegment{{BlockUnits: 3, Requested: reqs(3, 40)}, {BlockUnits: 8, Requested: reqs(8, 33)}, {BlockUnits: 2, Requested: reqs(2, 70)}}}
}

type heapCase struct {
	name  string
	arch  dump.Arch
	build uint32
	wow64 bool
}

var heapCases = []heapCase{
	{"win7-x86", X86, 7601, false},
	{"win7-x64", X64, 7601, false},
	{"win81-x86", X86, 9600, false},
	{"win10-1803-x64", X64, 17134, false},
	{"win10-22h2-x64", X64, 19045, false},
	{"win11-24h2-x64", X64, 26100, false},
	{"win10-22h2-wow64", X64, 19045, true},
}

func buildHeaps(t *testing.T, c heapCase) ([]byte, *HeapTruth, *dump.File) {
	t.Helper()
	gran := uint64(16)
	if c.arch == X86 || c.wow64 {
		gran = 8
	}
	b := New(c.arch)
	p := HeapProcess{Build: c.build, Wow64: c.wow64, Heaps: []NTHeap{heapSpec(gran), {Blocks: []Alloc{{Size: 0x10}}, NoEncode: true}}, SegmentHeaps: []uint64{0}}
	if c.wow64 {
		p.Heaps64 = []NTHeap{heapSpec(16)}
	}
	truth, err := b.Heaps(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, c.name)
	if err != nil {
		t.Fatal(err)
	}
	return raw, truth, f
}

func TestHeapsDeterministic(t *testing.T) {
	for _, c := range heapCases {
		a, _, _ := buildHeaps(t, c)
		b, _, _ := buildHeaps(t, c)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ", c.name)
		}
	}
}

// TestHeapsInvariants checks the writer's own output against nt-heap.md
// §6.2's invariants, reading the dump through package dump only.
func TestHeapsInvariants(t *testing.T) {
	for _, c := range heapCases {
		t.Run(c.name, func(t *testing.T) {
			_, truth, f := buildHeaps(t, c)
			fam := familyOf(c.build)
			check := func(heaps []PlacedHeap, bits int, peb uint64) {
				l := &dump.Layout64
				if bits == 32 {
					l = &dump.Layout32
				}
				hs, err := f.ProcessHeaps(peb, l)
				if err != nil || len(hs) != len(heaps) {
					t.Fatalf("ProcessHeaps %x %v, want %d heaps", hs, err, len(heaps))
				}
				for i, ph := range heaps {
					if hs[i] != ph.Address {
						t.Errorf("ProcessHeaps[%d] = %#x, want %#x", i, hs[i], ph.Address)
					}
					if !ph.Segment {
						checkPlacedHeap(t, f, ntOffsets(fam, bits), ph, truth.LFHKey, fam)
					}
				}
			}
			if c.wow64 {
				if !f.IsWow64() {
					t.Fatal("not a WOW64 dump")
				}
				peb32, err := f.PEB32()
				if err != nil || peb32 != truth.PEB32 {
					t.Fatalf("PEB32 %#x %v, want %#x", peb32, err, truth.PEB32)
				}
				check(truth.Heaps, 32, peb32)
				check(truth.Heaps64, 64, truth.PEB)
			} else {
				peb, err := f.PEB()
				if err != nil || peb != truth.PEB {
					t.Fatalf("PEB %#x %v, want %#x", peb, err, truth.PEB)
				}
				check(truth.Heaps, f.PointerSize()*8, peb)
			}
			if f.System.BuildNumber != c.build {
				t.Errorf("system build %d", f.System.BuildNumber)
			}
		})
	}
}

func rd(t *testing.T, f *dump.File, a uint64, n int) uint64 {
	t.Helper()
	v, err := f.ReadUint(a, n)
	if err != nil {
		t.Fatalf("read %#x: %v", a, err)
	}
	return v
}

func checkPlacedHeap(t *testing.T, f *dump.File, o *ntOff, ph PlacedHeap, lfhKey uint32, fam int) {
	t.Helper()
	a := ph.Address
	if rd(t, f, a+uint64(o.segSig), 4) != ntSegSignature || rd(t, f, a+uint64(o.signature), 4) != ntHeapSignature {
		t.Fatalf("heap %#x: signatures missing", a)
	}
	var key [8]byte
	mask := uint32(rd(t, f, a+uint64(o.efm), 4))
	if mask != ph.EncodeFlagMask {
		t.Errorf("heap %#x: EncodeFlagMask %#x", a, mask)
	}
	if _, err := f.ReadMemory(a+uint64(o.encoding)+uint64(o.hdr), key[:]); err != nil || key != ph.Encoding && mask != 0 {
		t.Errorf("heap %#x: key %x, want %x", a, key, ph.Encoding)
	}
	// Every back-end header decodes with a valid checksum to what the
	// truth says; blocks tile every committed run.
	var free uint64
	freeSet := map[uint64]bool{}
	next := map[uint64]uint64{} // segment -> expected next entry
	for _, b := range ph.Blocks {
		if b.Kind != BackEndBlock {
			continue
		}
		var h [8]byte
		if _, err := f.ReadMemory(b.Entry+uint64(o.hdr), h[:]); err != nil {
			t.Fatalf("block %#x: %v", b.Entry, err)
		}
		if mask != 0 {
			for i := range h {
				h[i] ^= key[i]
			}
		}
		size := uint64(binary.LittleEndian.Uint16(h[:]))
		if h[3] != h[0]^h[1]^h[2] || size != b.Granules || h[2] != b.Flags || uint64(binary.LittleEndian.Uint16(h[4:])) != b.PrevSize || size*o.gran != b.Size {
			t.Errorf("block %#x: header %x, truth %+v", b.Entry, h, b)
		}
		if n, ok := next[b.Segment]; ok && n != b.Entry {
			inGap := false
			for _, s := range ph.Segments {
				for _, u := range s.UCRs {
					inGap = inGap || (n == u[0] && b.Entry == u[0]+u[1])
				}
			}
			if !inGap {
				t.Errorf("block %#x: previous block ends at %#x", b.Entry, n)
			}
		}
		next[b.Segment] = b.Entry + b.Size
		if !b.Busy {
			free += b.Granules
			freeSet[b.Entry] = true
		}
	}
	if tf := rd(t, f, a+uint64(o.totalFree), o.ptr); tf != free || free != ph.TotalFreeSize {
		t.Errorf("heap %#x: TotalFreeSize %d, free blocks %d", a, tf, free)
	}
	// FreeLists holds exactly the free blocks.
	head := a + uint64(o.freeLists)
	n := 0
	for link := rd(t, f, head, o.ptr); link != head; link = rd(t, f, link, o.ptr) {
		if !freeSet[link-o.gran] || n > len(freeSet) {
			t.Fatalf("heap %#x: FreeLists entry %#x is not a free block", a, link-o.gran)
		}
		n++
	}
	if n != len(freeSet) {
		t.Errorf("heap %#x: FreeLists has %d entries, %d free blocks", a, n, len(freeSet))
	}
	// Segment UCR counts agree with the descriptors; UCRs are reserved,
	// not captured.
	for _, s := range ph.Segments {
		var pages uint64
		for _, u := range s.UCRs {
			pages += u[1] / heapPage
			if f.Captured(u[0]) {
				t.Errorf("UCR %#x is captured", u[0])
			}
		}
		if rd(t, f, s.Base+uint64(o.segUCRanges), 4) != uint64(len(s.UCRs)) || rd(t, f, s.Base+uint64(o.segUCPages), 4) != pages {
			t.Errorf("segment %#x: UCR counts disagree with %v", s.Base, s.UCRs)
		}
	}
	// LFH: bitmap popcount = BlockCount - Depth; EncodedOffsets and every
	// chunk header decode back to their UserBlocks.
	for _, sub := range ph.Subsegments {
		ub := rd(t, f, sub+uint64(o.subUB), o.ptr)
		count := rd(t, f, sub+uint64(o.subBlockCount), 2)
		depth := rd(t, f, sub+uint64(o.subDepth), 2)
		stride := rd(t, f, sub+uint64(o.subBlockSize), 2) * o.gran
		if rd(t, f, ub+uint64(o.ubSig), 4) != ubSignature || rd(t, f, ub, o.ptr) != sub {
			t.Errorf("UserBlocks %#x: header does not point back at %#x", ub, sub)
		}
		first := uint64(o.ubHeader)
		if o.ubEnc >= 0 {
			busy := 0
			for i := uint64(0); i < (count+7)/8; i++ {
				busy += bits.OnesCount8(uint8(rd(t, f, ub+uint64(o.ubBitmapData)+i, 1)))
			}
			if uint64(busy) != count-depth {
				t.Errorf("UserBlocks %#x: %d busy bits, count %d depth %d", ub, busy, count, depth)
			}
			d := uint32(rd(t, f, ub+uint64(o.ubEnc), 4)) ^ uint32(ub) ^ uint32(ph.LFH) ^ lfhKey
			if uint64(d>>16) != stride {
				t.Errorf("UserBlocks %#x: EncodedOffsets decode to %#x", ub, d)
			}
			first = uint64(d & 0xffff)
		}
		for i := uint64(0); i < count; i++ {
			c := ub + first + i*stride
			code := uint32(rd(t, f, c+uint64(o.chunkCode), 4))
			var d uint32
			if fam == famW7 {
				d = code ^ uint32(ph.Address) ^ lfhKey ^ uint32(c>>o.chunkShift) ^ uint32(sub)
			} else {
				d = code ^ uint32(ph.Address) ^ lfhKey ^ uint32(c>>o.chunkShift) ^ uint32((c-ub)>>o.chunkShift)<<16
			}
			if d != 0 {
				t.Errorf("chunk %#x: header code %#x does not decode", c, code)
			}
		}
	}
}

func TestHeapsErrors(t *testing.T) {
	if _, err := New(X86).Heaps(HeapProcess{Wow64: true}); err == nil {
		t.Error("WOW64 on an x86 builder was accepted")
	}
	if _, err := New(X64).Heaps(HeapProcess{Heaps: []NTHeap{{Address: 0x123000}}}); err == nil {
		t.Error("an unaligned heap address was accepted")
	}
	if _, err := New(X64).Heaps(HeapProcess{Heaps: []NTHeap{{LFH: []LFHSubsegment{{BlockUnits: 2, Requested: []uint64{0x30}}}}}}); err == nil {
		t.Error("an LFH request larger than its chunk was accepted")
	}
	if _, err := New(X64).Heaps(HeapProcess{Heaps: []NTHeap{{ReservePages: 1, Blocks: []Alloc{{Size: 0x4000}}}}}); err == nil {
		t.Error("blocks beyond the reservation were accepted")
	}
}
