package heap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// segChunks returns n VS chunks with varied requests and a few free ones.
func segChunks(n int, gran uint64, seed uint64) []dumpbuild.VSChunk {
	rng := rand.New(rand.NewPCG(seed, 3))
	var out []dumpbuild.VSChunk
	for i := range n {
		switch {
		case i%7 == 3:
			out = append(out, dumpbuild.VSChunk{Free: gran * uint64(4+rng.IntN(40))})
		case i%11 == 5:
			out = append(out, dumpbuild.VSChunk{Request: uint64(1 + rng.IntN(0x3000))})
		default:
			out = append(out, dumpbuild.VSChunk{Request: uint64(1 + rng.IntN(0x300))})
		}
	}
	out = append(out, dumpbuild.VSChunk{Request: 0x123, Internal: true})
	return out
}

// segLFHBlocks returns n LFH requests for blocks of bs bytes, some free,
// some with one unused byte, some exact.
func segLFHBlocks(n int, bs uint64, seed uint64) []uint64 {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([]uint64, n)
	for i := range out {
		switch i % 5 {
		case 0:
			out[i] = 0
		case 1:
			out[i] = bs
		case 2:
			out[i] = bs - 1
		default:
			out[i] = bs - uint64(rng.IntN(int(bs/2)))
		}
	}
	return out
}

// segHeapSpec is a segment heap with every kind of page range in two
// page segments, and large blocks.
func segHeapSpec(gran uint64) dumpbuild.SegHeap {
	return dumpbuild.SegHeap{
		Segments: []dumpbuild.SegSegment{
			{Ranges: []dumpbuild.SegRange{
				{Kind: dumpbuild.SegAlloc, Request: 0x21234},
				{Kind: dumpbuild.SegVS, VS: segChunks(60, gran, 1)},
				{Kind: dumpbuild.SegFree, Pages: 5},
				{Kind: dumpbuild.SegLFH, LFHBlockSize: uint16(4 * gran), LFH: segLFHBlocks(150, 4*gran, 2)},
				{Kind: dumpbuild.SegLFH, LFHBlockSize: 0x110, LFH: segLFHBlocks(40, 0x110, 3)},
				{Kind: dumpbuild.SegAlloc, Pages: 2},
			}},
			{Ranges: []dumpbuild.SegRange{
				{Kind: dumpbuild.SegLFH, LFHBlockSize: uint16(gran), LFH: segLFHBlocks(300, gran, 4)},
				{Kind: dumpbuild.SegVS, VS: segChunks(25, gran, 5)},
				{Kind: dumpbuild.SegAlloc, Request: 0x1001},
			}},
		},
		Large: []uint64{0x20001, 0x40000, 0x33333},
	}
}

// segExpect converts a builder block of a segment heap to what Walk reports.
func segExpect(pb dumpbuild.PlacedBlock) Block {
	b := expectBlock(pb)
	switch pb.Kind {
	case dumpbuild.SegBackEndBlock:
		b.Kind = SegBackEnd
	case dumpbuild.SegVSBlock:
		b.Kind = SegVS
	case dumpbuild.SegLFHBlock:
		b.Kind = SegLFH
	case dumpbuild.SegLargeBlock:
		b.Kind = SegLarge
	}
	return b
}

// walkAll walks h and returns its blocks and problems.
func walkAll(t testing.TB, h *Heap) ([]Block, []Problem) {
	var got []Block
	var probs []Problem
	if err := h.Walk(context.Background(), Visitor{
		Block:   func(b Block) bool { got = append(got, b); return true },
		Problem: func(p Problem) bool { probs = append(probs, p); return true },
	}); err != nil {
		t.Fatal(err)
	}
	return got, probs
}

