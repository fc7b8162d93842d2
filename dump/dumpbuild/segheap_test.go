package dumpbuild

import (
	"bytes"
	"math/bits"
	"testing"

	"wdb/dump"
)

func segTestSpec(gran uint64) SegHeap {
	return SegHeap{
		Segments: []SegSegment{
			{Ranges: []SegRange{
				{Kind: SegAlloc, Request: 0x21234},
				{Kind: SegVS, VS: []VSChunk{{Request: 0x10}, {Request: 0x11}, {Free: 4 * gran}, {Request: 0x3ff}, {Request: 0x2000, Internal: true}}},
				{Kind: SegFree, Pages: 3},
				{Kind: SegLFH, LFHBlockSize: uint16(2 * gran), LFH: []uint64{0, 2 * gran, 2*gran - 1, 3, 0, 0, gran}},
			}},
			{Ranges: []SegRange{{Kind: SegLFH, LFHBlockSize: 0x400, LFH: make([]uint64, 40)}}},
		},
		Large: []uint64{0x30001, 0x20000, 0x45678, 0x1000},
	}
}

func buildSeg(t *testing.T, arch dump.Arch, p HeapProcess) ([]byte, *HeapTruth, *dump.File) {
	t.Helper()
	b := New(arch)
	truth, err := b.Heaps(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "seg")
	if err != nil {
		t.Fatal(err)
	}
	return raw, truth, f
}

func TestSegHeapsDeterministic(t *testing.T) {
	p := HeapProcess{Build: 19041, SegHeaps: []SegHeap{segTestSpec(16)}}
	a, _, _ := buildSeg(t, X64, p)
	b, _, _ := buildSeg(t, X64, p)
	if !bytes.Equal(a, b) {
		t.Error("two builds differ")
	}
}

