package heap

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// A committed page missing from the dump is reported with the bytes it
// keeps from being walked, never guessed over; the rest of the heap walks.
func TestDroppedPage(t *testing.T) {
	for _, arch := range []dump.Arch{dumpbuild.X64, dumpbuild.X86} {
		g := uint64(16)
		build := uint32(19045)
		if arch == dumpbuild.X86 {
			g, build = 8, 7601
		}
		spec := dumpbuild.HeapProcess{Build: build, Heaps: []dumpbuild.NTHeap{fullHeap(g, true)}}
		_, truth := build2(t, arch, spec)
		// Drop the page holding the 50th block's header, and a page of
		// the extra segment.
		b50 := truth.Heaps[0].Blocks[50]
		seg1 := truth.Heaps[0].Segments[1]
		spec.Heaps[0].DropPages = []uint64{(b50.Entry + g/2) &^ 0xfff, seg1.FirstEntry + 0x1000&^0xfff}
		f, truth := build2(t, arch, spec)
		if len(truth.Heaps[0].Dropped) != 2 {
			t.Fatalf("builder dropped %v", truth.Heaps[0].Dropped)
		}
		p, err := Open(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkHeap(t, "dropped", p.Heaps[0], truth.Heaps[0])
		// Block sizes plus skipped bytes still cover each segment's
		// committed bytes.
		per := map[uint64]uint64{}
		p.Heaps[0].Walk(context.Background(), Visitor{
			Block: func(b Block) bool {
				if b.Kind == BackEnd {
					per[b.Segment] += b.Size
				}
				return true
			},
			Problem: func(pr Problem) bool {
				if pr.Kind != NotCaptured {
					t.Errorf("unexpected problem %v", pr)
				}
				per[pr.Segment] += pr.Skipped
				return true
			},
		})
		for _, s := range p.Heaps[0].Segments {
			if per[s.BaseAddress] != s.Committed() {
				t.Errorf("segment %#x: blocks + skipped = %#x, committed %#x", s.BaseAddress, per[s.BaseAddress], s.Committed())
			}
		}
	}
}

func build2(t testing.TB, arch dump.Arch, spec dumpbuild.HeapProcess) (*dump.File, *dumpbuild.HeapTruth) {
	return build(t, scenario{name: "custom", arch: arch, spec: spec})
}

// The probe corrects a wrong build: told Windows 10 1803, a 19045 heap
// with LFH is still read with the 1809+ layout.
func TestLayoutProbe(t *testing.T) {
	for _, arch := range []dump.Arch{dumpbuild.X64, dumpbuild.X86} {
		g := uint64(16)
		if arch == dumpbuild.X86 {
			g = 8
		}
		f, truth := build2(t, arch, dumpbuild.HeapProcess{Build: 19045, Heaps: []dumpbuild.NTHeap{fullHeap(g, true)}})
		p, err := Open(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, fam := range []Family{FamilyW7, FamilyW8, FamilyW10, FamilyGE, FamilyUnknown} {
			p.Family = fam
			l := p.chooseLayout(newReader(f), truth.Heaps[0].Address)
			if l.Family != FamilyRS5 && l.Family != FamilyGE {
				t.Errorf("%v: told %v, chose %s", arch, fam, l.Name())
			}
		}
	}
}

func TestWalkCancel(t *testing.T) {
	f, _ := build2(t, dumpbuild.X64, dumpbuild.HeapProcess{Heaps: []dumpbuild.NTHeap{{Blocks: allocs(20000, 3)}}})
	p, err := Open(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = p.Heaps[0].Walk(ctx, Visitor{Block: func(Block) bool {
		if n++; n == 100 {
			cancel()
		}
		return true
	}})
	if !errors.Is(err, context.Canceled) || n > 100+ctxEvery {
		t.Errorf("cancelled walk: err %v after %d blocks", err, n)
	}
	n = 0
	err = p.Heaps[0].Walk(context.Background(), Visitor{Block: func(Block) bool { n++; return n < 10 }})
	if err != nil || n != 10 {
		t.Errorf("stopped walk: err %v after %d blocks", err, n)
	}
}

// corruptionBase is a dump with every structure the walker follows, and
// the file ranges holding the heap memory.
func corruptionBase(t testing.TB, arch dump.Arch, build uint32) ([]byte, []dump.MemoryRange) {
	g := uint64(16)
	if arch == dumpbuild.X86 {
		g = 8
	}
	b := dumpbuild.New(arch)
	h := fullHeap(g, true)
	h.Blocks = h.Blocks[:60]
	h.Segments[0].Blocks = h.Segments[0].Blocks[:20]
	h.Virtual = []uint64{0x3000}
	if _, err := b.Heaps(dumpbuild.HeapProcess{Build: build, Heaps: []dumpbuild.NTHeap{h, {Blocks: allocs(20, 4)}}, SegmentHeaps: []uint64{0}}); err != nil {
		t.Fatal(err)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "base")
	if err != nil {
		t.Fatal(err)
	}
	return raw, f.MemoryRanges()
}

// exercise runs everything the package offers on a dump and fails if it
// takes too long.
func exercise(t testing.TB, raw []byte) {
	f, err := dump.OpenBytes(raw, "corrupt")
	if err != nil {
		return
	}
	start := time.Now()
	for _, bits := range []int{0, 32} {
		p, err := Open(f, bits)
		if err != nil {
			continue
		}
		for _, h := range p.Heaps {
			n := 0
			h.Walk(context.Background(), Visitor{
				Block:       func(b Block) bool { n++; return n < 1<<22 },
				Problem:     func(Problem) bool { return true },
				Uncommitted: func(*Segment, Range) bool { return true },
			})
			h.FreeList()
			for i := range h.Segments {
				s := &h.Segments[i]
				p.Find(s.FirstEntry + 0x40)
				p.Find(s.BaseAddress + 0x1234)
			}
			p.Find(h.Address + 0x800)
		}
		p.LFHKey()
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("walking a corrupt dump took %v", d)
	}
}

// patch writes v (of size n) at a file offset inside the memory ranges.
func patch(raw []byte, rs []dump.MemoryRange, pos uint64, v uint64, n int) {
	var total uint64
	for _, r := range rs {
		total += r.Size
	}
	pos %= total
	for _, r := range rs {
		if pos < r.Size {
			off := r.Offset + int64(pos)
			if off+int64(n) > int64(len(raw)) {
				return
			}
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], v)
			copy(raw[off:off+int64(n)], b[:n])
			return
		}
		pos -= r.Size
	}
}

// Seeded corruptions of heap memory: random words, zero sizes, list
// pointers aimed at themselves (cycles) or far away, huge counts. No
// panic, no endless loop.
func TestCorruptHeaps(t *testing.T) {
	for _, c := range []struct {
		arch  dump.Arch
		build uint32
	}{{dumpbuild.X64, 19045}, {dumpbuild.X86, 7601}, {dumpbuild.X86, 19045}, {dumpbuild.X64, 9600}} {
		base, rs := corruptionBase(t, c.arch, c.build)
		rng := rand.New(rand.NewPCG(uint64(c.build), 1))
		iters := 400
		if testing.Short() {
			iters = 50
		}
		for i := 0; i < iters; i++ {
			raw := append([]byte(nil), base...)
			for k := rng.IntN(8) + 1; k > 0; k-- {
				pos := rng.Uint64()
				switch rng.IntN(6) {
				case 0: // random bytes
					patch(raw, rs, pos, rng.Uint64(), 1+rng.IntN(8))
				case 1: // zero
					patch(raw, rs, pos&^7, 0, 8)
				case 2: // all ones: huge sizes and counts
					patch(raw, rs, pos&^1, ^uint64(0), 2)
				case 3: // a pointer to itself: list cycles
					r := rs[rng.IntN(len(rs))]
					a := r.Start + (pos%r.Size)&^7
					patch(raw, rs, posOf(rs, a), a, 8)
				case 4: // a pointer to another captured place
					r := rs[rng.IntN(len(rs))]
					patch(raw, rs, pos&^3, r.Start+rng.Uint64()%r.Size, 8)
				case 5: // a pointer far out of range
					patch(raw, rs, pos&^3, 0xdead0000|rng.Uint64()<<32, 8)
				}
			}
			exercise(t, raw)
		}
	}
}

// posOf returns the position in the concatenated ranges of address a.
func posOf(rs []dump.MemoryRange, a uint64) uint64 {
	var pos uint64
	for _, r := range rs {
		if a >= r.Start && a < r.End() {
			return pos + a - r.Start
		}
		pos += r.Size
	}
	return 0
}

// FuzzHeapMemory corrupts the heap memory of a builder dump with the
// fuzzer's bytes: each 12-byte record is a position (u32), a width (u8, 1–8)
// and a value.
func FuzzHeapMemory(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x10, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x40, 0x01, 0, 0, 2, 0xff, 0xff, 0, 0, 0, 0, 0})
	var bases [][]byte
	var ranges [][]dump.MemoryRange
	for _, c := range []struct {
		arch  dump.Arch
		build uint32
	}{{dumpbuild.X64, 19045}, {dumpbuild.X86, 7601}} {
		raw, rs := corruptionBase(f, c.arch, c.build)
		bases, ranges = append(bases, raw), append(ranges, rs)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, base := range bases {
			raw := append([]byte(nil), base...)
			for k := 0; k+12 <= len(data); k += 12 {
				pos := uint64(binary.LittleEndian.Uint32(data[k:]))
				n := int(data[k+4]%8) + 1
				v := binary.LittleEndian.Uint64(append(data[k+5:k+12:k+12], 0))
				patch(raw, ranges[i], pos, v, n)
			}
			exercise(t, raw)
		}
	})
}