// checkSegHeap compares a segment heap walk with the builder's truth.
func checkSegHeap(t *testing.T, name string, h *Heap, ph dumpbuild.PlacedHeap) {
	t.Helper()
	if h.Kind != SegmentHeap || h.Address != ph.Address {
		t.Fatalf("%s: heap %#x kind %v, want segment heap %#x", name, h.Address, h.Kind, ph.Address)
	}
	got, probs := walkAll(t, h)
	if len(probs) > 0 {
		t.Errorf("%s: problems %v", name, probs)
	}
	bad := 0
	for i := 0; i < min(len(got), len(ph.Blocks)) && bad < 5; i++ {
		if want := segExpect(ph.Blocks[i]); !sameBlock(got[i], want) || got[i].PrevSize != want.PrevSize {
			t.Errorf("%s block %d:\n got %s\nwant %s", name, i, fmtBlock(got[i]), fmtBlock(want))
			bad++
		}
	}
	if len(got) != len(ph.Blocks) {
		t.Errorf("%s: walked %d blocks, builder placed %d", name, len(got), len(ph.Blocks))
	}
}

type segCase struct {
	name  string
	arch  dump.Arch
	spec  dumpbuild.HeapProcess
	bits  int
	heaps int // index of the first segment heap in the view
}

func segCases() []segCase {
	return []segCase{
		{"19041-x64", dumpbuild.X64, dumpbuild.HeapProcess{Build: 19041, Heaps: []dumpbuild.NTHeap{{Blocks: allocs(10, 1)}},
			SegHeaps: []dumpbuild.SegHeap{segHeapSpec(16), {Segments: []dumpbuild.SegSegment{{Ranges: []dumpbuild.SegRange{{Kind: dumpbuild.SegVS, VS: segChunks(5, 16, 9)}}}}}}}, 0, 1},
		{"22631-x64", dumpbuild.X64, dumpbuild.HeapProcess{Build: 22631, HeapKey: 0x0123456789abcdef, SegLFHKey: 0x89abcdef,
			SegHeaps: []dumpbuild.SegHeap{segHeapSpec(16)}}, 0, 0},
		{"19045-x86", dumpbuild.X86, dumpbuild.HeapProcess{Build: 19045, Heaps: []dumpbuild.NTHeap{{Blocks: allocs(10, 2)}},
			SegHeaps: []dumpbuild.SegHeap{segHeapSpec(8)}}, 0, 1},
		{"19045-wow64", dumpbuild.X64, dumpbuild.HeapProcess{Build: 19045, Wow64: true, Heaps: []dumpbuild.NTHeap{{Blocks: allocs(10, 3)}},
			Heaps64: []dumpbuild.NTHeap{{Blocks: allocs(5, 4)}}, SegHeaps: []dumpbuild.SegHeap{segHeapSpec(8)}}, 32, 1},
	}
}

func TestSegmentHeapWalk(t *testing.T) {
	for _, c := range segCases() {
		t.Run(c.name, func(t *testing.T) {
			f, truth := build2(t, c.arch, c.spec)
			p, err := Open(f, c.bits)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Heaps) != len(truth.Heaps) {
				t.Fatalf("%d heaps, want %d", len(p.Heaps), len(truth.Heaps))
			}
			for i := c.heaps; i < len(p.Heaps); i++ {
				checkSegHeap(t, fmt.Sprintf("%s heap %d", c.name, i), p.Heaps[i], truth.Heaps[i])
			}
			k := p.segmentKeys(newReader(f))
			if !k.heapOK || k.heapKey != truth.HeapKey || !k.lfhOK || k.lfhKey != truth.SegLFHKey {
				t.Errorf("keys %+v, want HeapKey %#x LfhKey %#x", k, truth.HeapKey, truth.SegLFHKey)
			}
		})
	}
}

