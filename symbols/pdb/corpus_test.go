package pdb

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"wdb/dump"
)

// Real PDBs from the shared corpus (see its MANIFEST.md). Expected values
// were read with llvm-pdbutil 14 (dump -summary -streams -named-streams
// -modules -publics -globals -symbols -l -section-headers -section-contribs)
// and from breakpad's crash.sym.
const corpusDir = "../../../shared/corpus"

const (
	symbolicWin = "getsentry__symbolic/symbolic-testutils/fixtures/windows"
	crashPDB    = symbolicWin + "/crash.pdb"
	srcsrvPDB   = symbolicWin + "/crash_with_srcsrv.pdb"
	cwePDB      = symbolicWin + "/CrashWithException.pdb"
	sigsegvPDB  = "llvm-mirror__lldb/test/Shell/Minidump/Windows/Sigsegv/Inputs/sigsegv.pdb"
	kdlibDumps  = "ivellioscolin__kdlibcpp/kdlib/tests/dumps"
)

func corpusFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(corpusDir, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file not available (%v); the shared corpus is expected at %s", err, corpusDir)
	}
	return p
}

func openCorpus(t testing.TB, rel string) *File {
	t.Helper()
	f, err := Open(corpusFile(t, rel))
	if err != nil {
		t.Fatalf("Open(%s): %v", rel, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func parseGUID(t testing.TB, s string) [16]byte {
	t.Helper()
	var g [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		t.Fatalf("bad GUID %q", s)
	}
	var raw [16]byte
	for i := range raw {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		raw[i] = byte(v)
	}
	// Data1..Data3 are little-endian fields.
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5], g[6], g[7] = raw[5], raw[4], raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g
}

func TestCorpusCrashPDB(t *testing.T) {
	f := openCorpus(t, crashPDB)
	guid, age := f.Info()
	if GUIDString(guid) != "3249D99D-0C40-4931-8610-F4E4FB0B6936" || age != 1 {
		t.Errorf("Info = %s %d", GUIDString(guid), age)
	}
	if err := f.Matches(parseGUID(t, "3249D99D-0C40-4931-8610-F4E4FB0B6936"), 1); err != nil {
		t.Errorf("Matches: %v", err)
	}
	info := f.PDBInfo()
	if info.Version != 20000404 || info.Signature != 1521713271 || info.Age != 1 {
		t.Errorf("PDBInfo = %+v", info)
	}
	if f.BlockSize() != 4096 || f.NumStreams() != 87 {
		t.Errorf("block size %d, %d streams; want 4096, 87", f.BlockSize(), f.NumStreams())
	}
	if got := fmt.Sprint(f.NamedStreams()); got != "[{/LinkInfo 5} {/names 11} {/src/headerblock 84}]" {
		t.Errorf("NamedStreams = %s", got)
	}
	d, _ := f.DBI()
	if d.Age != 1 || d.GlobalStream != 7 || d.PublicStream != 8 || d.SymRecordStream != 9 || d.Machine != 0x14c {
		t.Errorf("DBI = %+v", d)
	}
	mods := f.Modules()
	if len(mods) != 71 || len(f.SectionContributions()) != 507 || len(f.SectionMap()) != 6 {
		t.Errorf("%d modules, %d contributions, %d section map entries; want 71, 507, 6", len(mods), len(f.SectionContributions()), len(f.SectionMap()))
	}
	if m := mods[8]; m.Name != `C:\projects\breakpad-tools\windows\crash\Release\main.obj` || m.Stream != 21 {
		t.Errorf("module 8 = %+v", m)
	}
	if m := mods[70]; m.Name != "* Linker *" || m.Stream != 83 {
		t.Errorf("module 70 = %+v", m)
	}
	secs := f.Sections()
	if len(secs) != 5 || secs[0].Name != ".text" || secs[0].VirtualAddress != 0x1000 || secs[0].VirtualSize != 0x291b || secs[4].Name != ".reloc" || secs[4].VirtualAddress != 0x8000 {
		t.Errorf("Sections = %v", secs)
	}
	if f.HasOMAP() {
		t.Error("HasOMAP")
	}
	// 339 S_PUB32 + 66 S_GDATA32/S_LDATA32, of which 19 are absolute (section 6
	// of a 5-section image) or in section 0: 330 publics + 56 data have RVAs.
	syms := f.Symbols()
	counts := map[SymKind]int{}
	for _, s := range syms {
		counts[s.Kind]++
	}
	if len(syms) != 386 || counts[Public] != 330 || counts[Data] != 56 {
		t.Errorf("Symbols: %d (%v), want 386 (330 public, 56 data)", len(syms), counts)
	}
	// _main is S_PUB32 flags=function at 0001:6416; main is S_GPROC32 in
	// module 8 (main.obj) at the same address, code size 350.
	if got := symsStr(f.Lookup("_main")); got != "_main@0x2910+0x0/public" {
		t.Errorf("Lookup(_main) = %s", got)
	}
	if l := f.Lookup("_main"); len(l) == 1 && l[0].Flags != PubFunction {
		t.Errorf("_main flags = %d", l[0].Flags)
	}
	if got := f.Lookup("main"); len(got) != 1 || symStr(got[0]) != "main@0x2910+0x15e/function" || got[0].Module != 8 {
		t.Errorf("Lookup(main) = %v", got)
	}
	// The crash address of mini.dmp: crash!main+0x12d, main.cpp line 35.
	if s, ok := f.Nearest(0x2a3d); !ok || s.Name != "main" || 0x2a3d-s.RVA != 0x12d {
		t.Errorf("Nearest(0x2a3d) = %v %v", s, ok)
	}
	if file, line, ok := f.LineAt(0x2a3d); !ok || file != `c:\projects\breakpad-tools\windows\crash\main.cpp` || line != 35 {
		t.Errorf("LineAt(0x2a3d) = %q %d %v", file, line, ok)
	}
	// llvm-pdbutil -l, module 8: 0001:00001910-00001A6E, 33@1910 34@1959 36@1A33 34@1A36 35@1A3D 36@1A47 37@1A4E.
	want := "2910+49:33 2959+da:34 2a33+3:36 2a36+7:34 2a3d+a:35 2a47+7:36 2a4e+20:37"
	var got []string
	for _, l := range f.LinesForRange(0x2910, 0x15e) {
		got = append(got, fmt.Sprintf("%x+%x:%d", l.RVA, l.Size, l.Line))
	}
	if strings.Join(got, " ") != want {
		t.Errorf("LinesForRange(main) = %s\nwant %s", strings.Join(got, " "), want)
	}
	// Module symbols of main.obj: `anonymous namespace'::callback (S_LPROC32
	// 0001:6352 size 51), main, printf (0001:6304 size 46) and labels.
	ms, err := f.ModuleSymbols(8)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ms {
		if s.Kind == Function {
			names = append(names, fmt.Sprintf("%s@%x+%x", s.Name, s.RVA, s.Size))
		}
	}
	if g := strings.Join(names, ","); g != "`anonymous namespace'::callback@28d0+33,main@2910+15e,printf@28a0+2e" {
		t.Errorf("module 8 functions = %s", g)
	}
	if err := f.LoadProcs(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Symbols()); n != 566 {
		t.Errorf("after LoadProcs: %d symbols, want 566", n)
	}
	if w := f.Warnings(); len(w) != 0 {
		t.Errorf("Warnings: %v", w)
	}
}

// crash_with_srcsrv.pdb is crash.pdb after pdbstr added a "srcsrv" stream:
// pdbstr bumped the info-stream age to 4 but the DBI age stays 1, and the
// image (mini.dmp's crash.exe, RSDS age 1) still matches it.
func TestCorpusSrcsrvAge(t *testing.T) {
	f := openCorpus(t, srcsrvPDB)
	guid := parseGUID(t, "3249D99D-0C40-4931-8610-F4E4FB0B6936")
	if f.PDBInfo().Age != 4 || f.MatchAge() != 1 {
		t.Errorf("info age %d, match age %d; want 4, 1", f.PDBInfo().Age, f.MatchAge())
	}
	if err := f.Matches(guid, 1); err != nil {
		t.Errorf("Matches(guid, 1) = %v", err)
	}
	err := f.Matches(guid, 4)
	if err == nil || !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "age differs: want 4, have 1 (DBI age; info stream age 4)") {
		t.Errorf("Matches(guid, 4) = %v", err)
	}
	s, err := f.NamedStream("srcsrv")
	if err != nil || s.Index() != 87 || s.Size() != 951 {
		t.Fatalf("srcsrv stream = %v, %v", s, err)
	}
	b := make([]byte, 951)
	if _, err := s.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "VERCTRL=Perforce") {
		t.Errorf("srcsrv stream does not name Perforce: %q", b[:80])
	}
	other := openCorpus(t, cwePDB)
	if err := other.Matches(guid, 1); err == nil || !strings.Contains(err.Error(), "GUID differs: want 3249D99D-0C40-4931-8610-F4E4FB0B6936, have F535C5FB-2AE8-4BB8-AA20-6C30BE566C5A") {
		t.Errorf("CrashWithException.Matches = %v", err)
	}
}

