package commands

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// Builder dumps: heaps laid out byte for byte by dumpbuild, with the truth
// of every block placed, for golden transcripts of every !heap form and for
// exact-set checks of -stat, -flt, -x and -srch.

// heapMarker64 and heapMarker32 are the pointer-sized values -srch looks
// for; heapBytes is a byte pattern placed at an odd offset.
const (
	heapMarker64 = 0x1122334455667788
	heapMarker32 = 0x5aa5c33c
)

var heapBytes = []byte("wdb-heap-pattern")

// heapLayout is one builder dump.
type heapLayout struct {
	name string
	arch dump.Arch
	spec dumpbuild.HeapProcess
	// poke, when set, writes more memory once the heaps are built.
	poke func(b *dumpbuild.Builder, t *dumpbuild.HeapTruth)
}

// segHeapLayout is a 19041 x64 segment heap with every kind of page range
// and large blocks.
func segHeapLayout() dumpbuild.SegHeap {
	var vs []dumpbuild.VSChunk
	for i := range 12 {
		if i%4 == 3 {
			vs = append(vs, dumpbuild.VSChunk{Free: 0x100})
			continue
		}
		vs = append(vs, dumpbuild.VSChunk{Request: 0x40 + uint64(i)*0x18})
	}
	vs = append(vs, dumpbuild.VSChunk{Request: 0x60, Internal: true})
	lfh := []uint64{0x30, 0, 0x2f, 0x20, 0x30, 0, 0x21, 0x30}
	return dumpbuild.SegHeap{
		Segments: []dumpbuild.SegSegment{{Ranges: []dumpbuild.SegRange{
			{Kind: dumpbuild.SegAlloc, Request: 0x21234},
			{Kind: dumpbuild.SegVS, VS: vs},
			{Kind: dumpbuild.SegFree, Pages: 3},
			{Kind: dumpbuild.SegLFH, LFHBlockSize: 0x30, LFH: lfh},
			{Kind: dumpbuild.SegAlloc, Pages: 2},
		}}},
		Large: []uint64{0x20001, 0x33333},
	}
}

// pokeSegMarkers writes the -srch markers into one busy block of each
// segment heap kind.
func pokeSegMarkers(b *dumpbuild.Builder, t *dumpbuild.HeapTruth) {
	done := map[dumpbuild.BlockKind]int{}
	for _, ph := range t.Heaps {
		if !ph.Segment {
			continue
		}
		for _, pb := range ph.Blocks {
			if !pb.Busy || pb.Internal || pb.SegmentHeader || pb.UserSize < 0x20 || done[pb.Kind] >= 2 {
				continue
			}
			b.Memory(pb.User, markerData(8, 1+done[pb.Kind]))
			done[pb.Kind]++
		}
	}
}

// markerData is user data holding the pointer-sized marker at an aligned
// offset, or the byte pattern at an odd one.
func markerData(ps int, kind int) []byte {
	switch kind {
	case 1:
		b := make([]byte, 16)
		if ps == 4 {
			binary.LittleEndian.PutUint32(b[8:], heapMarker32)
		} else {
			binary.LittleEndian.PutUint64(b[8:], heapMarker64)
		}
		return b
	case 2:
		return append([]byte{1, 2, 3}, heapBytes...)
	}
	return nil
}

// heapBlocks is a deterministic mix of back-end blocks: busy ones with
// each UnusedBytes form, free ones, fill and extra flags, an uncommitted
// gap, and data for -srch.
func heapBlocks(ps int, n int, seed uint64) []dumpbuild.Alloc {
	var out []dumpbuild.Alloc
	x := seed | 1
	lastFree := false
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		switch {
		case i == n/2:
			out = append(out, dumpbuild.Alloc{Gap: 2})
		case x%5 == 0 && !lastFree:
			out = append(out, dumpbuild.Alloc{Free: true, Size: 0x20 + x%0x100})
			lastFree = true
			continue
		case x%11 == 0:
			out = append(out, dumpbuild.Alloc{Size: 0x30, Pad: 5})
		case x%13 == 0:
			out = append(out, dumpbuild.Alloc{Size: 0x28, Ext: true})
		case i%7 == 3:
			out = append(out, dumpbuild.Alloc{Size: 0x40, Data: markerData(ps, 1)})
		case i%9 == 4:
			out = append(out, dumpbuild.Alloc{Size: 0x58, Data: markerData(ps, 2)})
		default:
			out = append(out, dumpbuild.Alloc{Size: 0x10 + x%0x90, Flags: uint8(x>>8) & 0x06})
		}
		lastFree = false
	}
	return out
}

func heapLFH(gran uint64) []dumpbuild.LFHSubsegment {
	var subs []dumpbuild.LFHSubsegment
	for k, units := range []uint16{2, 5} {
		req := make([]uint64, 12+k*4)
		for i := range req {
			if (i+k)%3 != 0 {
				req[i] = uint64(units)*gran - gran - uint64(i%3)
			}
		}
		subs = append(subs, dumpbuild.LFHSubsegment{BlockUnits: units, Requested: req})
	}
	return subs
}

// heapSpec is the main heap of a layout: blocks, an extra segment, two
// virtual blocks and, when lfh, two LFH subsegments.
func heapSpec(ps int, lfh bool) dumpbuild.NTHeap {
	gran := uint64(2 * ps)
	h := dumpbuild.NTHeap{
		Flags:    0x40000062,
		Blocks:   heapBlocks(ps, 40, 0x5eed),
		Virtual:  []uint64{0x12345, 0x100000},
		Segments: []dumpbuild.NTSegment{{Blocks: heapBlocks(ps, 8, 0x77)}},
	}
	if lfh {
		h.LFH = heapLFH(gran)
	}
	return h
}

