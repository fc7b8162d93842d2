package dump_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

func open(t *testing.T, b *dumpbuild.Builder) *dump.File {
	t.Helper()
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "built.dmp")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestStreamsRoundTrip(t *testing.T) {
	b := dumpbuild.New(dumpbuild.X64)
	si := dumpbuild.DefaultSystem(dumpbuild.X64)
	si.CSD = "Service Pack 1"
	b.System(si)
	b.Misc(dumpbuild.MiscInfo{Level: 3, PID: 0x1234, CreateTime: 1699999000, UserTime: 3, KernelTime: 4})
	b.Module(dumpbuild.Module{Name: `C:\app\app.exe`, Base: 0x7ff600000000, Size: 0x20000, Version: [4]uint16{1, 2, 3, 4},
		PDBName: `C:\build\app.pdb`, GUID: dumpbuild.MustGUID("{3249D99D-0C40-4931-8610-F4E4FB0B6936}"), Age: 7})
	b.Module(dumpbuild.Module{Name: `C:\Windows\System32\ntdll.dll`, Base: 0x7ffc00000000, Size: 0x1e1000})
	b.Thread(dumpbuild.Thread{ID: 0x2bcc, TEB: 0xc190000000, StackStart: 0xc1902ff000, Stack: make([]byte, 0x1000),
		Regs: map[string]uint64{"rip": 0x7ff600001234, "rsp": 0xc1902ff800, "rax": 0x1122334455667788, "r15": 15}, Name: "main"})
	b.Thread(dumpbuild.Thread{ID: 0x10, Regs: map[string]uint64{"rip": 1}})
	b.Exception(dumpbuild.Exception{ThreadID: 0x2bcc, Code: 0xc0000005, Address: 0x7ff600001234, Params: []uint64{1, 0x45}})
	b.Unloaded(dumpbuild.UnloadedModule{Name: "gone.dll", Base: 0x10000000, Size: 0x1000})
	b.Handle(dumpbuild.Handle{Handle: 4, TypeName: "File", ObjectName: `\Device\Null`, HandleCount: 1})
	b.Comment("ascii comment")
	b.CommentW("wide comment")
	f := open(t, b)
	if len(f.Warnings) > 0 {
		t.Fatalf("warnings: %v", f.Warnings)
	}
	if f.Arch() != dump.ArchAMD64 || f.System.CSDVersion != "Service Pack 1" || f.System.BuildNumber != 19045 {
		t.Errorf("system %+v", f.System)
	}
	if pid, ok := f.ProcessID(); !ok || pid != 0x1234 {
		t.Errorf("pid %#x %v", pid, ok)
	}
	m := f.Modules[0]
	if m.ModuleName() != "app" || m.Version.FileVersion() != "1.2.3.4" || m.CodeView == nil ||
		m.CodeView.GUIDString() != "3249D99D-0C40-4931-8610-F4E4FB0B6936" || m.CodeView.Age != 7 || m.CodeView.PDBName != `C:\build\app.pdb` {
		t.Errorf("module %+v cv %+v", m, m.CodeView)
	}
	th := f.Threads[0]
	if th.Name != "main" || th.Context == nil || th.Context.Rip != 0x7ff600001234 || th.Context.Rax != 0x1122334455667788 {
		t.Fatalf("thread %+v ctx %+v", th, th.Context)
	}
	for name, want := range map[string]uint64{"eax": 0x55667788, "ax": 0x7788, "al": 0x88, "ah": 0x77, "r15": 15, "r15d": 15, "rsp": 0xc1902ff800, "zf": 1} {
		if v, ok := th.Context.Register(name); !ok || v != want {
			t.Errorf("register %s = %#x %v, want %#x", name, v, ok, want)
		}
	}
	if e := f.Exception; e == nil || e.Code != 0xc0000005 || e.NumberParameters != 2 || e.Parameters[1] != 0x45 || e.Context == nil {
		t.Errorf("exception %+v", f.Exception)
	}
	if len(f.UnloadedModules) != 1 || f.UnloadedModules[0].Name != "gone.dll" {
		t.Errorf("unloaded %+v", f.UnloadedModules)
	}
	if len(f.Handles) != 1 || f.Handles[0].TypeName != "File" || f.Handles[0].ObjectName != `\Device\Null` {
		t.Errorf("handles %+v", f.Handles)
	}
	if strings.Join(f.Comments, "|") != "ascii comment|wide comment" {
		t.Errorf("comments %q", f.Comments)
	}
}

