package dumpbuild

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"unicode/utf16"

	"wdb/dump"
)

var ntdllGUID = MustGUID("1eb9fac8-0ad6-4d8f-8c9b-6b6e6c1b8e7a")

// richX64 uses every stream the Builder writes.
func richX64() *Builder {
	b := New(X64)
	b.TimeDateStamp(0x6543210f)
	b.Version(0x0a06a793)
	sys := DefaultSystem(X64)
	sys.CSD = "Service Pack 1"
	b.System(sys)
	b.Misc(MiscInfo{
		Level: 3, PID: 0x1234, CreateTime: 1699999000, UserTime: 3, KernelTime: 1,
		ProcessorMaxMhz: 3600, ProcessorCurrentMhz: 3600, IntegrityLevel: 0x2000, TimeZoneID: 1,
		TimeZone: TimeZone{Bias: -60, StandardName: "W. Europe Standard Time", DaylightName: "W. Europe Daylight Time",
			StandardDate: SystemTime{Month: 10, DayOfWeek: 0, Day: 5, Hour: 3}, DaylightBias: -60},
	})
	b.Module(Module{
		Name: `C:\Windows\System32\ntdll.dll`, Base: 0x7ffd_1000_0000, Size: 0x1f8000,
		TimeDateStamp: 0x5a7c8f1b, Checksum: 0x1f3a2b, Version: [4]uint16{10, 0, 19041, 3636},
		PDBName: "ntdll.pdb", GUID: ntdllGUID, Age: 1,
	})
	b.Module(Module{Name: `C:\app\app.exe`, Base: 0x7ff6_0000_0000, Size: 0x10000})
	b.Unloaded(UnloadedModule{Name: "gone.dll", Base: 0x7ffd_2000_0000, Size: 0x5000, Checksum: 7, TimeDateStamp: 9})
	stack := bytes.Repeat([]byte{0xcc}, 0x100)
	b.Thread(Thread{
		ID: 0x1a2b, SuspendCount: 1, PriorityClass: 0x20, Priority: 2, TEB: 0xa1_0000_0000,
		StackStart: 0xa2_0000_0f00, Stack: stack,
		Regs: map[string]uint64{"rip": 0x7ffd_1000_1234, "rsp": 0xa2_0000_0f00, "RAX": 42, "r15": 15},
		Name: "main",
	})
	b.Thread(Thread{ID: 0x2000, TEB: 0xa1_0000_2000, Regs: map[string]uint64{"rip": 1}})
	b.ThreadInfo(ThreadInfo{ThreadID: 0x1a2b, DumpFlags: 0, ExitStatus: 0x103, CreateTime: 1, KernelTime: 2,
		UserTime: 3, StartAddress: 0x7ff6_0000_1000, Affinity: 0xf})
	b.Exception(Exception{ThreadID: 0x1a2b, Code: 0xc0000005, Flags: 0, Address: 0x7ffd_1000_1234,
		Params: []uint64{1, 0xdead}})
	b.Memory(0x7ff6_0000_2000, []byte("data"))
	b.Region(Region{Base: 0x7ff6_0000_0000, AllocBase: 0x7ff6_0000_0000, AllocProtect: dump.PageExecuteWriteCopy,
		Size: 0x1000, State: dump.MemCommit, Protect: dump.PageReadOnly, Type: dump.MemImage})
	b.Handle(Handle{Handle: 4, TypeName: "Event", ObjectName: "", Attributes: 0, GrantedAccess: 0x1f0003,
		HandleCount: 1, PointerCount: 32769})
	b.Handle(Handle{Handle: 8, TypeName: "File", ObjectName: `\Device\HarddiskVolume3\x`, HandleCount: 2, PointerCount: 3})
	b.Comment("ansi")
	b.CommentW("wide é")
	b.RawStream(0x12345678, []byte{1, 2, 3})
	b.UnusedEntries(2)
	return b
}

