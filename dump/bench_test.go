package dump_test

import (
	"path/filepath"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// writeLargeDump writes a sparse full-memory dump of `size` bytes of zero
// pages in `ranges` ranges, with a MemoryInfoList entry per range.
func writeLargeDump(b *testing.B, size uint64, ranges int) string {
	b.Helper()
	bld := dumpbuild.New(dumpbuild.X64)
	per := size / uint64(ranges) &^ 0xfff
	base := uint64(0x10000000)
	for i := 0; i < ranges; i++ {
		bld.Memory64Zero(base, per)
		bld.Region(dumpbuild.Region{Base: base, AllocBase: base, Size: per, State: dump.MemCommit, Protect: dump.PageReadWrite, Type: dump.MemMapped})
		base += per + 0x10000
	}
	bld.Thread(dumpbuild.Thread{ID: 1, TEB: 0x7000, Regs: map[string]uint64{"rip": 0x10000000}})
	p := filepath.Join(b.TempDir(), "large.dmp")
	if err := bld.WriteFile(p); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkOpen4GiB: opening reads no memory ranges, so a 4 GiB full-memory
// dump opens in well under the 100 ms budget.
func BenchmarkOpen4GiB(b *testing.B) {
	p := writeLargeDump(b, 4<<30, 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := dump.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkRegions100k builds the classified region list of a dump with
// 100 000 MemoryInfoList entries (what !address -summary walks).
func BenchmarkRegions100k(b *testing.B) {
	p := writeLargeDump(b, 100000*0x1000, 100000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f, err := dump.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n := len(f.Regions()); n < 100000 {
			b.Fatalf("%d regions", n)
		}
		f.Close()
	}
}
