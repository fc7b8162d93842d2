package heap

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// segBase builds a dump with a segment heap (plus an NT heap) and returns
// it, its truth and the memory ranges of the segment heap and its
// metadata (heap, page segments).
func segBase(t testing.TB, arch dump.Arch, build uint32) ([]byte, *dumpbuild.HeapTruth, []dump.MemoryRange) {
	gran := uint64(16)
	if arch == dumpbuild.X86 {
		gran = 8
	}
	b := dumpbuild.New(arch)
	spec := segHeapSpec(gran)
	spec.Segments[0].Ranges[1].VS = spec.Segments[0].Ranges[1].VS[:20]
	truth, err := b.Heaps(dumpbuild.HeapProcess{Build: build, Heaps: []dumpbuild.NTHeap{{Blocks: allocs(10, 1)}}, SegHeaps: []dumpbuild.SegHeap{spec}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "segbase")
	if err != nil {
		t.Fatal(err)
	}
	ph := truth.Heaps[1]
	var rs []dump.MemoryRange
	for _, r := range f.MemoryRanges() {
		in := r.Start >= ph.Address && r.Start < ph.Address+0x10000
		for _, s := range ph.PageSegments {
			in = in || r.Start >= s && r.Start < s+0x100000
		}
		if in {
			rs = append(rs, r)
		}
	}
	return raw, truth, rs
}

// segExercise walks, finds and lists everything of a (corrupt) dump, and
// fails on a panic or when it takes too long.
func segExercise(t testing.TB, raw []byte, truth *dumpbuild.HeapTruth) {
	start := time.Now()
	exercise(t, raw)
	f, err := dump.OpenBytes(raw, "corrupt")
	if err != nil {
		return
	}
	p, err := Open(f, 0)
	if err != nil {
		return
	}
	for _, h := range p.Heaps {
		if h.Seg == nil {
			continue
		}
		for _, s := range h.Seg.Segments {
			for off := uint64(0); off < min(s.Size, 0x1000000); off += 0x3fd0 {
				p.Find(s.Address + off)
			}
		}
	}
	for _, pb := range truth.Heaps[1].Blocks {
		p.Find(pb.Entry)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a corrupt segment heap took %v", d)
	}
}

// Random corruptions of segment heap memory: no panic, no endless loop.
func TestSegmentHeapCorrupt(t *testing.T) {
	for _, c := range []struct {
		arch  dump.Arch
		build uint32
	}{{dumpbuild.X64, 19041}, {dumpbuild.X86, 19045}} {
		base, truth, rs := segBase(t, c.arch, c.build)
		rng := rand.New(rand.NewPCG(uint64(c.build), 7))
		iters := 300
		if testing.Short() {
			iters = 40
		}
		for range iters {
			raw := append([]byte(nil), base...)
			for k := rng.IntN(6) + 1; k > 0; k-- {
				pos := rng.Uint64()
				switch rng.IntN(6) {
				case 0:
					patch(raw, rs, pos, rng.Uint64(), 1+rng.IntN(8))
				case 1:
					patch(raw, rs, pos&^7, 0, 8)
				case 2:
					patch(raw, rs, pos&^1, ^uint64(0), 2)
				case 3: // a pointer to itself
					r := rs[rng.IntN(len(rs))]
					a := r.Start + (pos%r.Size)&^7
					patch(raw, rs, posOf(rs, a), a, 8)
				case 4: // a pointer into the heap's memory
					r := rs[rng.IntN(len(rs))]
					patch(raw, rs, pos&^7, r.Start+rng.Uint64()%r.Size, 8)
				case 5: // a pointer far out of range
					patch(raw, rs, pos&^7, 0xdead0000|rng.Uint64()<<32, 8)
				}
			}
			segExercise(t, raw, truth)
		}
	}
}

// FuzzSegmentHeap corrupts the segment heap memory of a builder dump with
// the fuzzer's bytes: 12-byte records of position (u32), width (u8, 1–8)
// and value.
func FuzzSegmentHeap(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x10, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x18, 0x20, 0, 0, 1, 0xff, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x30, 0x40, 0, 0, 8, 0xad, 0xde, 0, 0, 0, 0, 0})
	base, truth, rs := segBase(f, dumpbuild.X64, 19041)
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := append([]byte(nil), base...)
		for k := 0; k+12 <= len(data); k += 12 {
			pos := uint64(binary.LittleEndian.Uint32(data[k:]))
			n := int(data[k+4]%8) + 1
			v := binary.LittleEndian.Uint64(append(data[k+5:k+12:k+12], 0))
			patch(raw, rs, pos, v, n)
		}
		segExercise(t, raw, truth)
	})
}

