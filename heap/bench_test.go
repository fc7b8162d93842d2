package heap

import (
	"context"
	"sync"
	"testing"
	"time"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

var million struct {
	once sync.Once
	f    *dump.File
	err  error
}

// millionBlocks is an x64 Windows 10 22H2 dump with one heap of about a
// million blocks: 700,000 back-end blocks and 30 LFH subsegments of 10,000
// chunks.
func millionBlocks(tb testing.TB) *dump.File {
	million.once.Do(func() {
		b := dumpbuild.New(dumpbuild.X64)
		h := dumpbuild.NTHeap{Blocks: allocs(700000, 42)}
		for i := 0; i < 30; i++ {
			req := make([]uint64, 10000)
			for k := range req {
				if k%4 != 0 {
					req[k] = uint64(8 + k%8)
				}
			}
			h.LFH = append(h.LFH, dumpbuild.LFHSubsegment{BlockUnits: 2, Requested: req})
		}
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
	return million.f
}

// stat is what !heap -stat computes: busy blocks grouped by user size.
func stat(p *Process) (int, map[uint64]int) {
	n := 0
	groups := map[uint64]int{}
	for _, h := range p.Heaps {
		h.Walk(context.Background(), Visitor{Block: func(b Block) bool {
			n++
			if b.State == Busy {
				groups[b.UserSize]++
			}
			return true
		}})
	}
	return n, groups
}

func BenchmarkStatMillion(b *testing.B) {
	f := millionBlocks(b)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		p, err := Open(f, 0)
		if err != nil {
			b.Fatal(err)
		}
		n, _ = stat(p)
	}
	b.ReportMetric(float64(n), "blocks/op")
}

func BenchmarkFindMillion(b *testing.B) {
	f := millionBlocks(b)
	p, err := Open(f, 0)
	if err != nil {
		b.Fatal(err)
	}
	seg := &p.Heaps[0].Segments[0]
	span := seg.Committed()
	p.Find(seg.FirstEntry) // builds the index
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Find(seg.FirstEntry + uint64(i*7919)%span)
	}
}

// The budget: stat over a million blocks in under a second (with
// ample margin here, so a slow machine does not fail the suite).
func TestStatMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a million-block dump")
	}
	f := millionBlocks(t)
	start := time.Now()
	p, err := Open(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, groups := stat(p)
	d := time.Since(start)
	if n < 1000000 {
		t.Errorf("walked %d blocks", n)
	}
	t.Logf("stat over %d blocks (%d sizes) in %v", n, len(groups), d)
	if d > 5*time.Second {
		t.Errorf("stat over %d blocks took %v", n, d)
	}
}