func TestHeaderAndDirectory(t *testing.T) {
	r := mustBytes(t, richX64())
	h, d := parseHeader(r)
	if h.sig != 0x504d444d || h.version != 0x0a06a793 || h.dirRva != 32 || h.checksum != 0 || h.time != 0x6543210f {
		t.Fatalf("header %+v", h)
	}
	want := dump.FlagWithHandleData | dump.FlagWithUnloadedModules | dump.FlagWithFullMemoryInfo | dump.FlagWithThreadInfo
	if h.flags != uint64(want) {
		t.Errorf("derived flags %#x, want %#x", h.flags, want)
	}
	var types []dump.StreamType
	for _, e := range d {
		types = append(types, e.typ)
		if e.typ != dump.StreamUnused && (e.rva == 0 || int(e.rva)+int(e.size) > len(r.b)) {
			t.Errorf("%v at %#x+%#x outside file", e.typ, e.rva, e.size)
		}
		if e.typ == dump.StreamUnused && (e.rva != 0 || e.size != 0) {
			t.Errorf("unused entry has location %#x+%#x", e.rva, e.size)
		}
	}
	wantTypes := []dump.StreamType{
		dump.StreamThreadList, dump.StreamThreadInfoList, dump.StreamModuleList, dump.StreamUnloadedModuleList,
		dump.StreamMemoryList, dump.StreamException, dump.StreamSystemInfo, dump.StreamMiscInfo,
		dump.StreamHandleData, dump.StreamMemoryInfoList, dump.StreamThreadNames, dump.StreamCommentA,
		dump.StreamCommentW, 0x12345678, dump.StreamUnused, dump.StreamUnused,
	}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("directory %v\nwant      %v", types, wantTypes)
	}
}

func TestSystemInfo(t *testing.T) {
	r := mustBytes(t, richX64())
	o, n := find(r, dump.StreamSystemInfo)
	if n != 56 {
		t.Fatalf("size %d", n)
	}
	if r.u16(o) != dump.ProcessorAMD64 || r.u16(o+2) != 6 || r.u16(o+4) != 0x9e0a || r.u8(o+6) != 4 || r.u8(o+7) != 1 {
		t.Errorf("cpu fields % x", r.b[o:o+8])
	}
	if r.u32(o+8) != 10 || r.u32(o+12) != 0 || r.u32(o+16) != 19045 || r.u32(o+20) != 2 {
		t.Errorf("version fields % x", r.b[o+8:o+24])
	}
	if s := r.str(r.u32(o + 24)); s != "Service Pack 1" {
		t.Errorf("CSD %q", s)
	}
	if r.u16(o+28) != 0x100 || r.u16(o+30) != 0 {
		t.Errorf("suite % x", r.b[o+28:o+32])
	}
	if string(r.b[o+32:o+44]) != "GenuineIntel" || r.u32(o+44) != 0x906ea || r.u32(o+48) != 0xbfebfbff {
		t.Errorf("cpu info % x", r.b[o+32:o+56])
	}

	// Without a vendor the OtherCpuInfo arm is written; x86 gets arch 0.
	b := New(X86)
	b.System(SystemInfo{Major: 6, Minor: 1, Build: 7601, CSD: "", ProcessorFeatures: [2]uint64{0x1234, 5}})
	r = mustBytes(t, b)
	o, _ = find(r, dump.StreamSystemInfo)
	if r.u16(o) != dump.ProcessorX86 || r.u32(o+16) != 7601 || r.u64(o+32) != 0x1234 || r.u64(o+40) != 5 {
		t.Errorf("x86 system info % x", r.b[o:o+56])
	}
	if rva := r.u32(o + 24); rva == 0 || r.u32(int(rva)) != 0 || r.str(rva) != "" {
		t.Errorf("empty CSD not written as an empty MINIDUMP_STRING")
	}
}