// TestSegHeapsInvariants reads the written segment heaps back through
// package dump: signatures, descriptors tiling each segment, VS chunks
// decoding and tiling their subsegments with a PreviousSize chain, LFH
// bitmaps agreeing with FreeCount, the large tree in address order, and
// RtlpHpHeapGlobals holding the keys.
func TestSegHeapsInvariants(t *testing.T) {
	for _, c := range []struct {
		arch  dump.Arch
		wow   bool
		build uint32
	}{{X64, false, 19041}, {X64, false, 22631}, {X86, false, 19045}, {X64, true, 19045}} {
		o := segOffsets(64)
		if c.arch == X86 || c.wow {
			o = segOffsets(32)
		}
		_, truth, f := buildSeg(t, c.arch, HeapProcess{Build: c.build, Wow64: c.wow, SegHeaps: []SegHeap{segTestSpec(o.gran)}})
		ps := uint64(o.ptr)
		rd := func(a uint64, n int) uint64 { return rd(t, f, a, n) }
		ph := truth.Heaps[0]
		key := truth.HeapKey
		if rd(truth.HeapGlobals, o.ptr) != key || uint32(rd(truth.HeapGlobals+ps, 4)) != truth.SegLFHKey {
			t.Errorf("%v %d: RtlpHpHeapGlobals does not hold the keys", c.arch, c.build)
		}
		ctx := ph.Address + 0x100
		if ps == 8 && c.build >= 22000 {
			ctx = ph.Address + 0x140
		}
		if rd(ctx+o.ctxHeap, o.ptr) != ph.Address {
			t.Fatalf("%v %d: context 0 does not point back at the heap", c.arch, c.build)
		}
		for _, seg := range ph.PageSegments {
			want := (seg ^ ctx ^ key ^ o.sigConst) & (1<<(8*ps) - 1)
			if ps == 8 {
				want = seg ^ ctx ^ key ^ o.sigConst
			}
			if rd(seg+o.segSig, o.ptr) != want {
				t.Errorf("segment %#x: bad signature", seg)
			}
			i := o.firstDesc
			for i < segUnits {
				d := seg + i*o.descSize
				fl, units := rd(d+o.descFlags, 1), rd(d+o.descUnits, 1)
				if fl&2 == 0 || units == 0 {
					t.Fatalf("segment %#x descriptor %d: flags %#x units %d", seg, i, fl, units)
				}
				start := seg + i*heapPage
				switch fl {
				case segRangeVS:
					size := rd(start+o.vsSize, 2)
					if rd(start+o.vsSig, 2)&0x7fff != (size^0x2bed)&0x7fff || size*16 != units*heapPage {
						t.Errorf("VS subsegment %#x: signature or size", start)
					}
					var prev uint64
					p := start + o.vsFirst
					for p < start+size*16 {
						var sz, pr uint64
						if ps == 8 {
							v := rd(p, 8) ^ p ^ key
							sz, pr = (v>>16&0xffff)*16, v>>32&0xffff
						} else {
							v := rd(p, 4) ^ (p^key)&0xffffffff
							sz, pr = (v>>1&0x7fff)*8, v>>16&0x7fff
						}
						if sz == 0 || pr != prev {
							t.Fatalf("VS chunk %#x: size %#x prev %#x, want prev %#x", p, sz, pr, prev)
						}
						prev = sz / o.gran
						p += sz
					}
					if p != start+size*16 {
						t.Errorf("VS subsegment %#x: chunks end at %#x", start, p)
					}
				case segRangeLFH:
					count := rd(start+o.lfhCount, 2)
					free := rd(start+o.lfhFree, 2)
					d := uint32(rd(start+o.lfhOffsets, 4)) ^ truth.SegLFHKey ^ uint32(start>>12)
					bs, first := uint64(d&0xffff), uint64(d>>16)
					busy := 0
					for b := uint64(0); b < count; b++ {
						busy += bits.OnesCount64(rd(start+o.lfhBitmap+b/4, 1) >> (b % 4 * 2) & 1)
					}
					if uint64(busy) != count-free || first+count*bs > units*heapPage || first < o.lfhBitmap+(2*count+7)/8 {
						t.Errorf("LFH subsegment %#x: %d busy of %d with %d free; %d blocks of %#x from %#x", start, busy, count, free, count, bs, first)
					}
				}
				i += units
			}
			if i != segUnits {
				t.Errorf("segment %#x: descriptors end at %d", seg, i)
			}
		}
		// The large tree in order.
		var got []uint64
		var walk func(n uint64)
		walk = func(n uint64) {
			if n == 0 {
				return
			}
			walk(rd(n, o.ptr))
			got = append(got, rd(n+o.laVA, o.ptr)&^0xffff)
			walk(rd(n+ps, o.ptr))
		}
		walk(rd(ph.Address+o.largeTree, o.ptr))
		var want []uint64
		for _, pb := range ph.Blocks {
			if pb.Kind == SegLargeBlock {
				want = append(want, pb.Entry)
			}
		}
		if len(got) != 4 || len(got) != len(want) {
			t.Fatalf("large tree %x, want %x", got, want)
		}
		for i := range got {
			if got[i] != want[i] || i > 0 && got[i] <= got[i-1] {
				t.Errorf("large tree %x, want %x in order", got, want)
				break
			}
		}
	}
}

func TestSegHeapsErrors(t *testing.T) {
	for name, sh := range map[string]SegHeap{
		"free chunk too small":   {Segments: []SegSegment{{Ranges: []SegRange{{Kind: SegVS, VS: []VSChunk{{Free: 0x10}}}}}}},
		"lfh request too large":  {Segments: []SegSegment{{Ranges: []SegRange{{Kind: SegLFH, LFHBlockSize: 0x20, LFH: []uint64{0x21}}}}}},
		"range beyond segment":   {Segments: []SegSegment{{Ranges: []SegRange{{Kind: SegFree, Pages: 300}}}}},
		"block larger than page": {Segments: []SegSegment{{Ranges: []SegRange{{Kind: SegAlloc, Pages: 1, Request: 0x1001}}}}},
		"unaligned segment":      {Segments: []SegSegment{{Address: 0x1230000}}},
	} {
		if _, err := New(X64).Heaps(HeapProcess{SegHeaps: []SegHeap{sh}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