// mini.dmp (x86) crashed in crash.exe at 0x2a2a3d = crash!main+0x12d.
func TestCorpusMiniDumpMatches(t *testing.T) {
	d, err := dump.Open(corpusFile(t, symbolicWin+"/mini.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var mod *dump.Module
	for i := range d.Modules {
		if strings.EqualFold(d.Modules[i].BaseName(), "crash.exe") {
			mod = &d.Modules[i]
		}
	}
	if mod == nil || mod.CodeView == nil {
		t.Fatal("crash.exe or its CodeView record not in mini.dmp")
	}
	if mod.Base != 0x2a0000 {
		t.Errorf("crash.exe base = %#x, want 0x2a0000", mod.Base)
	}
	f := openCorpus(t, crashPDB)
	if err := f.Matches(mod.CodeView.GUID, mod.CodeView.Age); err != nil {
		t.Fatalf("crash.pdb does not match crash.exe: %v", err)
	}
	srv := openCorpus(t, srcsrvPDB)
	if err := srv.Matches(mod.CodeView.GUID, mod.CodeView.Age); err != nil {
		t.Errorf("crash_with_srcsrv.pdb does not match crash.exe: %v", err)
	}
	rva := uint32(0x2a2a3d - mod.Base)
	s, ok := f.Nearest(rva)
	if !ok || s.Name != "main" || rva-s.RVA != 0x12d {
		t.Errorf("Nearest(%#x) = %v+%#x, want main+0x12d", rva, s.Name, rva-s.RVA)
	}
}

func TestCorpusSigsegv(t *testing.T) {
	f := openCorpus(t, sigsegvPDB)
	guid, age := f.Info()
	if GUIDString(guid) != "7DD47A9F-C2E8-499A-A78E-C14AE2C965A2" || age != 1 {
		t.Errorf("Info = %s %d", GUIDString(guid), age)
	}
	if d, _ := f.DBI(); d.Machine != 0x8664 || d.Flags&1 == 0 {
		t.Errorf("DBI = %+v (want x64, incrementally linked)", d)
	}
	if m := f.Modules(); len(m) != 2 || m[0].Name != `C:\temp\sigsegv.obj` || m[1].Name != "* Linker *" {
		t.Errorf("Modules = %v", m)
	}
	// llvm-pdbutil -publics: 7 S_PUB32; .text at 0x1000, .rdata 0x3000, .data 0x4000.
	want := "main@0x1040+0x0/public mainCRTStartup@0x1070+0x0/public printf@0x1090+0x0/public " +
		"?crash@@YAX_N@Z@0x10b0+0x0/public ?foo@@YAHHMPEBD@Z@0x1100+0x0/public __real@4048f5c3@0x307c+0x0/public " +
		"_fltused@0x4000+0x0/data _fltused@0x4000+0x0/public"
	if got := symsStr(f.Symbols()); got != want {
		t.Errorf("Symbols =\n %s\nwant\n %s", got, want)
	}
	// -symbols: main 0001:0064 size 36, mainCRTStartup 0001:0112 size 14,
	// printf 0001:0144 size 21, crash 0001:0176 size 69, foo 0001:0256 size 124.
	for _, c := range []struct{ name, want string }{
		{"main", "main@0x1040+0x24/function main@0x1040+0x0/public"},
		{"crash", "crash@0x10b0+0x45/function"},
		{"foo", "foo@0x1100+0x7c/function"},
	} {
		if got := symsStr(f.Lookup(c.name)); got != c.want {
			t.Errorf("Lookup(%s) = %s, want %s", c.name, got, c.want)
		}
	}
	if s, ok := f.Nearest(0x1170); !ok || symStr(s) != "foo@0x1100+0x7c/function" {
		t.Errorf("Nearest(0x1170) = %s", symStr(s))
	}
	// -l: c:\temp\sigsegv.cpp 0001:00000040-00000064: 37@40 38@44 39@5D.
	if file, line, ok := f.LineAt(0x1045); !ok || file != `c:\temp\sigsegv.cpp` || line != 38 {
		t.Errorf("LineAt(0x1045) = %q %d %v", file, line, ok)
	}
}

func TestCorpusTargetapp(t *testing.T) {
	for _, c := range []struct {
		dir, guid string
		machine   uint16
		wmainRVA  uint32
		wmainSize uint32
	}{
		// wmain: S_GPROC32 at 0001:2560 size 1108, 0001:2144 size 1063, and
		// 0002:88576 size 1587 (.text is section 2 after .textbss, at 0x11000).
		{"targetapp_test_cv_allreg_amd64", "B3715C7E-DE8E-48A9-8BE5-204FF5C9E3AA", 0x8664, 0x1a00, 1108},
		{"targetapp_test_cv_allreg_i386", "A39E8075-781D-441C-964F-489A06A62690", 0x14c, 0x1860, 1063},
		{"targetapp_stacktest_wow64", "60CF2F6A-4C06-4192-ABCE-11C056386E8A", 0x14c, 0x26a00, 1587},
	} {
		t.Run(c.dir, func(t *testing.T) {
			f := openCorpus(t, kdlibDumps+"/"+c.dir+"/targetapp.pdb")
			if err := f.Matches(parseGUID(t, c.guid), 1); err != nil {
				t.Error(err)
			}
			if d, _ := f.DBI(); d.Machine != c.machine {
				t.Errorf("machine %#x", d.Machine)
			}
			got := f.Lookup("wmain")
			if len(got) == 0 || got[0].Kind != Function || got[0].RVA != c.wmainRVA || got[0].Size != c.wmainSize {
				t.Errorf("Lookup(wmain) = %v", got)
			}
			if s, ok := f.Nearest(c.wmainRVA + c.wmainSize - 1); !ok || s.Name != "wmain" {
				t.Errorf("Nearest(end of wmain) = %v", s)
			}
			if _, _, ok := f.LineAt(c.wmainRVA); !ok {
				t.Error("no line for wmain")
			}
			if err := f.LoadProcs(); err != nil {
				t.Error(err)
			}
			if w := f.Warnings(); len(w) != 0 {
				t.Errorf("Warnings: %v", w)
			}
		})
	}
}

// breakpad's crash.sym was produced from crash.pdb by dump_syms (DIA): its
// FUNC records give every function's RVA and size, its line records
// "rva size line file" the line table.
func TestCorpusBreakpadSym(t *testing.T) {
	f := openCorpus(t, crashPDB)
	fh, err := os.Open(corpusFile(t, symbolicWin+"/crash.sym"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := f.LoadProcs(); err != nil {
		t.Fatal(err)
	}
	funcs := map[uint32][]Symbol{} // identical-code folding puts several at one RVA
	for _, s := range f.Symbols() {
		if s.Kind == Function {
			funcs[s.RVA] = append(funcs[s.RVA], s)
		}
	}
	files := map[string]string{}
	var nFunc, nLine, nPublic int
	var fn Symbol
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[1] == "m" { // "multiple": folded identical code
			fields = append(fields[:1], fields[2:]...)
		}
		if len(fields) == 0 {
			continue
		}
		hex := func(i int) uint32 {
			v, err := strconv.ParseUint(fields[i], 16, 32)
			if err != nil {
				t.Fatalf("bad line %q", sc.Text())
			}
			return uint32(v)
		}
		switch fields[0] {
		case "FILE":
			files[fields[1]] = strings.SplitN(sc.Text(), " ", 3)[2]
		case "FUNC":
			nFunc++
			rva, size := hex(1), hex(2)
			name := strings.Join(fields[4:], " ")
			// dump_syms prints DIA's undecorated name with parameters, and
			// strips the C underscore of assembler names (__SEH_prolog4).
			var s Symbol
			for _, c := range funcs[rva] {
				if c.Size == size && (strings.HasPrefix(name, c.Name) || strings.HasPrefix("_"+name, c.Name)) {
					s = c
				}
			}
			if s.Name == "" {
				t.Errorf("FUNC %x %x %s: have %v", rva, size, name, funcs[rva])
				continue
			}
			for _, a := range []uint32{rva, rva + size/2, rva + size - 1} {
				if n, ok := f.Nearest(a); !ok || n.RVA != rva || n.Kind != Function {
					t.Errorf("Nearest(%#x) = %v, want the function at %#x", a, n, rva)
				}
			}
			fn = s
		case "PUBLIC":
			nPublic++
			rva := hex(1)
			if s, ok := f.Nearest(rva); !ok || s.RVA != rva {
				t.Errorf("PUBLIC %s: Nearest(%#x) = %v", fields[3], rva, s)
			}
		case "MODULE", "INFO", "STACK":
		default:
			nLine++
			rva, size, line := hex(0), hex(1), fields[2]
			// A zero-size record is shadowed by the next one at its address.
			if file, l, ok := f.LineAt(rva); size != 0 && (!ok || strconv.Itoa(l) != line || file != files[fields[3]]) {
				t.Errorf("line %s (in %s): LineAt = %q %d %v, want %q %s", sc.Text(), fn.Name, file, l, ok, files[fields[3]], line)
			}
			found := false
			for _, l := range f.LinesForRange(rva, 1) {
				if l.RVA == rva && l.Size == size && strconv.Itoa(l.Line) == line && l.File == files[fields[3]] {
					found = true
				}
			}
			if !found {
				t.Errorf("line %s: LinesForRange = %v", sc.Text(), f.LinesForRange(rva, 1))
			}
		}
	}
	if nFunc != 92 || nPublic != 35 || nLine < 500 {
		t.Errorf("crash.sym: %d FUNC, %d PUBLIC, %d line records", nFunc, nPublic, nLine)
	}
}

// FuzzOpen seeds: synthetic PDBs, sigsegv.pdb (100 KB) and 1 MB crash.pdb
// cut down to its first blocks.
func FuzzOpen(f *testing.F) {
	for _, bs := range []int{512, 1024} {
		b, _ := basicSyn(bs).build()
		f.Add(b)
	}
	for _, rel := range []string{sigsegvPDB, crashPDB} {
		b, err := os.ReadFile(filepath.Join(corpusDir, rel))
		if err != nil {
			continue
		}
		if len(b) > 1<<20-1 {
			b = b[:64<<10]
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4<<20 {
			return
		}
		pf, err := NewFile(strings.NewReader(string(data)), int64(len(data)), "fuzz.pdb")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pdb fuzz.pdb: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		exercise(pf)
	})
}