func TestModuleList(t *testing.T) {
	r := mustBytes(t, richX64())
	o, n := find(r, dump.StreamModuleList)
	if r.u32(o) != 2 || n != 4+2*108 {
		t.Fatalf("count %d size %d", r.u32(o), n)
	}
	m := o + 4
	if r.u64(m) != 0x7ffd_1000_0000 || r.u32(m+8) != 0x1f8000 || r.u32(m+12) != 0x1f3a2b || r.u32(m+16) != 0x5a7c8f1b {
		t.Errorf("module fields % x", r.b[m:m+20])
	}
	if s := r.str(r.u32(m + 20)); s != `C:\Windows\System32\ntdll.dll` {
		t.Errorf("name %q", s)
	}
	vs := m + 24
	wantVS := []uint32{0xfeef04bd, 0x10000, 10 << 16, 19041<<16 | 3636, 10 << 16, 19041<<16 | 3636, 0x3f, 0, 0x40004, 2, 0, 0, 0}
	for i, w := range wantVS {
		if got := r.u32(vs + 4*i); got != w {
			t.Errorf("VS_FIXEDFILEINFO dword %d = %#x, want %#x", i, got, w)
		}
	}
	cvSize, cvRva := r.u32(m+76), r.u32(m+80)
	cv := r.b[cvRva : cvRva+cvSize]
	if string(cv[:4]) != "RSDS" || !bytes.Equal(cv[4:20], ntdllGUID[:]) || binary.LittleEndian.Uint32(cv[20:]) != 1 ||
		string(cv[24:]) != "ntdll.pdb\x00" {
		t.Errorf("CodeView % x", cv)
	}
	if r.u32(m+84) != 0 || r.u32(m+88) != 0 || r.u64(m+92) != 0 || r.u64(m+100) != 0 {
		t.Errorf("misc/reserved not zero")
	}
	// The .exe without version resource or PDB: zero VS_FIXEDFILEINFO and CvRecord.
	m2 := m + 108
	if r.str(r.u32(m2+20)) != `C:\app\app.exe` || !bytes.Equal(r.b[m2+24:m2+108], make([]byte, 84)) {
		t.Errorf("second module % x", r.b[m2:m2+108])
	}
}