// Find returns the innermost block for addresses inside every block, and
// nothing past the segments.
func TestSegmentHeapFind(t *testing.T) {
	for _, c := range segCases() {
		t.Run(c.name, func(t *testing.T) {
			f, truth := build2(t, c.arch, c.spec)
			p, err := Open(f, c.bits)
			if err != nil {
				t.Fatal(err)
			}
			for _, ph := range truth.Heaps[c.heaps:] {
				for i, pb := range ph.Blocks {
					// A subsegment's own block is found only in its header.
					want := segExpect(pb)
					addrs := []uint64{pb.Entry, pb.Entry + pb.Size - 1, pb.User + pb.Size/3}
					if i+1 < len(ph.Blocks) && ph.Blocks[i+1].Entry < pb.Entry+pb.Size && ph.Blocks[i+1].Entry > pb.Entry {
						addrs = []uint64{pb.Entry, ph.Blocks[i+1].Entry - 1}
					}
					for _, a := range addrs {
						b, h, ok := p.Find(a)
						if !ok || h.Address != ph.Address || !sameBlock(b, want) {
							t.Fatalf("Find(%#x): %v %s, want %s", a, ok, fmtBlock(b), fmtBlock(want))
						}
					}
				}
			}
		})
	}
}

// Keys: without RtlpHpHeapGlobals HeapKey comes from agreeing segments or
// a VS chain and LFH blocks are not walked; with neither the page
// segments are not walked; 24H2 is not walked at all.
func TestSegmentHeapKeys(t *testing.T) {
	one := dumpbuild.SegHeap{Segments: []dumpbuild.SegSegment{{Ranges: []dumpbuild.SegRange{
		{Kind: dumpbuild.SegLFH, LFHBlockSize: 0x20, LFH: segLFHBlocks(20, 0x20, 1)}, {Kind: dumpbuild.SegAlloc, Pages: 1}}}}}
	oneVS := one
	oneVS.Segments = []dumpbuild.SegSegment{{Ranges: append([]dumpbuild.SegRange{{Kind: dumpbuild.SegVS, VS: segChunks(4, 16, 2)}}, one.Segments[0].Ranges...)}}
	cases := []struct {
		name  string
		spec  dumpbuild.HeapProcess
		blank []string // problem texts, in order
	}{
		{"segments agree", dumpbuild.HeapProcess{Build: 19041, NoHeapGlobals: true, SegHeaps: []dumpbuild.SegHeap{segHeapSpec(16)}},
			[]string{"blocks not walked: LfhKey not derivable", "blocks not walked: LfhKey not derivable", "blocks not walked: LfhKey not derivable"}},
		{"vs confirms", dumpbuild.HeapProcess{Build: 19041, NoHeapGlobals: true, SegHeaps: []dumpbuild.SegHeap{oneVS}},
			[]string{"blocks not walked: LfhKey not derivable"}},
		{"not derivable", dumpbuild.HeapProcess{Build: 19041, NoHeapGlobals: true, SegHeaps: []dumpbuild.SegHeap{one}},
			[]string{"segment heap: blocks are not walked in its page segments: HeapKey not derivable"}},
		{"24h2", dumpbuild.HeapProcess{Build: 26100, SegHeaps: []dumpbuild.SegHeap{segHeapSpec(16)}},
			[]string{"segment heap: blocks are not walked on build 26100"}},
		{"encoded tree", dumpbuild.HeapProcess{Build: 19041, SegHeaps: []dumpbuild.SegHeap{{Segments: one.Segments, Large: []uint64{0x30000}, EncodedTree: true}}},
			[]string{"the large-allocation tree is encoded"}},
	}
	for _, c := range cases {
		f, truth := build2(t, dumpbuild.X64, c.spec)
		p, err := Open(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, probs := walkAll(t, p.Heaps[0])
		if len(probs) != len(c.blank) {
			t.Errorf("%s: problems %v, want %d", c.name, probs, len(c.blank))
			continue
		}
		for i, pr := range probs {
			if pr.Kind != Unsupported || !strings.Contains(pr.What, c.blank[i]) {
				t.Errorf("%s: problem %v, want Unsupported %q", c.name, pr, c.blank[i])
			}
		}
		// What is walked matches the truth, less what the problems skip.
		ph := truth.Heaps[0]
		j := 0
		for _, b := range got {
			for j < len(ph.Blocks) && !sameBlock(b, segExpect(ph.Blocks[j])) {
				j++
			}
			if j == len(ph.Blocks) {
				t.Errorf("%s: walked %s, not placed", c.name, fmtBlock(b))
				break
			}
		}
	}
}