// Targeted corruptions are reported as what they are, with the bytes they
// keep from being walked, and the walk goes on with the next page
// segment or the large blocks.
func TestSegmentHeapReported(t *testing.T) {
	base, truth, _ := segBase(t, dumpbuild.X64, 19041)
	f0, _ := dump.OpenBytes(base, "base")
	rs := f0.MemoryRanges()
	ph := truth.Heaps[1]
	seg0, seg1 := ph.PageSegments[0], ph.PageSegments[1]
	key := truth.HeapKey
	var vsSub, vsChunk, vsEnd, lfhSub, lfhSize, rangeStart uint64
	var large []dumpbuild.PlacedBlock
	for i, pb := range ph.Blocks {
		switch {
		case pb.Kind == dumpbuild.SegBackEndBlock && pb.Internal && !pb.SegmentHeader && ph.Blocks[i+1].Kind == dumpbuild.SegVSBlock && vsSub == 0:
			vsSub, vsEnd, vsChunk = pb.Entry, pb.Entry+pb.Size, ph.Blocks[i+5].Entry
		case pb.Kind == dumpbuild.SegBackEndBlock && pb.Internal && !pb.SegmentHeader && ph.Blocks[i+1].Kind == dumpbuild.SegLFHBlock && lfhSub == 0:
			lfhSub, lfhSize = pb.Entry, pb.Size
		case pb.Kind == dumpbuild.SegBackEndBlock && pb.Busy && !pb.Internal && pb.Segment == seg1:
			rangeStart = pb.Entry
		case pb.Kind == dumpbuild.SegLargeBlock:
			large = append(large, pb)
		}
	}
	u64 := func(a, v uint64) func([]byte) { return func(raw []byte) { patch(raw, rs, posOf(rs, a), v, 8) } }
	root := rd64(t, f0, ph.Address+0x48)
	leaf := large[0].Segment // the smallest address: the root's left child
	cases := []struct {
		name  string
		patch func([]byte)
		kind  ProblemKind
		addr  uint64
		skip  uint64
		still uint64 // a block still walked
	}{
		{"segment signature", u64(seg1+0x10, 0x1234), BadHeader, seg1 + 0x10, 0x100000, large[0].Entry},
		{"vs size 0", u64(vsChunk, vsChunk^key), BadHeader, vsChunk, vsEnd - vsChunk, rangeStart},
		{"vs signature", u64(vsSub+0x20, 0x11112222), BadHeader, vsSub, vsEnd - vsSub, rangeStart},
		{"lfh offsets", func(raw []byte) {
			patch(raw, rs, posOf(rs, lfhSub+0x28), uint64(truth.SegLFHKey^uint32(lfhSub>>12)), 4)
		},
			LFHMismatch, lfhSub, lfhSize, rangeStart},
		{"descriptor units 0", func(raw []byte) { patch(raw, rs, posOf(rs, seg1+(rangeStart-seg1)/0x1000*0x20+0x1f), 0, 1) },
			BadHeader, rangeStart, seg1 + 0x100000 - rangeStart, vsChunk},
		{"descriptor not first", func(raw []byte) { patch(raw, rs, posOf(rs, seg1+(rangeStart-seg1)/0x1000*0x20+0x18), 1, 1) },
			BadHeader, rangeStart, seg1 + 0x100000 - rangeStart, vsChunk},
		{"large tree cycle", u64(leaf, root), BadList, root, 0, rangeStart},
		{"large tree out of range", u64(leaf+8, 0xdead00000000), NotCaptured, 0xdead00000000, 0, large[0].Entry},
		{"segment list cycle", u64(seg0, seg0), BadList, seg0, 0, vsChunk},
	}
	for _, c := range cases {
		raw := append([]byte(nil), base...)
		c.patch(raw)
		f, err := dump.OpenBytes(raw, c.name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Open(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, probs := walkAll(t, p.Heaps[1])
		found := false
		for _, pr := range probs {
			found = found || pr.Kind == c.kind && pr.Addr == c.addr && pr.Skipped == c.skip
		}
		if !found {
			t.Errorf("%s: problems %v, want %v at %#x skipping %#x", c.name, probs, c.kind, c.addr, c.skip)
		}
		still := false
		for _, b := range got {
			still = still || b.Entry == c.still
		}
		if !still || len(got) < len(ph.Blocks)/4 {
			t.Errorf("%s: %d of %d blocks walked; block %#x found: %v", c.name, len(got), len(ph.Blocks), c.still, still)
		}
	}
}

// A page missing from the dump stops the walk of its VS subsegment there,
// with the bytes not walked; the rest of the heap walks.
func TestSegmentHeapDroppedPage(t *testing.T) {
	spec := segHeapSpec(16)
	_, truth := build2(t, dumpbuild.X64, dumpbuild.HeapProcess{Build: 19041, SegHeaps: []dumpbuild.SegHeap{spec}})
	ph := truth.Heaps[0]
	// The page of the 30th VS chunk of the first subsegment.
	var chunk dumpbuild.PlacedBlock
	n := 0
	var end uint64
	for i, pb := range ph.Blocks {
		if pb.Kind == dumpbuild.SegBackEndBlock && pb.Internal && i+1 < len(ph.Blocks) && ph.Blocks[i+1].Kind == dumpbuild.SegVSBlock && end == 0 {
			end = pb.Entry + pb.Size
		}
		if pb.Kind == dumpbuild.SegVSBlock {
			if n++; n == 30 {
				chunk = pb
				break
			}
		}
	}
	page := chunk.Entry &^ 0xfff
	spec.Segments[0].DropPages = []int{int((page - ph.PageSegments[0]) / 0x1000)}
	f, truth := build2(t, dumpbuild.X64, dumpbuild.HeapProcess{Build: 19041, SegHeaps: []dumpbuild.SegHeap{spec}})
	p, err := Open(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, probs := walkAll(t, p.Heaps[0])
	// The first chunk whose header is in the dropped page.
	var first dumpbuild.PlacedBlock
	for _, pb := range truth.Heaps[0].Blocks {
		if pb.Dropped {
			first = pb
			break
		}
	}
	found := false
	for _, pr := range probs {
		found = found || pr.Kind == NotCaptured && pr.Addr == first.Entry && pr.Skipped == end-first.Entry
	}
	if !found || first.Entry == 0 {
		t.Errorf("problems %v, want not captured at %#x skipping %#x", probs, first.Entry, end-first.Entry)
	}
	var skipped int
	for _, pb := range truth.Heaps[0].Blocks {
		if pb.Kind == dumpbuild.SegVSBlock && pb.Segment == chunk.Segment && pb.Entry >= first.Entry {
			skipped++
		}
	}
	if len(got) != len(truth.Heaps[0].Blocks)-skipped {
		t.Errorf("walked %d blocks, want %d", len(got), len(truth.Heaps[0].Blocks)-skipped)
	}
}

func rd64(t testing.TB, f *dump.File, a uint64) uint64 {
	v, err := f.ReadUint(a, 8)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A cancelled walk of a segment heap stops with the context's error.
func TestSegmentHeapCancel(t *testing.T) {
	f, _ := build2(t, dumpbuild.X64, dumpbuild.HeapProcess{Build: 19041, SegHeaps: []dumpbuild.SegHeap{segHeapSpec(16)}})
	p, err := Open(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Heaps[0].Walk(ctx, Visitor{}); err == nil {
		t.Error("cancelled walk returned nil")
	}
}