func TestMustGUID(t *testing.T) {
	g := MustGUID("{01234567-89ab-CDEF-0123-456789abcdef}")
	want := []byte{0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	if !bytes.Equal(g[:], want) {
		t.Errorf("% x", g)
	}
	defer func() {
		if recover() == nil {
			t.Error("no panic on malformed GUID")
		}
	}()
	MustGUID("0123")
}

func TestUnloadedModuleList(t *testing.T) {
	r := mustBytes(t, richX64())
	o, n := find(r, dump.StreamUnloadedModuleList)
	if n != 12+24 || r.u32(o) != 12 || r.u32(o+4) != 24 || r.u32(o+8) != 1 {
		t.Fatalf("header % x", r.b[o:o+12])
	}
	e := o + 12
	if r.u64(e) != 0x7ffd_2000_0000 || r.u32(e+8) != 0x5000 || r.u32(e+12) != 7 || r.u32(e+16) != 9 || r.str(r.u32(e+20)) != "gone.dll" {
		t.Errorf("entry % x", r.b[e:e+24])
	}
}

func TestThreadListAndStack(t *testing.T) {
	r := mustBytes(t, richX64())
	o, n := find(r, dump.StreamThreadList)
	if r.u32(o) != 2 || n != 4+2*48 {
		t.Fatalf("count %d size %d", r.u32(o), n)
	}
	e := o + 4
	if r.u32(e) != 0x1a2b || r.u32(e+4) != 1 || r.u32(e+8) != 0x20 || r.u32(e+12) != 2 || r.u64(e+16) != 0xa1_0000_0000 {
		t.Errorf("thread fields % x", r.b[e:e+24])
	}
	if r.u64(e+24) != 0xa2_0000_0f00 || r.u32(e+32) != 0x100 {
		t.Errorf("stack descriptor % x", r.b[e+24:e+40])
	}
	stackRva := r.u32(e + 36)
	if !bytes.Equal(r.b[stackRva:stackRva+0x100], bytes.Repeat([]byte{0xcc}, 0x100)) {
		t.Errorf("stack bytes differ")
	}
	ctxSize, ctxRva := r.u32(e+40), int(r.u32(e+44))
	if ctxSize != 1232 {
		t.Fatalf("context size %d", ctxSize)
	}
	if r.u32(ctxRva+0x30) != 0x10001f || r.u64(ctxRva+0xf8) != 0x7ffd_1000_1234 || r.u64(ctxRva+0x98) != 0xa2_0000_0f00 ||
		r.u64(ctxRva+0x78) != 42 || r.u64(ctxRva+0xf0) != 15 || r.u16(ctxRva+0x38) != 0x33 {
		t.Errorf("context fields wrong")
	}
	// The stack also appears in the MemoryList, sharing the bytes.
	mo, _ := find(r, dump.StreamMemoryList)
	if r.u32(mo) != 2 || r.u64(mo+4) != 0xa2_0000_0f00 || r.u32(mo+12) != 0x100 || r.u32(mo+16) != stackRva {
		t.Errorf("memory list stack descriptor % x", r.b[mo:mo+20])
	}
	d := mo + 4 + 16
	if r.u64(d) != 0x7ff6_0000_2000 || r.u32(d+8) != 4 || string(r.b[r.u32(d+12):r.u32(d+12)+4]) != "data" {
		t.Errorf("memory list data descriptor % x", r.b[d:d+16])
	}
	// Second thread has no stack: empty descriptor.
	e2 := e + 48
	if r.u32(e2+32) != 0 || r.u32(e2+36) != 0 {
		t.Errorf("stackless thread descriptor % x", r.b[e2+24:e2+40])
	}
}

func TestThreadInfoAndNames(t *testing.T) {
	r := mustBytes(t, richX64())
	o, n := find(r, dump.StreamThreadInfoList)
	if n != 12+64 || r.u32(o) != 12 || r.u32(o+4) != 64 || r.u32(o+8) != 1 {
		t.Fatalf("thread info header % x", r.b[o:o+12])
	}
	e := o + 12
	got := []uint64{uint64(r.u32(e)), uint64(r.u32(e + 12)), r.u64(e + 16), r.u64(e + 32), r.u64(e + 40), r.u64(e + 48), r.u64(e + 56)}
	if !slices.Equal(got, []uint64{0x1a2b, 0x103, 1, 2, 3, 0x7ff6_0000_1000, 0xf}) {
		t.Errorf("thread info %x", got)
	}
	o, n = find(r, dump.StreamThreadNames)
	if n != 4+12 || r.u32(o) != 1 || r.u32(o+4) != 0x1a2b {
		t.Fatalf("thread names % x", r.b[o:o+n])
	}
	if rva := r.u64(o + 8); r.str(uint32(rva)) != "main" {
		t.Errorf("thread name")
	}
}

func TestExceptionStream(t *testing.T) {
	r := mustBytes(t, richX64())
	o, n := find(r, dump.StreamException)
	if n != 168 {
		t.Fatalf("size %d", n)
	}
	if r.u32(o) != 0x1a2b || r.u32(o+4) != 0 || r.u32(o+8) != 0xc0000005 || r.u32(o+12) != 0 ||
		r.u64(o+16) != 0 || r.u64(o+24) != 0x7ffd_1000_1234 || r.u32(o+32) != 2 || r.u32(o+36) != 0 ||
		r.u64(o+40) != 1 || r.u64(o+48) != 0xdead || r.u64(o+56) != 0 {
		t.Errorf("exception % x", r.b[o:o+64])
	}
	// No registers given: shares the faulting thread's context.
	to, _ := find(r, dump.StreamThreadList)
	if r.u32(o+160) != r.u32(to+4+40) || r.u32(o+164) != r.u32(to+4+44) {
		t.Errorf("exception context not shared with thread")
	}

	b := New(X86)
	b.Exception(Exception{ThreadID: 9, Code: 0x80000003, Regs: map[string]uint64{"eip": 0x401000}})
	r = mustBytes(t, b)
	o, _ = find(r, dump.StreamException)
	size, rva := r.u32(o+160), int(r.u32(o+164))
	if size != 716 || r.u32(rva) != 0x1003f || r.u32(rva+0xb8) != 0x401000 {
		t.Errorf("own x86 context: size %d flags %#x eip %#x", size, r.u32(rva), r.u32(rva+0xb8))
	}
}

func TestMiscInfoLevels(t *testing.T) {
	for level, size := range map[int]int{1: 24, 2: 44, 3: 232, 4: 832, 5: 1364} {
		b := New(X64)
		b.Misc(MiscInfo{Level: level, PID: 0x1234, CreateTime: 100, UserTime: 2, KernelTime: 3,
			ProcessorMaxMhz: 2400, IntegrityLevel: 0x3000, TimeZoneID: 2,
			TimeZone:    TimeZone{Bias: 300, StandardName: "EST", DaylightName: "EDT", DaylightBias: -60, DaylightDate: SystemTime{Month: 3, Day: 2, Hour: 2}},
			BuildString: "10.0.19041.1 (WinBuild.160101.0800)", DbgBldStr: "dbghelp.amd64,10.0", ProcessCookie: 0xc0ffee})
		r := mustBytes(t, b)
		o, n := find(r, dump.StreamMiscInfo)
		if n != size || r.u32(o) != uint32(size) {
			t.Errorf("level %d: size %d SizeOfInfo %d, want %d", level, n, r.u32(o), size)
			continue
		}
		flags := map[int]uint32{1: 0x3, 2: 0x7, 3: 0x77, 4: 0x177, 5: 0x377}[level]
		if r.u32(o+4) != flags || r.u32(o+8) != 0x1234 || r.u32(o+12) != 100 || r.u32(o+16) != 2 || r.u32(o+20) != 3 {
			t.Errorf("level %d: base fields % x", level, r.b[o:o+24])
		}
		if level >= 2 && r.u32(o+24) != 2400 {
			t.Errorf("level %d: max mhz", level)
		}
		if level >= 3 {
			tz := o + 60
			if r.u32(o+44) != 0x3000 || r.u32(o+56) != 2 || int32(r.u32(tz)) != 300 ||
				wchars(r.b[tz+4:tz+68]) != "EST" || wchars(r.b[tz+88:tz+152]) != "EDT" ||
				r.u16(tz+152+2) != 3 || r.u16(tz+152+6) != 2 || int32(r.u32(tz+168)) != -60 {
				t.Errorf("level %d: time zone % x", level, r.b[tz:tz+172])
			}
		}
		if level >= 4 && (wchars(r.b[o+232:o+752]) != "10.0.19041.1 (WinBuild.160101.0800)" || wchars(r.b[o+752:o+832]) != "dbghelp.amd64,10.0") {
			t.Errorf("level %d: build strings", level)
		}
		if level >= 5 && r.u32(o+1360) != 0xc0ffee {
			t.Errorf("level 5: cookie %#x", r.u32(o+1360))
		}
	}
}

// wchars decodes a NUL-padded fixed WCHAR array.
func wchars(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func TestMemoryInfoHandlesComments(t *testing.T) {
	r := mustBytes(t, richX64())
	o, n := find(r, dump.StreamMemoryInfoList)
	if n != 16+48 || r.u32(o) != 16 || r.u32(o+4) != 48 || r.u64(o+8) != 1 {
		t.Fatalf("memory info header % x", r.b[o:o+16])
	}
	e := o + 16
	if r.u64(e) != 0x7ff6_0000_0000 || r.u64(e+8) != 0x7ff6_0000_0000 || r.u32(e+16) != dump.PageExecuteWriteCopy ||
		r.u32(e+20) != 0 || r.u64(e+24) != 0x1000 || r.u32(e+32) != dump.MemCommit || r.u32(e+36) != dump.PageReadOnly ||
		r.u32(e+40) != dump.MemImage || r.u32(e+44) != 0 {
		t.Errorf("memory info % x", r.b[e:e+48])
	}

	o, n = find(r, dump.StreamHandleData)
	if n != 16+2*40 || r.u32(o) != 16 || r.u32(o+4) != 40 || r.u32(o+8) != 2 || r.u32(o+12) != 0 {
		t.Fatalf("handle header % x", r.b[o:o+16])
	}
	h := o + 16
	if r.u64(h) != 4 || r.str(r.u32(h+8)) != "Event" || r.u32(h+12) != 0 || r.u32(h+20) != 0x1f0003 ||
		r.u32(h+24) != 1 || r.u32(h+28) != 32769 || r.u32(h+32) != 0 || r.u32(h+36) != 0 {
		t.Errorf("handle 0 % x", r.b[h:h+40])
	}
	h += 40
	if r.u64(h) != 8 || r.str(r.u32(h+8)) != "File" || r.str(r.u32(h+12)) != `\Device\HarddiskVolume3\x` {
		t.Errorf("handle 1 % x", r.b[h:h+40])
	}

	b := New(X64)
	b.HandleDescriptorSize(32)
	b.Handle(Handle{Handle: 0x10, TypeName: "Key", PointerCount: 5})
	r2 := mustBytes(t, b)
	o, n = find(r2, dump.StreamHandleData)
	if n != 16+32 || r2.u32(o+4) != 32 || r2.u32(o+16+28) != 5 {
		t.Errorf("32-byte descriptors % x", r2.b[o:o+n])
	}

	o, n = find(r, dump.StreamCommentA)
	if string(r.b[o:o+n]) != "ansi\x00" {
		t.Errorf("comment A %q", r.b[o:o+n])
	}
	o, n = find(r, dump.StreamCommentW)
	if w := wchars(r.b[o : o+n]); w != "wide é" || n != 2*len("wide é")-2+2 {
		t.Errorf("comment W %q (%d bytes)", w, n)
	}
	o, n = find(r, 0x12345678)
	if !bytes.Equal(r.b[o:o+n], []byte{1, 2, 3}) {
		t.Errorf("raw stream % x", r.b[o:o+n])
	}
}

func TestMemory64List(t *testing.T) {
	b := New(X64)
	page := bytes.Repeat([]byte{0xab}, 0x1000)
	b.Memory64(0x10000, page)
	b.Memory64Zero(0x11000, 0x3000)
	b.Memory64(0x20000, []byte{1, 2, 3, 4})
	b.Thread(Thread{ID: 1, StackStart: 0x30000, Stack: []byte("stackbytes"), StackInMemory64: true})
	r := mustBytes(t, b)
	h, _ := parseHeader(r)
	if h.flags != dump.FlagWithFullMemory {
		t.Errorf("flags %#x", h.flags)
	}
	if has(r, dump.StreamMemoryList) {
		t.Errorf("MemoryList written though all memory is in Memory64List")
	}
	o, n := find(r, dump.StreamMemory64List)
	if r.u64(o) != 4 || n != 16+4*16 {
		t.Fatalf("count %d size %d", r.u64(o), n)
	}
	base := r.u64(o + 8)
	type rng struct{ start, size uint64 }
	var got []rng
	for i := range 4 {
		got = append(got, rng{r.u64(o + 16 + 16*i), r.u64(o + 24 + 16*i)})
	}
	want := []rng{{0x30000, 10}, {0x10000, 0x1000}, {0x11000, 0x3000}, {0x20000, 4}}
	if !slices.Equal(got, want) {
		t.Fatalf("descriptors %x", got)
	}
	if base+10+0x1000+0x3000+4 != uint64(len(r.b)) {
		t.Errorf("base %#x + data != file size %#x", base, len(r.b))
	}
	if string(r.b[base:base+10]) != "stackbytes" || !bytes.Equal(r.b[base+10:base+10+0x1000], page) ||
		!bytes.Equal(r.b[base+0x100a:base+0x400a], make([]byte, 0x3000)) || !bytes.Equal(r.b[base+0x400a:], []byte{1, 2, 3, 4}) {
		t.Errorf("memory64 data wrong")
	}
	to, _ := find(r, dump.StreamThreadList)
	if r.u32(to+4+32) != 10 || uint64(r.u32(to+4+36)) != base {
		t.Errorf("stack descriptor in Memory64 data: size %d rva %#x base %#x", r.u32(to+4+32), r.u32(to+4+36), base)
	}
}

func TestFlagsOverride(t *testing.T) {
	b := New(X64)
	b.Flags(dump.FlagWithDataSegs | dump.FlagWithTokenInformation)
	b.Memory64(0x1000, []byte{1})
	h, _ := parseHeader(mustBytes(t, b))
	if h.flags != dump.FlagWithDataSegs|dump.FlagWithTokenInformation {
		t.Errorf("flags %#x", h.flags)
	}
}

func TestDeterministic(t *testing.T) {
	a, err := richX64().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := richX64().Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatal("same input gave different bytes")
		}
	}
	// Laying out twice from one Builder gives the same bytes too.
	bl := richX64()
	x, _ := bl.Bytes()
	y, _ := bl.Bytes()
	if !bytes.Equal(x, y) || !bytes.Equal(x, a) {
		t.Fatal("re-layout differs")
	}
}

func TestBuilderErrors(t *testing.T) {
	cases := map[string]func(*Builder){
		"arch":       func(b *Builder) { *b = *New(dump.ArchARM64) },
		"params":     func(b *Builder) { b.Exception(Exception{Params: make([]uint64, 16)}) },
		"register":   func(b *Builder) { b.Thread(Thread{Regs: map[string]uint64{"eax": 1}}) },
		"misc level": func(b *Builder) { b.Misc(MiscInfo{Level: 6}) },
		"tz name": func(b *Builder) {
			b.Misc(MiscInfo{TimeZone: TimeZone{StandardName: "0123456789012345678901234567890123456789"}})
		},
		"handle size": func(b *Builder) { b.HandleDescriptorSize(36) },
		"vendor":      func(b *Builder) { b.System(SystemInfo{VendorID: "TooLongVendorName"}) },
		"break":       func(b *Builder) { b.Break(Malformation(0)) },
	}
	for name, f := range cases {
		b := New(X64)
		f(b)
		if _, err := b.Bytes(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
