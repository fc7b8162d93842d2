package dump_test

import (
	"os"
	"path/filepath"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// FuzzOpen feeds arbitrary bytes to the reader: it must never panic, hang or
// allocate without bound, and whatever opens must answer region and memory
// queries. Seeds: small corpus dumps and builder dumps.
func FuzzOpen(f *testing.F) {
	seeds, _ := filepath.Glob("../../shared/corpus/*/*/*/*/*.dmp")
	more, _ := filepath.Glob("../../shared/corpus/*/*/*/*/*/*/*.dmp")
	fuzzed, _ := filepath.Glob("../../shared/corpus/radareorg__radare2-testbins/*/*")
	if os.Getenv("WDB_FUZZ_NO_CORPUS") != "" {
		seeds, more, fuzzed = nil, nil, nil
	}
	for _, p := range append(append(seeds, more...), fuzzed...) {
		if st, err := os.Stat(p); err == nil && st.Size() < 48<<10 {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	b := dumpbuild.New(dumpbuild.X64)
	b.Module(dumpbuild.Module{Name: `C:\a.exe`, Base: 0x400000, Size: 0x1000, PDBName: "a.pdb"})
	b.Thread(dumpbuild.Thread{ID: 1, TEB: 0x7000, StackStart: 0x1000, Stack: make([]byte, 64), Name: "t"})
	b.Memory64(0x7000, make([]byte, 0x200))
	b.Region(dumpbuild.Region{Base: 0x7000, Size: 0x1000, State: dump.MemCommit, Type: dump.MemPrivate})
	if raw, err := b.Bytes(); err == nil {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := dump.OpenBytes(data, "fuzz.dmp")
		if err != nil {
			return
		}
		rs := d.Regions()
		var at uint64
		for _, r := range rs {
			if r.Base < at {
				t.Fatalf("regions overlap at %#x", r.Base)
			}
			at = r.End()
		}
		p := make([]byte, 16)
		for _, r := range d.MemoryRanges() {
			d.ReadMemory(r.Start, p)
		}
		d.PEB()
	})
}