// Targeted corruptions: each is reported as what it is, and the walk
// resumes where it can (the next committed run, segment or list).
func TestReportedCorruption(t *testing.T) {
	g := uint64(16)
	spec := dumpbuild.HeapProcess{Heaps: []dumpbuild.NTHeap{fullHeap(g, true)}}
	b := dumpbuild.New(dumpbuild.X64)
	truth, err := b.Heaps(spec)
	if err != nil {
		t.Fatal(err)
	}
	base, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f0, _ := dump.OpenBytes(base, "base")
	rs := f0.MemoryRanges()
	ph := truth.Heaps[0]
	seg0 := ph.Segments[0]
	runEnd := seg0.UCRs[0][0] // the first run ends at the first uncommitted range
	var victim, next dumpbuild.PlacedBlock
	for i, pb := range ph.Blocks {
		if i > 30 && pb.Kind == dumpbuild.BackEndBlock && pb.Busy && !pb.Internal {
			victim, next = pb, ph.Blocks[i+1]
			break
		}
	}
	cases := []struct {
		name  string
		patch func(raw []byte)
		kind  ProblemKind
		addr  uint64
		skip  uint64
	}{
		{"checksum", func(raw []byte) { flipByte(raw, rs, victim.Entry+8+3) }, BadChecksum, victim.Entry, runEnd - victim.Entry},
		{"prevsize", func(raw []byte) { flipByte(raw, rs, next.Entry+8+5) }, BadPrevSize, next.Entry, 0},
		{"segment list cycle", func(raw []byte) {
			// The extra segment's Flink points back at itself.
			s1 := ph.Segments[1].Base + 0x18
			patch(raw, rs, posOf(rs, s1), s1, 8)
		}, BadList, ph.Segments[1].Base + 0x18, 0},
		{"virtual list out of range", func(raw []byte) {
			patch(raw, rs, posOf(rs, ph.Address+0x110), 0xdead00000000, 8)
		}, NotCaptured, 0xdead00000000, 0},
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
		var probs []Problem
		n := 0
		p.Heaps[0].Walk(context.Background(), Visitor{
			Block:   func(Block) bool { n++; return true },
			Problem: func(pr Problem) bool { probs = append(probs, pr); return true },
		})
		found := false
		for _, pr := range probs {
			found = found || pr.Kind == c.kind && pr.Addr == c.addr && pr.Skipped == c.skip
		}
		if !found {
			t.Errorf("%s: problems %v, want %v at %#x skipping %#x", c.name, probs, c.kind, c.addr, c.skip)
		}
		if n < len(ph.Blocks)/3 {
			t.Errorf("%s: only %d of %d blocks walked", c.name, n, len(ph.Blocks))
		}
	}
}

func flipByte(raw []byte, rs []dump.MemoryRange, a uint64) {
	pos := posOf(rs, a)
	for _, r := range rs {
		if pos < r.Size {
			raw[r.Offset+int64(pos)] ^= 0x5a
			return
		}
		pos -= r.Size
	}
}
