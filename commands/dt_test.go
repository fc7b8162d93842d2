package commands

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"wdb/dump"
	"wdb/dump/dumpbuild"
	"wdb/heap"
)

// appFacts is the part of testdata/fixtures/facts.json the dt tests use.
type appFacts struct {
	GUID          string            `json:"guid"`
	Age           uint32            `json:"age"`
	ImageBase     uint64            `json:"imageBase"`
	SizeOfImage   uint32            `json:"sizeOfImage"`
	TimeDateStamp uint32            `json:"timeDateStamp"`
	Symbols       map[string]uint32 `json:"symbols"`
}

func loadAppFacts(t *testing.T, arch string) appFacts {
	t.Helper()
	b, err := os.ReadFile("../testdata/fixtures/facts.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	var f appFacts
	if err := json.Unmarshal(all[arch], &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// dtAppSession is the product's reference story in a dump: app.exe (the x64
// fixture, its PDB on the symbol path) with a CommunicatorObj on the heap
// that owns a CMMFSerializer (a mapped view) and a MessageBuffer, and
// CMMFSerializer::s_openViews = 3 in .data.
//
//	0x2a0010 CommunicatorObj  {vfptr, m_serializer 0x2a0040, m_buffer 0x2a0070, m_viewSize 0x10000, m_id 7}
//	0x2a0040 CMMFSerializer   {vfptr, m_viewBase 0x3b0000, m_viewSize 0x10000, m_mapping 0x1c4}
//	0x2a0070 MessageBuffer    {vfptr, m_base 0x2a00a0, m_length 5, m_capacity 0x40}
//	0x2a00a0 "hello"
//	0x2b0000 a CommunicatorObj whose second half is not in the dump
func dtAppSession(t *testing.T) (*Session, *bytes.Buffer) {
	t.Helper()
	facts := loadAppFacts(t, "x64")
	base := facts.ImageBase
	vft := func(class string) uint64 { return base + uint64(facts.Symbols[class+"::`vftable'"]) }
	le := binary.LittleEndian
	heapMem := make([]byte, 0xb0)
	put := func(off int, vals ...uint64) {
		for i, v := range vals {
			le.PutUint64(heapMem[off+8*i:], v)
		}
	}
	put(0x10, vft("CommunicatorObj"), 0x2a0040, 0x2a0070, 0x10000, 7)
	put(0x40, vft("CMMFSerializer"), 0x3b0000, 0x10000, 0x1c4)
	put(0x70, vft("MessageBuffer"), 0x2a00a0, 5, 0x40)
	copy(heapMem[0xa0:], "hello\x00")
	data := make([]byte, 0x138)
	le.PutUint32(data[facts.Symbols["CMMFSerializer::s_openViews"]-0x3000:], 3)

	b := dumpbuild.New(dumpbuild.X64)
	b.Module(dumpbuild.Module{Name: `C:\app\app.exe`, Base: base, Size: facts.SizeOfImage, TimeDateStamp: facts.TimeDateStamp,
		PDBName: `C:\build\app.pdb`, GUID: dumpbuild.MustGUID("{" + facts.GUID + "}"), Age: facts.Age})
	b.Memory(0x2a0000, heapMem)
	b.Memory(base+0x3000, data)
	half := make([]byte, 0x10)
	put2 := func(off int, v uint64) { le.PutUint64(half[off:], v) }
	put2(0, vft("CommunicatorObj"))
	put2(8, 0x2a0040)
	b.Memory(0x2b0000, half)
	b.Thread(dumpbuild.Thread{ID: 1, StackStart: 0x30000, Stack: make([]byte, 0x100),
		Regs: map[string]uint64{"rsp": 0x30000, "rip": base + 0x1000}})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := dump.OpenBytes(raw, "app.dmp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s := NewSession(f, &out, &out)
	if err := s.SetSymbolPath("../testdata/fixtures/x64"); err != nil {
		t.Fatal(err)
	}
	return s, &out
}

// dt over the fixture PDB: layouts (vfptr, static member, pointers to the
// other classes), instances read from the dump, a field selection, a
// partly captured object, and the error lines.
func TestDtGoldenApp(t *testing.T) {
	s, out := dtAppSession(t)
	runGoldenSession(t, s, out, "app_dt.txt")
}

// kdlibcpp's WOW64 dump (full memory) with its targetapp.pdb: bitfields,
// unions, enums, base classes, globals; and the built-in x64 NT layouts of
// the 64-bit process (Windows 10 17134: the 1507-1803 heap family).
func TestDtGoldenTargetappWow64(t *testing.T) {
	var out bytes.Buffer
	s := openCorpusSession(t, goldenWow64, &out)
	if err := s.SetSymbolPath(filepath.Dir(corpusDump(t, goldenWow64))); err != nil {
		t.Fatal(err)
	}
	runGoldenSession(t, s, &out, "targetapp_stacktest_wow64_dt.txt")
}

// kdlibcpp's x64 minidump with its PDB: x64 layouts of the same test types;
// globals that the minidump did not capture print ????.
func TestDtGoldenTargetappAmd64(t *testing.T) {
	const rel = "ivellioscolin__kdlibcpp/kdlib/tests/dumps/targetapp_test_cv_allreg_amd64/targetapp_test_cv_allreg_amd64.dmp"
	var out bytes.Buffer
	s := openCorpusSession(t, rel, &out)
	if err := s.SetSymbolPath(filepath.Dir(corpusDump(t, rel))); err != nil {
		t.Fatal(err)
	}
	runGoldenSession(t, s, &out, "targetapp_test_cv_allreg_amd64_dt.txt")
}

// The manticore Windows 7 x86 full dump without symbols: the built-in
// 32-bit _PEB, _TEB, loader and heap layouts (Windows 7 heap family).
func TestDtGoldenSimpleParse(t *testing.T) {
	var out bytes.Buffer
	s := openCorpusSession(t, simpleParseDump, &out)
	runGoldenSession(t, s, &out, "simple_parse_dt.txt")
}

// A Windows 11 x64 minidump: the PEB is not captured, so the fields read
// ???? and the listing ends with the failed address.
func TestDtGoldenStability(t *testing.T) {
	var out bytes.Buffer
	s := openCorpusSession(t, goldenStability, &out)
	runGoldenSession(t, s, &out, "stability-report_dt.txt")
}

// The built-in layouts agree with the offsets the rest of wdb uses.
func TestDtNTLayouts(t *testing.T) {
	off := func(n *ntLayouts, typ, field string) int {
		t.Helper()
		ty, ok := n.lookup(typ)
		if !ok {
			t.Fatalf("%s missing", typ)
		}
		f, ok := ty.Field(field)
		if !ok {
			t.Fatalf("%s.%s missing", typ, field)
		}
		return int(f.Offset)
	}
	for _, c := range []struct {
		ptr int
		l   *dump.Layout
	}{{4, &dump.Layout32}, {8, &dump.Layout64}} {
		n := newNTLayouts(c.ptr, 19041)
		for _, x := range []struct {
			typ, field string
			want       int
		}{
			{"_TEB", "ProcessEnvironmentBlock", c.l.TEBPEB},
			{"_TEB", "ClientId", c.l.TEBClientID},
			{"_TEB", "DeallocationStack", c.l.TEBDeallocationStack},
			{"_TEB", "WowTebOffset", c.l.TEBWowTebOffset},
			{"_NT_TIB", "StackBase", c.l.TEBStackBase},
			{"_NT_TIB", "StackLimit", c.l.TEBStackLimit},
			{"_NT_TIB", "Self", c.l.TEBSelf},
			{"_PEB", "ImageBaseAddress", c.l.PEBImageBase},
			{"_PEB", "Ldr", c.l.PEBLdr},
			{"_PEB", "ProcessHeap", c.l.PEBProcessHeap},
			{"_PEB", "NumberOfHeaps", c.l.PEBNumberOfHeaps},
			{"_PEB", "ProcessHeaps", c.l.PEBProcessHeaps},
			{"_PEB", "OSBuildNumber", c.l.PEBOSBuild},
			{"_UNICODE_STRING", "Buffer", c.ptr},
		} {
			if got := off(n, x.typ, x.field); got != x.want {
				t.Errorf("%d-bit %s.%s at %#x, want %#x", 8*c.ptr, x.typ, x.field, got, x.want)
			}
		}
		// nt-heap.md §1.2 loader offsets.
		ldr := map[int][3]int{4: {0x0c, 0x18, 0x2c}, 8: {0x10, 0x30, 0x58}}[c.ptr]
		if off(n, "_PEB_LDR_DATA", "InLoadOrderModuleList") != ldr[0] || off(n, "_LDR_DATA_TABLE_ENTRY", "DllBase") != ldr[1] || off(n, "_LDR_DATA_TABLE_ENTRY", "BaseDllName") != ldr[2] {
			t.Errorf("%d-bit loader offsets", 8*c.ptr)
		}
		// Heap offsets follow the build family.
		for build, fam := range map[uint32]heap.Family{7601: heap.FamilyW7, 9600: heap.FamilyW8, 17134: heap.FamilyW10, 19041: heap.FamilyRS5} {
			n := newNTLayouts(c.ptr, build)
			hl := heap.LayoutFor(fam, 8*c.ptr)
			if off(n, "_HEAP", "Signature") != hl.HeapSignature || off(n, "_HEAP", "FrontEndHeap") != hl.HeapFrontEndHeap || off(n, "_HEAP", "Counters") != hl.HeapCounters {
				t.Errorf("%d-bit build %d: _HEAP offsets differ from the heap walker's", 8*c.ptr, build)
			}
			if ty, _ := n.lookup("_HEAP"); ty.Size != uint64(hl.HeapSize) {
				t.Errorf("%d-bit build %d: sizeof(_HEAP) %#x, want %#x", 8*c.ptr, build, ty.Size, hl.HeapSize)
			}
			if ty, _ := n.lookup("_HEAP"); (ty.Fields[0].Name == "Segment") != (fam != heap.FamilyW7) {
				t.Errorf("build %d: Segment union %v", build, ty.Fields[0].Name)
			}
		}
	}
	if n := newNTLayouts(8, 7601); func() bool { ty, _ := n.lookup("_TEB"); _, ok := ty.Field("WowTebOffset"); return ok }() {
		t.Error("Windows 7 _TEB lists WowTebOffset (unconfirmed there)")
	}
	if _, ok := isNTTypeName("_peb"); !ok {
		t.Error("names are matched ignoring case")
	}
}

// Value formats (windbg-commands.md §16.3 and the samples it cites).
func TestDtFormats(t *testing.T) {
	for v, want := range map[uint64]string{0: "0", 9: "9", 10: "0xa", 0x1db1: "0x1db1", 0xffffffff: "0xffffffff", 0x7ffffffdefff: "0x00007fff`fffdefff"} {
		if got := dtUnsigned(v); got != want {
			t.Errorf("dtUnsigned(%#x) = %q, want %q", v, got, want)
		}
	}
	if dtHex(0x77ca7880, 4) != "0x77ca7880" || dtHex(0x2c8274e0000, 8) != "0x000002c8`274e0000" {
		t.Error("dtHex")
	}
	if dtQuoted('b') != "'b'" || dtQuoted(1) != "''" || dtQuoted(0xa1) != "''" {
		t.Error("dtQuoted")
	}
	if decodeString([]byte("ab\x01c\x00zz"), 1, true) != "ab?c" {
		t.Error("decodeString")
	}
}

func TestDtErrors(t *testing.T) {
	s, out := dtAppSession(t)
	for cmd, want := range map[string]string{
		"dt":                                "dt: a type name is required (dt -h for help)\n",
		"dt app!NoSuchType":                 "Symbol app!NoSuchType not found.\n",
		"dt NoSuchType":                     "Symbol NoSuchType not found.\n",
		"dt app!CMMFSerializer m_nothing":   "Cannot find specified field members.\n",
		"dt -q app!CMMFSerializer":          "dt: option -q is not supported by wdb (see dt -h)\n",
		"dt -rx app!CMMFSerializer":         "dt: bad recursion depth \"-rx\" (use -r1 .. -r9)\n",
		"dt app!CMMFSerializer 2a0040 1234": "dt: unexpected \"1234\" after the address\n",
	} {
		if got := dispRun(s, out, cmd); got != want {
			t.Errorf("%s:\n got %q\nwant %q", cmd, got, want)
		}
	}
}

// --json gives the lines with offsets, names and values.
func TestDtJSON(t *testing.T) {
	s, out := dtAppSession(t)
	s.JSON = true
	got := dispRun(s, out, "dt app!MessageBuffer 2a0070")
	var rec struct {
		Result struct {
			Type  string `json:"type"`
			Lines []struct {
				Offset *uint64 `json:"offset"`
				Name   string  `json:"name"`
				Value  string  `json:"value"`
			} `json:"lines"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(got), &rec); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	r := rec.Result
	if r.Type != "app!MessageBuffer" || len(r.Lines) != 4 || r.Lines[2].Name != "m_length" || *r.Lines[2].Offset != 0x10 || r.Lines[2].Value != "5" {
		t.Errorf("%s", got)
	}
}