func smallHeap(ps int) dumpbuild.NTHeap {
	return dumpbuild.NTHeap{Blocks: []dumpbuild.Alloc{{Size: 0x20}, {Size: 0x28, Data: markerData(ps, 1)}, {Free: true, Size: 0x40}, {Size: 0x18}}, NoEncode: true}
}

var heapLayouts = []heapLayout{
	{name: "w7_x86", arch: dumpbuild.X86, spec: dumpbuild.HeapProcess{Build: 7601, NtGlobalFlag: 0x70,
		Heaps: []dumpbuild.NTHeap{heapSpec(4, true), smallHeap(4)}}},
	{name: "win10_x64_lfh", arch: dumpbuild.X64, spec: dumpbuild.HeapProcess{Build: 19045,
		Heaps: []dumpbuild.NTHeap{heapSpec(8, true), smallHeap(8)}, SegmentHeaps: []uint64{0}}},
	{name: "win11_24h2_x64", arch: dumpbuild.X64, spec: dumpbuild.HeapProcess{Build: 26100, NtGlobalFlag: 0x1000,
		Heaps: []dumpbuild.NTHeap{heapSpec(8, true), smallHeap(8)}}},
	{name: "wow64_x86", arch: dumpbuild.X64, spec: dumpbuild.HeapProcess{Build: 19045, Wow64: true,
		Heaps: []dumpbuild.NTHeap{heapSpec(4, true), smallHeap(4)}, Heaps64: []dumpbuild.NTHeap{smallHeap(8)}}},
	{name: "win10_x64_seg", arch: dumpbuild.X64, spec: dumpbuild.HeapProcess{Build: 19041,
		Heaps: []dumpbuild.NTHeap{smallHeap(8)}, SegHeaps: []dumpbuild.SegHeap{segHeapLayout()}}, poke: pokeSegMarkers},
}

// builtHeap is a layout's dump and truth, built once per test binary.
type builtHeap struct {
	raw   []byte
	truth *dumpbuild.HeapTruth
	err   error
}

var (
	builtMu   sync.Mutex
	builtDump = map[string]*builtHeap{}
)

func buildHeapLayout(t testing.TB, l heapLayout) ([]byte, *dumpbuild.HeapTruth) {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	b, ok := builtDump[l.name]
	if !ok {
		b = &builtHeap{}
		bl := dumpbuild.New(l.arch)
		b.truth, b.err = bl.Heaps(l.spec)
		if b.err == nil && l.poke != nil {
			l.poke(bl, b.truth)
		}
		if b.err == nil {
			b.raw, b.err = bl.Bytes()
		}
		builtDump[l.name] = b
	}
	if b.err != nil {
		t.Fatalf("%s: %v", l.name, b.err)
	}
	return b.raw, b.truth
}

// heapSession writes the layout's dump to a temporary file and opens a
// session on it.
func heapSession(t testing.TB, l heapLayout) (*Session, *bytes.Buffer, *dumpbuild.HeapTruth) {
	t.Helper()
	raw, truth := buildHeapLayout(t, l)
	path := filepath.Join(t.TempDir(), l.name+".dmp")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	s, out := openSession(t, path)
	return s, out, truth
}

func heapLayoutByName(t testing.TB, name string) heapLayout {
	for _, l := range heapLayouts {
		if l.name == name {
			return l
		}
	}
	t.Fatalf("no heap layout %s", name)
	return heapLayout{}
}

func TestHeapGoldenBuilder(t *testing.T) {
	for _, l := range heapLayouts {
		t.Run(l.name, func(t *testing.T) {
			s, out, _ := heapSession(t, l)
			runGoldenSession(t, s, out, "heap_"+l.name+".txt")
		})
	}
}

func TestHeapGoldenCorpus(t *testing.T) {
	for _, c := range []struct{ file, dump string }{
		{"simple_parse_heap.txt", simpleParseDump},
		{"targetapp_stacktest_wow64_heap.txt", goldenWow64},
	} {
		t.Run(c.file, func(t *testing.T) {
			s, out := openSession(t, corpusDump(t, c.dump))
			runGoldenSession(t, s, out, c.file)
		})
	}
}

// heapRun runs one !heap command through the registry and returns its
// typed result.
func heapRun(t testing.TB, s *Session, args string) (Result, error) {
	t.Helper()
	return runHeap(s, &Invocation{Name: "!heap", Raw: "!heap", Args: args, Line: "!heap " + args})
}

func mustHeap[T Result](t testing.TB, s *Session, args string) T {
	t.Helper()
	r, err := heapRun(t, s, args)
	if err != nil {
		t.Fatalf("!heap %s: %v", args, err)
	}
	v, ok := r.(T)
	if !ok {
		t.Fatalf("!heap %s: result %T", args, r)
	}
	return v
}

// placedSet is the truth of the heap set the session views.
func placedSet(s *Session, truth *dumpbuild.HeapTruth) []dumpbuild.PlacedHeap {
	if s.Target.IsWow64() && !s.x86View() {
		return truth.Heaps64
	}
	return truth.Heaps
}

func placedState(pb *dumpbuild.PlacedBlock) string {
	switch {
	case !pb.Busy:
		return "free"
	case pb.Internal:
		return "internal"
	}
	return "busy"
}

