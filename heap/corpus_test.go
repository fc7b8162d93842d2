package heap

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"wdb/dump"
)

const corpusDir = "../../shared/corpus"

func openCorpus(t *testing.T, rel string) *dump.File {
	t.Helper()
	path := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("corpus dump not available: %v", err)
	}
	f, err := dump.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// realCheck walks every heap of p and checks what must hold on an intact
// heap: no problem at all, free granules equal TotalFreeSize, the free
// list holds exactly the free blocks, per segment the block sizes add up to
// the committed bytes, and Find gives every block back. It returns the
// number of blocks per heap, as text.
func realCheck(t *testing.T, p *Process) string {
	t.Helper()
	counts := ""
	for _, h := range p.Heaps {
		if h.Kind != NTHeap {
			t.Errorf("heap %#x: kind %v", h.Address, h.Kind)
			continue
		}
		var blocks []Block
		var probs []Problem
		err := h.Walk(context.Background(), Visitor{
			Block:   func(b Block) bool { blocks = append(blocks, b); return true },
			Problem: func(pr Problem) bool { probs = append(probs, pr); return true },
		})
		if err != nil || len(probs) > 0 {
			t.Errorf("heap %#x: err %v, problems %v", h.Address, err, probs)
		}
		var free uint64
		var freeEntries []uint64
		perSeg := map[uint64]uint64{}
		for _, b := range blocks {
			if b.Kind == BackEnd {
				perSeg[b.Segment] += b.Size
				if b.State == Free {
					free += b.Granules
					freeEntries = append(freeEntries, b.Entry)
				}
			}
			got, gh, ok := p.Find(b.User)
			if !ok || gh != h || got.Entry != b.Entry {
				t.Errorf("heap %#x: Find(%#x) = %#x %v, want block %#x", h.Address, b.User, got.Entry, ok, b.Entry)
			}
		}
		if free != h.TotalFreeSize {
			t.Errorf("heap %#x: free blocks hold %d granules, TotalFreeSize %d", h.Address, free, h.TotalFreeSize)
		}
		for i := range h.Segments {
			s := &h.Segments[i]
			var ucr uint64
			for _, u := range s.UCRs {
				ucr += u.Size
			}
			if perSeg[s.BaseAddress] != s.Committed() || s.Committed() != s.Reserved()-ucr {
				t.Errorf("heap %#x segment %#x: blocks %#x, committed %#x, reserved %#x - UCRs %#x", h.Address, s.BaseAddress, perSeg[s.BaseAddress], s.Committed(), s.Reserved(), ucr)
			}
		}
		fl, fprobs := h.FreeList()
		if len(fprobs) > 0 || len(fl) != len(freeEntries) {
			t.Errorf("heap %#x: free list %x %v, walk found free blocks %x", h.Address, fl, fprobs, freeEntries)
		}
		inList := map[uint64]bool{}
		for _, e := range fl {
			inList[e] = true
		}
		for _, e := range freeEntries {
			if !inList[e] {
				t.Errorf("heap %#x: free block %#x is not on FreeLists", h.Address, e)
			}
		}
		counts += fmt.Sprintf(" %#x:%d", h.Address, len(blocks))
	}
	return counts
}

// heapPointers checks that every pointer-sized, aligned value inside the
// busy blocks that points into a committed part of a heap segment is found
// by Find in a block that holds it. It returns how many it checked.
func heapPointers(t *testing.T, p *Process) int {
	t.Helper()
	ps := p.Bits / 8
	n := 0
	for _, h := range p.Heaps {
		h.Walk(context.Background(), Visitor{Block: func(b Block) bool {
			if b.State == Free {
				return true
			}
			data := make([]byte, b.UserSize)
			k, _ := p.File.ReadMemory(b.User, data)
			for off := 0; off+ps <= k; off += ps {
				var v uint64
				if ps == 4 {
					v = uint64(binary.LittleEndian.Uint32(data[off:]))
				} else {
					v = binary.LittleEndian.Uint64(data[off:])
				}
				for _, hh := range p.Heaps {
					s := hh.SegmentOf(v)
					if s == nil || v < s.Address || v >= segmentEnd(s) || inUCR(s, v) {
						continue
					}
					n++
					got, gh, ok := p.Find(v)
					if !ok || gh != hh || !got.Contains(v) {
						t.Errorf("pointer %#x at %#x: Find gives %#x (%v)", v, b.User+uint64(off), got.Entry, ok)
					}
				}
			}
			return true
		}})
	}
	return n
}