func TestMemoryReads(t *testing.T) {
	b := dumpbuild.New(dumpbuild.X86)
	b.Memory(0x1000, bytes.Repeat([]byte{0xaa}, 0x100))
	b.Memory(0x1100, bytes.Repeat([]byte{0xbb}, 0x100)) // adjacent in the address space
	b.Memory(0x3000, []byte{1, 2, 3, 4})
	b.Region(dumpbuild.Region{Base: 0x1000, AllocBase: 0x1000, Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadWrite, Type: dump.MemPrivate})
	b.Region(dumpbuild.Region{Base: 0x2000, Size: 0x1000, State: dump.MemFree, Protect: dump.PageNoAccess})
	b.Region(dumpbuild.Region{Base: 0x3000, AllocBase: 0x3000, Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadOnly, Type: dump.MemMapped})
	f := open(t, b)
	p := make([]byte, 0x200)
	if n, err := f.ReadMemory(0x1000, p); n != 0x200 || err != nil || p[0xff] != 0xaa || p[0x100] != 0xbb {
		t.Fatalf("read across adjacent ranges: %d %v", n, err)
	}
	var me *dump.MemoryError
	n, err := f.ReadMemory(0x11f0, p[:0x20])
	if n != 0x10 || !errors.As(err, &me) || me.Addr != 0x1200 || me.Kind != dump.NotCaptured {
		t.Errorf("committed page past the captured bytes: n=%d err=%v", n, err)
	}
	if _, err := f.ReadMemory(0x2800, p[:4]); !errors.As(err, &me) || me.Kind != dump.NotMapped {
		t.Errorf("free region: %v", err)
	}
	if b, err := f.Slice(0x3000, 4); err != nil || !bytes.Equal(b, []byte{1, 2, 3, 4}) {
		t.Errorf("slice %v %v", b, err)
	}
	var seen []uint64
	for addr, chunk := range f.Chunks(0x1080, 0x3002) {
		seen = append(seen, addr, uint64(len(chunk)))
	}
	if len(seen) != 4 || seen[0] != 0x1080 || seen[1] != 0x180 || seen[2] != 0x3000 || seen[3] != 2 {
		t.Errorf("chunks %#x", seen)
	}
}

// Where ranges overlap, thread stacks win over the MemoryList, which wins
// over the Memory64List, whatever order the streams are written in.
func TestOverlapPriority(t *testing.T) {
	b := dumpbuild.New(dumpbuild.X64)
	b.Memory64(0x10000, bytes.Repeat([]byte{0x64}, 0x3000))
	b.Memory(0x11000, bytes.Repeat([]byte{0x4c}, 0x1000))
	b.Thread(dumpbuild.Thread{ID: 1, StackStart: 0x11800, Stack: bytes.Repeat([]byte{0x57}, 0x100), Regs: map[string]uint64{"rsp": 0x11800}})
	f := open(t, b)
	for addr, want := range map[uint64]byte{0x10000: 0x64, 0x11000: 0x4c, 0x11800: 0x57, 0x118ff: 0x57, 0x11900: 0x4c, 0x12000: 0x64, 0x12fff: 0x64} {
		got, err := f.ReadUint(addr, 1)
		if err != nil || byte(got) != want {
			t.Errorf("%#x: %#x %v, want %#x", addr, got, err, want)
		}
	}
	if f.CapturedBytes() != 0x3000 {
		t.Errorf("captured %#x bytes, want 0x3000 (no double counting)", f.CapturedBytes())
	}
}

// Every malformation the builder knows opens with an error or warnings, and
// never panics; what is still readable stays usable.
func TestMalformations(t *testing.T) {
	for _, m := range dumpbuild.Malformations() {
		t.Run(m.String(), func(t *testing.T) {
			b := dumpbuild.New(dumpbuild.X64)
			b.Module(dumpbuild.Module{Name: `C:\a.exe`, Base: 0x400000, Size: 0x1000, PDBName: "a.pdb"})
			b.Thread(dumpbuild.Thread{ID: 1, StackStart: 0x1000, Stack: make([]byte, 64), Name: "t"})
			b.Memory(0x5000, make([]byte, 32))
			b.Memory64(0x8000, make([]byte, 32))
			b.Region(dumpbuild.Region{Base: 0x5000, Size: 0x1000, State: dump.MemCommit, Type: dump.MemPrivate})
			b.Exception(dumpbuild.Exception{ThreadID: 1, Code: 0xc0000005})
			b.Handle(dumpbuild.Handle{Handle: 4, TypeName: "File"})
			b.Break(m)
			raw, err := b.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			f, err := dump.OpenBytes(raw, "bad.dmp")
			if err != nil {
				if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "bad.dmp") {
					t.Errorf("error must be one line naming the file: %q", err)
				}
				return
			}
			_ = f.Regions()
			p := make([]byte, 64)
			for _, r := range f.MemoryRanges() {
				f.ReadMemory(r.Start, p)
			}
		})
	}
}

func TestTruncatedEverywhere(t *testing.T) {
	b := dumpbuild.New(dumpbuild.X86)
	b.Module(dumpbuild.Module{Name: `C:\a.exe`, Base: 0x400000, Size: 0x1000, PDBName: "a.pdb"})
	b.Thread(dumpbuild.Thread{ID: 1, StackStart: 0x1000, Stack: make([]byte, 64), Name: "t"})
	b.Memory64(0x8000, make([]byte, 256))
	b.Region(dumpbuild.Region{Base: 0x8000, Size: 0x1000, State: dump.MemCommit, Type: dump.MemPrivate})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(raw); n++ {
		f, err := dump.OpenBytes(dumpbuild.Truncate(raw, n), "t.dmp")
		if err == nil {
			_ = f.Regions()
		}
	}
}

// Full-memory dumps leave thread stack descriptors at RVA 0; the stack bytes
// are in the Memory64List. The reader must not map the file header there.
func TestStackDescriptorAtRVAZero(t *testing.T) {
	f, err := dump.Open("../../shared/corpus/trailofbits__manticore/tests/memdumps/simple_parse/simple_parse.dmp")
	if err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	defer f.Close()
	th := f.Threads[0]
	if th.Stack.Data.RVA != 0 || th.Stack.Data.Size == 0 {
		t.Skipf("stack descriptor %+v: not the RVA-0 shape", th.Stack)
	}
	sp := th.Context.SP()
	v, err := f.ReadUint(sp, 4)
	if err != nil || v == 0x62f0a793 || v&0xffff == 0xa793 {
		t.Errorf("[esp] = %#x %v: the minidump header was read as stack memory", v, err)
	}
}