// views lists, per layout, the effective machines to check.
func views(l heapLayout) []string {
	if l.spec.Wow64 {
		return []string{"amd64", "x86"}
	}
	return []string{""}
}

func setView(t testing.TB, s *Session, v string) {
	t.Helper()
	if v != "" {
		if _, err := runEffmach(s, &Invocation{Name: ".effmach", Args: v}); err != nil {
			t.Fatal(err)
		}
	}
}

// -stat counts exactly the busy blocks the builder placed, by user size:
// back end, LFH chunks and virtual blocks; free blocks, LFH containers and
// the heap's internal blocks are not counted.
func TestHeapStatExact(t *testing.T) {
	for _, l := range heapLayouts {
		for _, v := range views(l) {
			t.Run(l.name+v, func(t *testing.T) {
				s, _, truth := heapSession(t, l)
				setView(t, s, v)
				r := mustHeap[*HeapStatResult](t, s, "-stat -grp S 0n100000")
				placed := placedSet(s, truth)
				if len(r.Heaps) != len(placed) {
					t.Fatalf("%d heaps, want %d", len(r.Heaps), len(placed))
				}
				for i, ph := range placed {
					want := map[uint64]uint64{}
					var busy uint64
					kinds := map[dumpbuild.BlockKind]int{}
					for _, pb := range ph.Blocks {
						if pb.Busy && !pb.Internal && !pb.SegmentHeader {
							want[pb.UserSize]++
							busy += pb.UserSize
							kinds[pb.Kind]++
						}
					}
					got := map[uint64]uint64{}
					var total float64
					for _, row := range r.Heaps[i].Rows {
						got[row.Size] = row.Count
						total += row.Percent
						if row.Total != row.Size*row.Count {
							t.Errorf("row %+v: total", row)
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(want) || r.Heaps[i].BusyBytes != busy {
						t.Errorf("heap %#x: -stat %v (%#x busy bytes), builder placed %v (%#x)", ph.Address, got, r.Heaps[i].BusyBytes, want, busy)
					}
					if len(want) > 0 && (total < 99.9 || total > 100.1) {
						t.Errorf("heap %#x: percents add up to %.2f", ph.Address, total)
					}
					if ph.LFH != 0 && i == 0 && (kinds[dumpbuild.LFHBlock] == 0 || kinds[dumpbuild.VirtualBlock] == 0 || kinds[dumpbuild.BackEndBlock] == 0) {
						t.Errorf("heap %#x: the truth lacks a block kind: %v", ph.Address, kinds)
					}
				}
				// Sorted by total, largest first, 20 rows by default.
				d := mustHeap[*HeapStatResult](t, s, "-stat")
				for _, h := range d.Heaps {
					if len(h.Rows) > 20 {
						t.Errorf("heap %#x: %d rows by default", h.Heap, len(h.Rows))
					}
					if !sort.SliceIsSorted(h.Rows, func(a, b int) bool { return h.Rows[a].Total > h.Rows[b].Total }) {
						t.Errorf("heap %#x: rows not sorted by total: %+v", h.Heap, h.Rows)
					}
				}
			})
		}
	}
}

// -flt s and -flt r list exactly the blocks of that user size, busy and
// free, in every heap.
func TestHeapFilterExact(t *testing.T) {
	for _, l := range heapLayouts {
		for _, v := range views(l) {
			t.Run(l.name+v, func(t *testing.T) {
				s, _, truth := heapSession(t, l)
				setView(t, s, v)
				placed := placedSet(s, truth)
				sizes := map[uint64]bool{}
				for _, ph := range placed {
					for _, pb := range ph.Blocks {
						sizes[pb.UserSize] = true
					}
				}
				entries := func(r *HeapFilterResult) map[uint64]string {
					m := map[uint64]string{}
					for _, h := range r.Heaps {
						for _, b := range h.Blocks {
							m[b.Entry] = b.State + "/" + b.Kind
						}
					}
					return m
				}
				want := func(lo, hi uint64) map[uint64]string {
					m := map[uint64]string{}
					for _, ph := range placed {
						for _, pb := range ph.Blocks {
							if pb.UserSize >= lo && pb.UserSize < hi && !segHidden(&pb) {
								m[pb.Entry] = placedState(&pb) + "/" + placedKind(&pb)
							}
						}
					}
					return m
				}
				n := 0
				for size := range sizes {
					got := entries(mustHeap[*HeapFilterResult](t, s, fmt.Sprintf("-flt s %x", size)))
					if w := want(size, size+1); fmt.Sprint(got) != fmt.Sprint(w) {
						t.Errorf("-flt s %x: %v, want %v", size, got, w)
					}
					n++
				}
				got := entries(mustHeap[*HeapFilterResult](t, s, "-flt r 10 40"))
				if w := want(0x10, 0x40); fmt.Sprint(got) != fmt.Sprint(w) || len(w) == 0 {
					t.Errorf("-flt r 10 40: %v, want %v", got, w)
				}
				if n < 10 && placed[0].LFH != 0 {
					t.Errorf("only %d sizes checked", n)
				}
			})
		}
	}
}

// placedKind is the Kind string of the block the builder placed.
func placedKind(pb *dumpbuild.PlacedBlock) string {
	switch pb.Kind {
	case dumpbuild.SegBackEndBlock:
		return "segment back end"
	case dumpbuild.SegVSBlock:
		return "VS"
	case dumpbuild.SegLFHBlock:
		return "segment LFH"
	case dumpbuild.SegLargeBlock:
		return "large"
	}
	return []string{"back end", "LFH", "virtual"}[pb.Kind]
}

// segHidden: -flt leaves out a segment heap's internal blocks and free
// page ranges.
func segHidden(pb *dumpbuild.PlacedBlock) bool {
	switch pb.Kind {
	case dumpbuild.SegBackEndBlock:
		return !pb.Busy || pb.Internal || pb.SegmentHeader
	case dumpbuild.SegVSBlock, dumpbuild.SegLFHBlock, dumpbuild.SegLargeBlock:
		return pb.Busy && pb.Internal
	}
	return false
}

// -x finds the block the builder placed for its header, its user data and
// its last byte: back end (busy and free), LFH chunks and virtual blocks.
func TestHeapFindExact(t *testing.T) {
	for _, l := range heapLayouts {
		for _, v := range views(l) {
			t.Run(l.name+v, func(t *testing.T) {
				s, _, truth := heapSession(t, l)
				setView(t, s, v)
				kinds := map[string]int{}
				for _, ph := range placedSet(s, truth) {
					if ph.Segment {
						continue
					}
					for _, pb := range ph.Blocks {
						end := pb.Entry + pb.Size - 1
						if pb.Kind == dumpbuild.VirtualBlock {
							end = pb.Segment + pb.Size - 1
						}
						for _, a := range []uint64{pb.Entry, pb.User, end} {
							if pb.LFHContainer && a > pb.User+0x10 {
								continue // inside a chunk: found as the chunk
							}
							r := mustHeap[*HeapFindResult](t, s, fmt.Sprintf("-x %x", a))
							b := r.Block
							if b.Entry != pb.Entry || b.User != pb.User || b.Heap != ph.Address || b.Size != pb.Size || b.UserSize != pb.UserSize || b.State != placedState(&pb) {
								t.Fatalf("-x %x: %+v, want %+v", a, b, pb)
							}
						}
						kinds[placedState(&pb)+"/"+fmt.Sprint(pb.Kind)]++
					}
				}
				want := []string{"busy/0", "free/0", "internal/0"}
				if placedSet(s, truth)[0].LFH != 0 {
					want = append(want, "busy/1", "free/1", "busy/2")
				}
				for _, k := range want {
					if kinds[k] == 0 {
						t.Errorf("no %s block checked: %v", k, kinds)
					}
				}
				if _, err := heapRun(t, s, "-x 1"); err == nil {
					t.Errorf("-x 1 found a block")
				}
			})
		}
	}
}

// -srch finds exactly the busy blocks whose data holds the pattern: the
// pointer-sized marker by default, the byte pattern with -b or -a.
func TestHeapSearchExact(t *testing.T) {
	for _, l := range heapLayouts {
		for _, v := range views(l) {
			t.Run(l.name+v, func(t *testing.T) {
				s, _, truth := heapSession(t, l)
				setView(t, s, v)
				ps := s.effBits() / 8
				placed := placedSet(s, truth)
				marker := []byte{}
				if ps == 4 {
					marker = binary.LittleEndian.AppendUint32(marker, heapMarker32)
				} else {
					marker = binary.LittleEndian.AppendUint64(marker, heapMarker64)
				}
				wantFor := func(pat []byte) []uint64 {
					var out []uint64
					for _, ph := range placed {
						for _, pb := range ph.Blocks {
							if !pb.Busy || pb.Internal || pb.SegmentHeader {
								continue
							}
							data := make([]byte, pb.UserSize)
							s.Target.ReadMemory(pb.User, data)
							if bytes.Contains(data, pat) {
								out = append(out, pb.Entry)
							}
						}
					}
					return out
				}
				hits := func(args string) []uint64 {
					var out []uint64
					for _, h := range mustHeap[*HeapSearchResult](t, s, args).Hits {
						out = append(out, h.Block.Entry)
					}
					return out
				}
				value := fmt.Sprintf("%x", uint64(heapMarker64))
				if ps == 4 {
					value = fmt.Sprintf("%x", heapMarker32)
				}
				for _, c := range []struct {
					args string
					pat  []byte
				}{
					{"-srch " + value, marker},
					{"-search " + value, marker},
					{"-srch -a \"" + string(heapBytes) + "\"", heapBytes},
					{fmt.Sprintf("-srch -b %x %x %x %x", heapBytes[0], heapBytes[1], heapBytes[2], heapBytes[3]), heapBytes[:4]},
				} {
					args := c.args
					want := wantFor(c.pat)
					if got := hits(args); len(want) == 0 && placed[0].LFH != 0 || fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("!heap %s: blocks %x, want %x", args, got, want)
					}
				}
			})
		}
	}
}

// The truth's free totals and heaps show up in -s and -a.
func TestHeapSummaryBuilder(t *testing.T) {
	for _, l := range heapLayouts {
		for _, v := range views(l) {
			t.Run(l.name+v, func(t *testing.T) {
				s, _, truth := heapSession(t, l)
				setView(t, s, v)
				placed := placedSet(s, truth)
				list := mustHeap[*HeapListResult](t, s, "")
				if len(list.Heaps) != len(placed) {
					t.Fatalf("!heap lists %d heaps, want %d", len(list.Heaps), len(placed))
				}
				sum := mustHeap[*HeapSummaryResult](t, s, "-s")
				row := 0
				for i, ph := range placed {
					kind := "NT Heap"
					if ph.Segment {
						kind = "Segment Heap"
					}
					if list.Heaps[i].Address != ph.Address || list.Heaps[i].Kind != kind {
						t.Errorf("heap %d: %+v, want %#x %s", i, list.Heaps[i], ph.Address, kind)
					}
					if ph.Segment {
						continue
					}
					gran := uint64(16)
					if ph.Bits == 32 {
						gran = 8
					}
					sr := sum.Rows[row]
					row++
					if sr.Heap != ph.Address || sr.FreeKB != ph.TotalFreeSize*gran/1024 || sr.ListLength != len(ph.FreeList) || sr.LFH != (ph.LFH != 0) {
						t.Errorf("-s row %+v; truth free %d granules, free list %d, LFH %#x", sr, ph.TotalFreeSize, len(ph.FreeList), ph.LFH)
					}
					d := mustHeap[*HeapDetailResult](t, s, fmt.Sprintf("-a %x", ph.Address))
					var free uint64
					for _, sg := range d.Heaps[0].Segments {
						for _, e := range sg.Entries {
							if e.Type == "block" && e.State == "free" {
								free += e.Size / gran
							}
						}
					}
					if free != ph.TotalFreeSize || d.Heaps[0].Header.TotalFreeSize != ph.TotalFreeSize || len(d.Heaps[0].FreeList) != len(ph.FreeList) {
						t.Errorf("-a %x: free entries %d granules, header %d, free list %d; truth %d, %d", ph.Address, free,
							d.Heaps[0].Header.TotalFreeSize, len(d.Heaps[0].FreeList), ph.TotalFreeSize, len(ph.FreeList))
					}
				}
				if row != len(sum.Rows) {
					t.Errorf("-s has %d rows, want %d", len(sum.Rows), row)
				}
				if l.spec.LFHKey == 0 && s.effBits() == 32 && truth.Family == "Windows 7" || truth.Family != "Windows 7" && placed[0].LFH != 0 {
					if sum.LFHKey == nil || *sum.LFHKey != truth.LFHKey {
						t.Errorf("LFH key %v, want %#x", sum.LFHKey, truth.LFHKey)
					}
				}
			})
		}
	}
}

// .effmach switches a WOW64 dump between its heap sets; the prompt shows
// the x86 view.
func TestEffmachWow64(t *testing.T) {
	s, out, truth := heapSession(t, heapLayoutByName(t, "wow64_x86"))
	if got := run(t, s, ".effmach"); got != "Effective machine: x64 (AMD64)\n" {
		t.Errorf(".effmach: %q", got)
	}
	list := mustHeap[*HeapListResult](t, s, "")
	if len(list.Heaps) != 1 || list.Heaps[0].Address != truth.Heaps64[0].Address || list.Bits != 64 {
		t.Errorf("64-bit view: %+v", list)
	}
	if got := run(t, s, ".effmach x86"); got != "Effective machine: x86 compatible (x86)\n" {
		t.Errorf(".effmach x86: %q", got)
	}
	if s.effMachPrompt() != ":x86" || strings.TrimSpace(s.Prompt()) != "0:000:x86>" {
		t.Errorf("prompt %q", strings.TrimSpace(s.Prompt()))
	}
	list = mustHeap[*HeapListResult](t, s, "")
	if len(list.Heaps) != 2 || list.Heaps[0].Address != truth.Heaps[0].Address || list.Bits != 32 {
		t.Errorf("32-bit view: %+v", list)
	}
	for _, back := range []string{".", "amd64", "#"} {
		run(t, s, ".effmach x86")
		if got := run(t, s, ".effmach "+back); got != "Effective machine: x64 (AMD64)\n" || s.effMachPrompt() != "" {
			t.Errorf(".effmach %s: %q, prompt %q", back, got, strings.TrimSpace(s.Prompt()))
		}
	}
	// -x of a 32-bit block from the 64-bit view says where it is.
	out.Reset()
	s.Execute(fmt.Sprintf("!heap -x %x", truth.Heaps[0].Blocks[3].User))
	if !strings.Contains(out.String(), ".effmach x86 to see it") {
		t.Errorf("-x from the wrong view: %q", out.String())
	}
	if !strings.Contains(s.Prompt(), ":x86") {
		run(t, s, ".effmach x86")
		if !strings.Contains(s.Prompt(), ":x86") {
			t.Skip("Session.Prompt does not show the effective machine yet (session.go: use s.effMachPrompt())")
		}
	}
}

func TestEffmachNative(t *testing.T) {
	s, _, _ := heapSession(t, heapLayoutByName(t, "win10_x64_lfh"))
	if _, err := heapRun(t, s, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := runEffmach(s, &Invocation{Name: ".effmach", Args: "x86"}); err == nil || s.effMachPrompt() != "" {
		t.Errorf(".effmach x86 on a 64-bit process: %v, prompt %q", err, strings.TrimSpace(s.Prompt()))
	}
	if _, err := runEffmach(s, &Invocation{Name: ".effmach", Args: "mips"}); err == nil {
		t.Errorf(".effmach mips accepted")
	}
	s86, _, _ := heapSession(t, heapLayoutByName(t, "w7_x86"))
	if got := run(t, s86, ".effmach"); got != "Effective machine: x86 compatible (x86)\n" || s86.effMachPrompt() != "" {
		t.Errorf("x86 dump: %q", got)
	}
	if _, err := runEffmach(s86, &Invocation{Name: ".effmach", Args: "amd64"}); err == nil {
		t.Errorf(".effmach amd64 on an x86 dump accepted")
	}
}

// Problems are printed, not hidden: a committed page missing from the dump
// shows up in -stat, -flt, -a and -v, with the bytes not walked.
func TestHeapProblemsShown(t *testing.T) {
	spec := dumpbuild.HeapProcess{Build: 19045, Heaps: []dumpbuild.NTHeap{{Flags: 0x40000062, Blocks: heapBlocks(8, 200, 1)}}}
	b := dumpbuild.New(dumpbuild.X64)
	truth, err := b.Heaps(spec)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the page of a block header that shares its page with neither
	// the heap header nor the UCR descriptor ending its committed run.
	ph := truth.Heaps[0]
	avoid := map[uint64]bool{ph.Address: true}
	for _, sg := range ph.Segments {
		avoid[sg.Base] = true
		for _, u := range sg.UCRs {
			avoid[u[0]-0x1000] = true
		}
	}
	var page uint64
	for _, pb := range ph.Blocks {
		if pg := (pb.Entry + 8) &^ 0xfff; pb.Kind == dumpbuild.BackEndBlock && !avoid[pg] {
			page = pg
			break
		}
	}
	if page == 0 {
		t.Fatal("no page to drop")
	}
	spec.Heaps[0].DropPages = []uint64{page}
	b = dumpbuild.New(dumpbuild.X64)
	if truth, err = b.Heaps(spec); err != nil {
		t.Fatal(err)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "dropped")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := NewSession(f, &out, &out)
	d := truth.Heaps[0].Dropped[0]
	want := fmt.Sprintf("Problem in heap %x: not captured at %016x", truth.Heaps[0].Address, d[0])
	for _, cmd := range []string{"!heap -stat", "!heap -flt s 30", "!heap -a 0", "!heap -v 0", "!heap -srch 1234"} {
		got := run(t, s, cmd)
		if !strings.Contains(got, want) || !strings.Contains(got, fmt.Sprintf("(0x%x bytes not walked)", d[1])) {
			t.Errorf("%s does not report the missing page %#x:\n%s", cmd, d[0], got)
		}
	}
}

// Segment heaps are listed with their type; -s and the walking forms say
// what is not supported.
func TestHeapSegmentHeap(t *testing.T) {
	s, _, truth := heapSession(t, heapLayoutByName(t, "win10_x64_lfh"))
	seg := truth.Heaps[len(truth.Heaps)-1]
	if !seg.Segment {
		t.Fatal("no segment heap in the layout")
	}
	if got := run(t, s, "!heap"); !strings.Contains(got, fmt.Sprintf("%20x%21s\n", seg.Address, "Segment Heap")) {
		t.Errorf("!heap:\n%s", got)
	}
	if got := run(t, s, "!heap -s"); !strings.Contains(got, "SEGMENT HEAP STATS BELOW") || !strings.Contains(got, fmt.Sprintf("\n%016x ", seg.Address)) {
		t.Errorf("!heap -s:\n%s", got)
	}
	if got := run(t, s, "!heap -stat"); !strings.Contains(got, "segment heap: blocks are not walked") {
		t.Errorf("!heap -stat:\n%s", got)
	}
}

// A walkable 19041 x64 segment heap: -stat, -flt, -x and -srch see exactly
// the blocks the builder placed, of every kind.
func TestHeapSegmentHeapExact(t *testing.T) {
	s, _, truth := heapSession(t, heapLayoutByName(t, "win10_x64_seg"))
	ph := truth.Heaps[len(truth.Heaps)-1]
	if !ph.Segment {
		t.Fatal("no segment heap in the layout")
	}
	// -stat: every busy user block by size.
	st := mustHeap[*HeapStatResult](t, s, "-stat -h "+fmt.Sprintf("%x", ph.Address)+" -grp S 0n100000")
	want := map[uint64]uint64{}
	kinds := map[dumpbuild.BlockKind]int{}
	for _, pb := range ph.Blocks {
		if pb.Busy && !pb.Internal && !pb.SegmentHeader {
			want[pb.UserSize]++
			kinds[pb.Kind]++
		}
	}
	for _, k := range []dumpbuild.BlockKind{dumpbuild.SegBackEndBlock, dumpbuild.SegVSBlock, dumpbuild.SegLFHBlock, dumpbuild.SegLargeBlock} {
		if kinds[k] == 0 {
			t.Errorf("the truth has no busy block of kind %d: %v", k, kinds)
		}
	}
	got := map[uint64]uint64{}
	for _, row := range st.Heaps[0].Rows {
		got[row.Size] = row.Count
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(st.Heaps[0].Problems) > 0 {
		t.Errorf("-stat %v %v, want %v", got, st.Heaps[0].Problems, want)
	}
	if txt := run(t, s, "!heap -stat"); !strings.Contains(txt, fmt.Sprintf(" heap @ %016x\ngroup-by: TOTSIZE", ph.Address)) {
		t.Errorf("!heap -stat has no segment heap table:\n%s", txt)
	}
	// -x: every block, at its first and last byte (a subsegment only in
	// its header, before its first chunk).
	for i, pb := range ph.Blocks {
		addrs := []uint64{pb.Entry, pb.Entry + pb.Size - 1}
		if i+1 < len(ph.Blocks) && ph.Blocks[i+1].Entry > pb.Entry && ph.Blocks[i+1].Entry < pb.Entry+pb.Size {
			addrs = []uint64{pb.Entry, ph.Blocks[i+1].Entry - 1}
		}
		for _, a := range addrs {
			b := mustHeap[*HeapFindResult](t, s, fmt.Sprintf("-x %x", a)).Block
			if b.Entry != pb.Entry || b.User != pb.User || b.Size != pb.Size || b.UserSize != pb.UserSize || b.State != placedState(&pb) || b.Kind != placedKind(&pb) {
				t.Fatalf("-x %x: %+v, want %+v", a, b, pb)
			}
		}
	}
	// -flt: large blocks are busy VirtualAlloc; subsegments and free page
	// ranges are not listed.
	for _, pb := range ph.Blocks {
		r := mustHeap[*HeapFilterResult](t, s, fmt.Sprintf("-flt s %x", pb.UserSize))
		found := false
		for _, h := range r.Heaps {
			for _, b := range h.Blocks {
				if b.Entry == pb.Entry {
					found = true
					if pb.Kind == dumpbuild.SegLargeBlock && b.fltState() != "busy VirtualAlloc" {
						t.Errorf("-flt s %x: large block state %q", pb.UserSize, b.fltState())
					}
				}
			}
		}
		if found == segHidden(&pb) {
			t.Errorf("-flt s %x: block %#x (kind %d, %s) listed %v", pb.UserSize, pb.Entry, pb.Kind, placedState(&pb), found)
		}
	}
	// -srch: the markers poked into blocks of every kind.
	var wantHits []uint64
	marker := binary.LittleEndian.AppendUint64(nil, heapMarker64)
	for _, pb := range ph.Blocks {
		if !pb.Busy || pb.Internal || pb.SegmentHeader {
			continue
		}
		data := make([]byte, pb.UserSize)
		s.Target.ReadMemory(pb.User, data)
		if bytes.Contains(data, marker) {
			wantHits = append(wantHits, pb.Entry)
		}
	}
	var hits []uint64
	for _, h := range mustHeap[*HeapSearchResult](t, s, fmt.Sprintf("-srch %x", uint64(heapMarker64))).Hits {
		if h.Heap == ph.Address {
			hits = append(hits, h.Block.Entry)
		}
	}
	if len(wantHits) < 4 || fmt.Sprint(hits) != fmt.Sprint(wantHits) {
		t.Errorf("-srch: %x, want %x", hits, wantHits)
	}
	// -a lists the blocks; -s summarises the heap.
	if txt := run(t, s, fmt.Sprintf("!heap -a %x", ph.Address)); !strings.Contains(txt, "VS subsegment:") || !strings.Contains(txt, "LFH subsegment:") || !strings.Contains(txt, "busy VirtualAlloc") {
		t.Errorf("!heap -a:\n%s", txt)
	}
	if txt := run(t, s, "!heap -s"); !strings.Contains(txt, "SEGMENT HEAP STATS BELOW") || strings.Contains(txt, "Problem") {
		t.Errorf("!heap -s:\n%s", txt)
	}
}

// Page heap: -p -a says whether it is enabled and still finds NT blocks.
func TestHeapPageHeap(t *testing.T) {
	for _, flag := range []uint32{0, 0x02000000} {
		b := dumpbuild.New(dumpbuild.X64)
		truth, err := b.Heaps(dumpbuild.HeapProcess{NtGlobalFlag: flag, Heaps: []dumpbuild.NTHeap{smallHeap(8)}})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := b.Bytes()
		f, err := dump.OpenBytes(raw, "pageheap")
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		s := NewSession(f, &out, &out)
		pb := truth.Heaps[0].Blocks[2]
		got := run(t, s, fmt.Sprintf("!heap -p -a %x", pb.User+1))
		enabled := strings.Contains(got, "Page heap is enabled")
		if enabled != (flag != 0) || !strings.Contains(got, fmt.Sprintf("        %016x ", pb.Entry)) {
			t.Errorf("NtGlobalFlag %#x: %s", flag, got)
		}
	}
}

// A cancelled walk stops with an error and keeps what it found.
func TestHeapCancel(t *testing.T) {
	s, _, _ := heapSession(t, heapLayoutByName(t, "win10_x64_lfh"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Ctx = ctx
	for _, args := range []string{"-stat", "-flt s 20", "-a 0", "-srch 1"} {
		if _, err := heapRun(t, s, args); err != errHeapInterrupted {
			t.Errorf("!heap %s on a cancelled session: %v", args, err)
		}
	}
}

// JSON output is the typed rows.
func TestHeapJSON(t *testing.T) {
	s, out, truth := heapSession(t, heapLayoutByName(t, "win11_24h2_x64"))
	s.JSON = true
	run(t, s, fmt.Sprintf("!heap -x %x", truth.Heaps[0].Blocks[5].User))
	if !strings.Contains(out.String(), fmt.Sprintf(`"entry":%d`, truth.Heaps[0].Blocks[5].Entry)) {
		t.Errorf("JSON: %s", out.String())
	}
}

// The real Windows 7 x86 dump: the three heaps of PEB.ProcessHeaps, and
// -x on heap pointers that s -d finds gives back their blocks.
func TestHeapCorpusSimpleParse(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, simpleParseDump))
	list := mustHeap[*HeapListResult](t, s, "")
	if fmt.Sprintf("%x", []uint64{list.Heaps[0].Address, list.Heaps[1].Address, list.Heaps[2].Address}) != "[90000 10000 20000]" || len(list.Heaps) != 3 {
		t.Fatalf("heaps %+v", list.Heaps)
	}
	sum := mustHeap[*HeapSummaryResult](t, s, "-s")
	if len(sum.Rows) != 3 || len(sum.Problems) != 0 {
		t.Errorf("-s %+v", sum)
	}
	d := mustHeap[*HeapDetailResult](t, s, "-h 90000")
	checked := 0
	for _, e := range d.Heaps[0].Segments[0].Entries {
		if e.Type != "block" || e.State != "busy" || checked >= 12 {
			continue
		}
		user := e.Address + 8
		hits := run(t, s, fmt.Sprintf("s -[1]d 0 L?80000000 %x", user))
		if strings.TrimSpace(hits) == "" {
			continue
		}
		for _, line := range strings.Fields(hits) {
			r := mustHeap[*HeapFindResult](t, s, "-x poi("+line+")")
			if r.Block.Entry != e.Address || r.Block.Heap != 0x90000 {
				t.Errorf("pointer at %s to %x: -x gives %+v, want entry %x", line, user, r.Block, e.Address)
			}
		}
		checked++
	}
	if checked < 5 {
		t.Errorf("only %d heap pointers found with s -d", checked)
	}
}

// The real WOW64 dump: 64-bit heaps a60000 and 2c0000, the 32-bit heap
// 720000 after .effmach x86, free totals 593/138/647 granules.
func TestHeapCorpusWow64(t *testing.T) {
	s, _ := openSession(t, corpusDump(t, goldenWow64))
	check := func(heaps []uint64, free []uint64) {
		t.Helper()
		list := mustHeap[*HeapListResult](t, s, "")
		if len(list.Heaps) != len(heaps) {
			t.Fatalf("heaps %+v", list.Heaps)
		}
		for i, a := range heaps {
			if list.Heaps[i].Address != a {
				t.Errorf("heap %d at %x, want %x", i, list.Heaps[i].Address, a)
			}
			d := mustHeap[*HeapDetailResult](t, s, fmt.Sprintf("-a %x", a))
			var walked uint64
			gran := d.Heaps[0].Header.Granularity()
			for _, sg := range d.Heaps[0].Segments {
				for _, e := range sg.Entries {
					if e.Type == "block" && e.State == "free" {
						walked += e.Size / gran
					}
					if e.Type == "problem" {
						t.Errorf("heap %x: %s", a, e.Problem.line(8))
					}
				}
			}
			if d.Heaps[0].Header.TotalFreeSize != free[i] || walked != free[i] {
				t.Errorf("heap %x: TotalFreeSize %d, walked free %d, want %d", a, d.Heaps[0].Header.TotalFreeSize, walked, free[i])
			}
		}
	}
	check([]uint64{0xa60000, 0x2c0000}, []uint64{593, 138})
	run(t, s, ".effmach x86")
	check([]uint64{0x720000}, []uint64{647})
}

// The budget: !heap -stat over a million blocks in under a second
// (checked with margin here; BenchmarkHeapStatMillion measures it).
func TestHeapStatMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a million-block dump")
	}
	s := millionSession(t)
	start := time.Now()
	r := mustHeap[*HeapStatResult](t, s, "-stat")
	d := time.Since(start)
	var n uint64
	for _, h := range r.Heaps {
		for _, row := range h.Rows {
			n += row.Count
		}
	}
	t.Logf("!heap -stat over a million blocks in %v (%d busy blocks in the top 20 sizes)", d, n)
	if d > 3*time.Second {
		t.Errorf("!heap -stat took %v", d)
	}
}

func BenchmarkHeapStatMillion(b *testing.B) {
	s := millionSession(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := heapRun(b, s, "-stat"); err != nil {
			b.Fatal(err)
		}
	}
}

var million struct {
	once sync.Once
	f    *dump.File
	err  error
}

// millionSession is a session on an x64 dump with one heap of about a
// million blocks: 700,000 back-end blocks and 30 LFH subsegments of 10,000
// chunks (as the heap package's benchmark). The first -stat of a session
// pays for nothing but the walk: heap.Open is cheap.
func millionSession(tb testing.TB) *Session {
	million.once.Do(func() {
		blocks := make([]dumpbuild.Alloc, 700000)
		for i := range blocks {
			blocks[i] = dumpbuild.Alloc{Size: uint64(1 + (i*37)%0x300)}
			if i%7 == 3 {
				blocks[i] = dumpbuild.Alloc{Free: true, Size: 0x40}
			}
		}
		h := dumpbuild.NTHeap{Blocks: blocks}
		for i := 0; i < 30; i++ {
			req := make([]uint64, 10000)
			for k := range req {
				if k%4 != 0 {
					req[k] = uint64(8 + k%8)
				}
			}
			h.LFH = append(h.LFH, dumpbuild.LFHSubsegment{BlockUnits: 2, Requested: req})
		}
		b := dumpbuild.New(dumpbuild.X64)
		if _, err := b.Heaps(dumpbuild.HeapProcess{Heaps: []dumpbuild.NTHeap{h}}); err != nil {
			million.err = err
			return
		}
		raw, err := b.Bytes()
		if err != nil {
			million.err = err
			return
		}
		million.f, million.err = dump.OpenBytes(raw, "million")
	})
	if million.err != nil {
		tb.Fatal(million.err)
	}
	var out bytes.Buffer
	return NewSession(million.f, &out, &out)
}