func inUCR(s *Segment, a uint64) bool {
	for _, u := range s.UCRs {
		if a >= u.Addr && a < u.End() {
			return true
		}
	}
	return false
}

// The Windows 10 1803 WOW64 dump: two 64-bit heaps and one 32-bit heap, all
// debug heaps without LFH.
func TestCorpusWow64Win10(t *testing.T) {
	f := openCorpus(t, "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_wow64/targetapp_stacktest_wow64.cab.dmp")
	for _, c := range []struct {
		bits  int
		heaps []uint64
		free  []uint64
	}{{64, []uint64{0xa60000, 0x2c0000}, []uint64{593, 138}}, {32, []uint64{0x720000}, []uint64{647}}} {
		p, err := Open(f, c.bits)
		if err != nil {
			t.Fatal(err)
		}
		if p.Build != 17134 || p.Bits != c.bits {
			t.Errorf("bits %d: build %d", p.Bits, p.Build)
		}
		if len(p.Heaps) != len(c.heaps) {
			t.Fatalf("bits %d: %d heaps, want %d", c.bits, len(p.Heaps), len(c.heaps))
		}
		for i, h := range p.Heaps {
			if h.Address != c.heaps[i] || h.TotalFreeSize != c.free[i] || h.Layout.Family != FamilyW10 || h.Layout.Bits != c.bits {
				t.Errorf("heap %d: %#x free %d layout %s", i, h.Address, h.TotalFreeSize, h.Layout.Name())
			}
		}
		counts := realCheck(t, p)
		n := heapPointers(t, p)
		t.Logf("bits %d: blocks per heap%s, %d heap pointers looked up", c.bits, counts, n)
	}
}

// The Windows 7 SP1 x86 full-memory dumps of manticore's tests: the
// process heap, and the two small heaps at 0x10000 and 0x20000.
func TestCorpusWin7x86(t *testing.T) {
	dumps, _ := filepath.Glob(filepath.Join(corpusDir, "trailofbits__manticore/tests/memdumps/*/*.dmp"))
	if len(dumps) == 0 {
		t.Skip("manticore dumps not available")
	}
	for _, path := range dumps {
		rel, _ := filepath.Rel(corpusDir, path)
		t.Run(filepath.Base(path), func(t *testing.T) {
			f := openCorpus(t, rel)
			p, err := Open(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Heaps) != 3 || p.Heaps[1].Address != 0x10000 || p.Heaps[2].Address != 0x20000 {
				t.Fatalf("heaps %v", p.Heaps)
			}
			for _, h := range p.Heaps {
				if h.Layout.Family != FamilyW7 || h.Layout.Bits != 32 || h.EncodeFlagMask != 0x100000 {
					t.Errorf("heap %#x: layout %s, EncodeFlagMask %#x", h.Address, h.Layout.Name(), h.EncodeFlagMask)
				}
			}
			counts := realCheck(t, p)
			n := heapPointers(t, p)
			t.Logf("blocks per heap%s, %d heap pointers looked up", counts, n)
			// Each of these dumps misses one committed page: the thread's
			// stack guard page (PAGE_GUARD). It lies in no heap, so the
			// walks above met no uncaptured heap page.
			missing := 0
			for _, mi := range f.MemoryInfo {
				for a := mi.BaseAddress; mi.State == dump.MemCommit && a < mi.BaseAddress+mi.RegionSize; a += 0x1000 {
					if f.Captured(a) {
						continue
					}
					missing++
					if mi.Protect&dump.PageGuard == 0 {
						t.Errorf("committed page %#x (protect %#x) is not captured", a, mi.Protect)
					}
					for _, h := range p.Heaps {
						if h.SegmentOf(a) != nil {
							t.Errorf("uncaptured page %#x lies in heap %#x", a, h.Address)
						}
					}
				}
			}
			if missing != 1 {
				t.Errorf("%d committed pages are not captured, want the one guard page", missing)
			}
		})
	}
}
