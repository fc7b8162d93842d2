package unwind

import (
	"encoding/binary"
	"os"
	"sort"
	"strings"
	"testing"

	"wdb/dump"
)

// memory64Reader reads target memory straight from a dump's Memory64List.
// Full-memory dumps leave thread stack descriptors at RVA 0 (their bytes are
// in the Memory64List); package dump currently maps those descriptors to
// file offset 0, which shadows the real stack bytes with the file header, so
// these tests read through this reader until that is fixed.
func memory64Reader(t *testing.T, path string, f *dump.File) func(uint64, []byte) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := f.Stream(dump.StreamMemory64List)
	if !ok {
		t.Fatal("no Memory64List")
	}
	le := binary.LittleEndian
	n, off := le.Uint64(b), le.Uint64(b[8:])
	type rng struct{ start, size, off uint64 }
	var rs []rng
	for i := uint64(0); i < n; i++ {
		e := b[16+16*i:]
		rs = append(rs, rng{le.Uint64(e), le.Uint64(e[8:]), off})
		off += le.Uint64(e[8:])
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
	return func(addr uint64, p []byte) (int, error) {
		done := 0
		for done < len(p) {
			a := addr + uint64(done)
			i := sort.Search(len(rs), func(i int) bool { return rs[i].start+rs[i].size > a })
			if i == len(rs) || rs[i].start > a {
				return done, &dump.MemoryError{Addr: a}
			}
			r := rs[i]
			k := copy(p[done:], raw[r.off+(a-r.start):r.off+r.size])
			done += k
		}
		return done, nil
	}
}

const kdlibWow64 = "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_stacktest_wow64/targetapp_stacktest_wow64.cab.dmp"

// TestWow64FullMemory walks every thread of a full-memory WOW64 dump, whose
// captured images include ntdll's, wow64's and wow64cpu's .pdata: the 64-bit
// stacks by unwind info down to RtlUserThreadStart (return address 0), the
// thread stopped in 32-bit code and the 32-bit halves of the others (from
// the WOW64 CPU area) by the EBP chain down to _RtlUserThreadStart.
func TestWow64FullMemory(t *testing.T) {
	path := corpus(t, kdlibWow64)
	f, err := dump.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	rd := memory64Reader(t, path, f)
	src := &Modules{File: f, Image: func(m *dump.Module) RVAReader {
		return func(rva uint32, p []byte) (int, error) { return rd(m.Base+uint64(rva), p) }
	}}
	w := &Walker{File: f, Memory: rd, Modules: src}
	ends := func(frames []Frame, module string) {
		t.Helper()
		last := frames[len(frames)-1]
		if last.RetAddr != 0 || last.Stop != "" {
			t.Errorf("walk ends at frame %d with retaddr %#x, stop %q", last.Index, last.RetAddr, last.Stop)
		}
		if m := moduleName(f, last.LookupPC()); m != module {
			t.Errorf("last frame in %s, want %s", m, module)
		}
	}
	for i := range f.Threads {
		th := &f.Threads[i]
		frames, err := w.Walk(th, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("thread %d", i)
		logFrames(t, f, frames)
		checkBounded(t, frames, 0)
		if th.Context.Cs == wow64CodeSegment {
			// Stopped in 32-bit code (the WX86 breakpoint).
			if frames[0].Context.Arch != dump.ArchX86 || len(frames) < 10 {
				t.Errorf("thread %d: %d frames, arch %v", i, len(frames), frames[0].Context.Arch)
			}
			for _, fr := range frames[1:] {
				if fr.How != FoundByFramePointer {
					t.Errorf("thread %d frame %d found by %s", i, fr.Index, fr.How)
				}
			}
			ends(frames, "ntdll.dll")
			continue
		}
		for _, fr := range frames[1:] {
			if fr.How != FoundByUnwindInfo {
				t.Errorf("thread %d frame %d found by %s", i, fr.Index, fr.How)
			}
		}
		if !strings.Contains(frames[0].Note, "in epilogue") {
			t.Errorf("thread %d frame 0 (at the syscall stub's ret): note %q", i, frames[0].Note)
		}
		ends(frames, "ntdll.dll")
		if frames[len(frames)-1].LookupPC() < 0x7ff000000000 {
			t.Errorf("thread %d ends in the 32-bit ntdll", i)
		}
		c, err := w.Wow64Context(th)
		if err != nil {
			t.Fatalf("thread %d: %v", i, err)
		}
		x86, err := w.Walk(th, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("thread %d, 32-bit", i)
		logFrames(t, f, x86)
		checkBounded(t, x86, 0)
		ends(x86, "ntdll.dll")
		if x86[len(x86)-1].LookupPC() > 0xffffffff || len(x86) < 3 {
			t.Errorf("thread %d 32-bit walk: %d frames", i, len(x86))
		}
	}
}
