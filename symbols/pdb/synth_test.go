package pdb

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"
)

var synGUID = [16]byte{0x9d, 0xd9, 0x49, 0x32, 0x40, 0x0c, 0x31, 0x49, 0x86, 0x10, 0xf4, 0xe4, 0xfb, 0x0b, 0x69, 0x36}

// basicSyn is a small PDB with publics, global data, two modules with
// procedures, labels, nested blocks, module data and C13 lines.
func basicSyn(bs int) *synPDB {
	return &synPDB{
		bs: bs, guid: synGUID, infoAge: 3, dbiAge: 2, machine: 0x8664,
		sections: []SectionHeader{
			{Name: ".text", VirtualSize: 0x2000, VirtualAddress: 0x1000, Characteristics: 0x60000020},
			{Name: ".rdata", VirtualSize: 0x1000, VirtualAddress: 0x4000, Characteristics: 0x40000040},
			{Name: ".data", VirtualSize: 0x800, VirtualAddress: 0x6000, Characteristics: 0xC0000040},
		},
		publics: []synPub{
			{"?helper@@YAHH@Z", 1, 0x200, 2},
			{"main", 1, 0x100, 2},
			{"??_7Foo@@6B@", 2, 0x10, 0},
			{"?g_counter@@3HA", 3, 0x20, 0},
			{"?run@util@@QEAAXXZ", 1, 0x400, 2},
			{"absolute_sym", 9, 0, 0}, // segment past the section headers: no RVA
		},
		globals: []synPub{{"g_counter", 3, 0x20, 0}},
		modules: []synModule{
			{
				name: `c:\build\main.obj`, obj: `c:\build\main.obj`,
				procs: []synProc{
					{name: "main", seg: 1, off: 0x100, size: 0x80, block: true, labels: []synPub{{"$LN3", 1, 0x140, 0}}},
					{name: "helper", seg: 1, off: 0x200, size: 0x40, local: true},
				},
				lines: []synLines{
					{seg: 1, off: 0x100, cb: 0x80, file: `c:\src\main.cpp`, entries: [][2]uint32{{0, 10}, {0x10, 11}, {0x30, 12}}},
					{seg: 1, off: 0x200, cb: 0x40, file: `c:\src\helper.h`, hasColumns: true, entries: [][2]uint32{{0, 20}, {0x20, LineAlwaysStepInto}, {0x28, 21}}},
				},
			},
			{
				name: `c:\build\util.obj`, obj: `c:\build\util.lib`,
				procs: []synProc{{name: "util::run", seg: 1, off: 0x400, size: 0x100}},
				data:  []synPub{{"s_state", 3, 0x40, 0}},
				lines: []synLines{{seg: 1, off: 0x400, cb: 0x100, file: `c:\src\util.cpp`, entries: [][2]uint32{{0, 5}, {0x80, 6}}}},
			},
			{name: "* Linker *", noStream: true},
		},
	}
}

func openBytes(t testing.TB, b []byte) *File {
	t.Helper()
	f, err := NewFile(bytes.NewReader(b), int64(len(b)), "syn.pdb")
	if err != nil {
		t.Fatalf("NewFile: %v", err)
	}
	return f
}

func symStr(s Symbol) string {
	return fmt.Sprintf("%s@%#x+%#x/%s", s.Name, s.RVA, s.Size, s.Kind)
}

func symsStr(ss []Symbol) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, symStr(s))
	}
	return strings.Join(parts, " ")
}

// checkBasic verifies everything basicSyn put into the file.
func checkBasic(t *testing.T, f *File) {
	t.Helper()
	g, age := f.Info()
	if g != synGUID || age != 2 || f.PDBInfo().Age != 3 {
		t.Errorf("Info = %s age %d (info age %d), want %s age 2 (info age 3)", GUIDString(g), age, f.PDBInfo().Age, GUIDString(synGUID))
	}
	if err := f.Matches(synGUID, 2); err != nil {
		t.Errorf("Matches(guid, 2) = %v", err)
	}
	if err := f.Matches(synGUID, 3); err == nil || !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "age differs: want 3, have 2") {
		t.Errorf("Matches(guid, 3) = %v, want an age mismatch", err)
	}
	other := synGUID
	other[15]++
	if err := f.Matches(other, 2); err == nil || !strings.Contains(err.Error(), "GUID differs: want 3249D99D-0C40-4931-8610-F4E4FB0B6937, have 3249D99D-0C40-4931-8610-F4E4FB0B6936") {
		t.Errorf("Matches(other guid) = %v", err)
	}
	if ns := f.NamedStreams(); len(ns) != 1 || ns[0].Name != "/names" {
		t.Errorf("NamedStreams = %v", ns)
	}
	if d, ok := f.DBI(); !ok || d.Machine != 0x8664 || d.Age != 2 {
		t.Errorf("DBI = %+v %v", d, ok)
	}
	mods := f.Modules()
	if len(mods) != 3 || mods[1].Name != `c:\build\util.obj` || mods[1].ObjName != `c:\build\util.lib` || mods[2].Stream != -1 {
		t.Errorf("Modules = %+v", mods)
	}
	if files, err := f.ModuleFiles(1); err != nil || len(files) != 1 || files[0] != `c:\build\util.obj.cpp` {
		t.Errorf("ModuleFiles(1) = %q, %v", files, err)
	}
	if s := f.Sections(); len(s) != 3 || s[2].Name != ".data" || s[2].VirtualAddress != 0x6000 {
		t.Errorf("Sections = %v", s)
	}

	want := "main@0x1100+0x0/public ?helper@@YAHH@Z@0x1200+0x0/public ?run@util@@QEAAXXZ@0x1400+0x0/public " +
		"??_7Foo@@6B@@0x4010+0x0/public g_counter@0x6020+0x0/data ?g_counter@@3HA@0x6020+0x0/public"
	if got := symsStr(f.Symbols()); got != want {
		t.Errorf("Symbols =\n %s\nwant\n %s", got, want)
	}
	for _, c := range []struct{ name, want string }{
		{"main", "main@0x1100+0x80/function main@0x1100+0x0/public"}, // S_PROCREF resolved lazily
		{"helper", "helper@0x1200+0x40/function"},
		{"?helper@@YAHH@Z", "?helper@@YAHH@Z@0x1200+0x0/public"},
		{"util::run", "util::run@0x1400+0x100/function"},
		{"g_counter", "g_counter@0x6020+0x0/data"},
		{"Main", ""},
		{"absolute_sym", ""},
	} {
		if got := symsStr(f.Lookup(c.name)); got != c.want {
			t.Errorf("Lookup(%q) = %q, want %q", c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		rva  uint32
		want string
	}{
		{0x1100, "main@0x1100+0x80/function"},
		{0x1150, "main@0x1100+0x80/function"}, // inside main, past the label
		{0x1190, "main@0x1100+0x0/public"},    // past main's code: nearest public
		{0x123f, "helper@0x1200+0x40/function"},
		{0x1300, "?helper@@YAHH@Z@0x1200+0x0/public"},
		{0x14ff, "util::run@0x1400+0x100/function"},
		{0x4018, "??_7Foo@@6B@@0x4010+0x0/public"},
		{0x6020, "g_counter@0x6020+0x0/data"}, // private name preferred
		{0xfff, ""},
	} {
		s, ok := f.Nearest(c.rva)
		got := ""
		if ok {
			got = symStr(s)
		}
		if got != c.want {
			t.Errorf("Nearest(%#x) = %q, want %q", c.rva, got, c.want)
		}
	}
	for _, c := range []struct {
		rva  uint32
		file string
		line int
		ok   bool
	}{
		{0x1100, `c:\src\main.cpp`, 10, true},
		{0x110f, `c:\src\main.cpp`, 10, true},
		{0x1110, `c:\src\main.cpp`, 11, true},
		{0x117f, `c:\src\main.cpp`, 12, true},
		{0x1180, "", 0, false},
		{0x1204, `c:\src\helper.h`, 20, true},
		{0x1224, `c:\src\helper.h`, LineAlwaysStepInto, true}, // marker, reported as stored
		{0x1228, `c:\src\helper.h`, 21, true},
		{0x1480, `c:\src\util.cpp`, 6, true},
		{0x3000, "", 0, false},
	} {
		file, line, ok := f.LineAt(c.rva)
		if file != c.file || line != c.line || ok != c.ok {
			t.Errorf("LineAt(%#x) = %q %d %v, want %q %d %v", c.rva, file, line, ok, c.file, c.line, c.ok)
		}
	}
	ls := f.LinesForRange(0x1100, 0x80)
	if got := fmt.Sprint(ls); got != `[{4352 16 c:\src\main.cpp 10} {4368 32 c:\src\main.cpp 11} {4400 80 c:\src\main.cpp 12}]` {
		t.Errorf("LinesForRange(main) = %s", got)
	}
	if err := f.LoadProcs(); err != nil {
		t.Errorf("LoadProcs: %v", err)
	}
	want = "main@0x1100+0x80/function main@0x1100+0x0/public $LN3@0x1140+0x0/label helper@0x1200+0x40/function " +
		"?helper@@YAHH@Z@0x1200+0x0/public util::run@0x1400+0x100/function ?run@util@@QEAAXXZ@0x1400+0x0/public " +
		"??_7Foo@@6B@@0x4010+0x0/public g_counter@0x6020+0x0/data ?g_counter@@3HA@0x6020+0x0/public s_state@0x6040+0x0/data"
	if got := symsStr(f.Symbols()); got != want {
		t.Errorf("Symbols after LoadProcs =\n %s\nwant\n %s", got, want)
	}
	if got := symsStr(f.Lookup("main")); got != "main@0x1100+0x80/function main@0x1100+0x0/public" {
		t.Errorf("Lookup(main) after LoadProcs = %s", got)
	}
	if got := symsStr(f.Lookup("s_state")); got != "s_state@0x6040+0x0/data" {
		t.Errorf("Lookup(s_state) = %s", got)
	}
	if w := f.Warnings(); len(w) != 0 {
		t.Errorf("Warnings = %v", w)
	}
}

func TestSyntheticBlockSizes(t *testing.T) {
	for _, bs := range []int{512, 1024, 2048, 4096, 8192, 16384} {
		for _, scramble := range []bool{false, true} {
			t.Run(fmt.Sprintf("bs%d/scrambled=%v", bs, scramble), func(t *testing.T) {
				p := basicSyn(bs)
				p.scramble = scramble
				b, _ := p.build()
				f := openBytes(t, b)
				if f.BlockSize() != bs {
					t.Errorf("BlockSize = %d", f.BlockSize())
				}
				checkBasic(t, f)
			})
		}
	}
}

// A directory bigger than one block's worth of block numbers needs several
// block-map blocks listed in the superblock (BlockMapAddr[] is an array).
func TestSyntheticLargeDirectory(t *testing.T) {
	p := basicSyn(512)
	p.padding = 600 * 512 // 600 blocks → 2400 directory bytes → 5 directory blocks
	var many []synModule
	for i := 0; i < 200; i++ {
		many = append(many, synModule{name: fmt.Sprintf("m%d.obj", i), obj: "x",
			procs: []synProc{{name: fmt.Sprintf("f%d", i), seg: 1, off: 0x1000 + uint32(i)*8, size: 8}}})
	}
	p.modules = append(p.modules, many...)
	b, _ := p.build()
	f := openBytes(t, b)
	if got := f.Lookup("f199"); len(got) != 1 || got[0].RVA != 0x2000+199*8 || got[0].Size != 8 {
		t.Errorf("Lookup(f199) = %v", got)
	}
	if s, ok := f.Nearest(0x2000 + 150*8 + 3); !ok || s.Name != "f150" {
		t.Errorf("Nearest = %v %v", s, ok)
	}
}

// Without section contributions, Nearest can only use module procedures
// after LoadProcs; LineAt searches every module.
func TestSyntheticNoContributions(t *testing.T) {
	p := basicSyn(1024)
	p.noContrib = true
	b, _ := p.build()
	f := openBytes(t, b)
	if s, _ := f.Nearest(0x1150); s.Kind != Public || s.Name != "main" {
		t.Errorf("Nearest before LoadProcs = %v", symStr(s))
	}
	if file, line, ok := f.LineAt(0x1110); !ok || line != 11 || file != `c:\src\main.cpp` {
		t.Errorf("LineAt = %q %d %v", file, line, ok)
	}
	if err := f.LoadProcs(); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.Nearest(0x1150); s.Kind != Function || s.Name != "main" {
		t.Errorf("Nearest after LoadProcs = %v", symStr(s))
	}
}

// OMAP: the image was rearranged after linking. Symbols and lines are in
// the pre-OMAP layout; queries use real RVAs.
func TestSyntheticOMAP(t *testing.T) {
	p := basicSyn(4096)
	p.orig = p.sections
	// internal [0x1000,0x1200) → real 0x1800; [0x1200,0x1600) → 0x1000;
	// [0x1600,0x1a00) → 0x1400; [0x1f00,0x1f80) eliminated.
	p.omapFrom = []omapEntry{{0x1000, 0x1800}, {0x1200, 0x1000}, {0x1600, 0x1400}, {0x1a00, 0x1a00}, {0x1f00, 0}, {0x1f80, 0x1f80}}
	p.omapTo = []omapEntry{{0x1000, 0x1200}, {0x1400, 0x1600}, {0x1800, 0x1000}, {0x1a00, 0x1a00}}
	b, _ := p.build()
	f := openBytes(t, b)
	if !f.HasOMAP() || len(f.OriginalSections()) != 3 {
		t.Fatalf("HasOMAP = %v, original sections %v", f.HasOMAP(), f.OriginalSections())
	}
	for _, c := range []struct {
		seg  uint16
		off  uint32
		want uint32
		ok   bool
	}{{1, 0x100, 0x1900, true}, {1, 0x200, 0x1000, true}, {1, 0x400, 0x1200, true}, {1, 0xf10, 0, false}, {2, 0x10, 0x4010, true}, {0, 0, 0, false}} {
		if r, ok := f.SegOffToRVA(c.seg, c.off); r != c.want || ok != c.ok {
			t.Errorf("SegOffToRVA(%d:%#x) = %#x %v, want %#x %v", c.seg, c.off, r, ok, c.want, c.ok)
		}
	}
	if got := symsStr(f.Lookup("main")); got != "main@0x1900+0x80/function main@0x1900+0x0/public" {
		t.Errorf("Lookup(main) = %s", got)
	}
	if s, ok := f.Nearest(0x1950); !ok || symStr(s) != "main@0x1900+0x80/function" {
		t.Errorf("Nearest(0x1950) = %s", symStr(s))
	}
	if s, ok := f.Nearest(0x1005); !ok || symStr(s) != "helper@0x1000+0x40/function" {
		t.Errorf("Nearest(0x1005) = %s", symStr(s))
	}
	if file, line, ok := f.LineAt(0x1910); !ok || line != 11 || file != `c:\src\main.cpp` {
		t.Errorf("LineAt(0x1910) = %q %d %v", file, line, ok)
	}
	if file, line, ok := f.LineAt(0x1280); !ok || line != 6 || file != `c:\src\util.cpp` {
		t.Errorf("LineAt(0x1280) = %q %d %v", file, line, ok)
	}
	if ls := f.LinesForRange(0x1900, 0x80); len(ls) != 3 || ls[0].RVA != 0x1900 || ls[2].RVA != 0x1930 {
		t.Errorf("LinesForRange = %v", ls)
	}
}

func TestRejectsOtherFormats(t *testing.T) {
	pad := func(s string) []byte { return append([]byte(s), make([]byte, 200)...) }
	for _, c := range []struct {
		name     string
		data     []byte
		sentinel error
		msg      string
	}{
		{"pdb20", pad("Microsoft C/C++ program database 2.00\r\n\x1aJG\x00\x00"), ErrUnsupported, "PDB 2.0"},
		{"msfz", pad("Microsoft MSFZ Container\r\n\x1aALD\x00\x00"), ErrUnsupported, "MSFZ"},
		{"portable", pad("BSJB\x01\x00\x01\x00"), ErrUnsupported, "portable PDB"},
		{"cab", pad("MSCF\x00\x00\x00\x00"), ErrNotPDB, "CAB"},
		{"html", pad("\n<!DOCTYPE html><html>"), ErrNotPDB, "HTML"},
		{"pe", pad("MZ\x90\x00"), ErrNotPDB, "PE image"},
		{"garbage", pad("hello world"), ErrNotPDB, "not a PDB"},
		{"empty", nil, ErrNotPDB, "not a PDB"},
		{"short msf", magicMSF7[:20], nil, "too short"},
		{"msf header only", magicMSF7, nil, "too short"},
	} {
		_, err := NewFile(bytes.NewReader(c.data), int64(len(c.data)), c.name+".pdb")
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if c.sentinel != nil && !errors.Is(err, c.sentinel) {
			t.Errorf("%s: %v is not %v", c.name, err, c.sentinel)
		}
		if !strings.Contains(err.Error(), c.msg) || !strings.HasPrefix(err.Error(), "pdb "+c.name+".pdb: ") {
			t.Errorf("%s: error %q does not name the file and %q", c.name, err, c.msg)
		}
	}
}

// exercise runs every query; used on damaged input, where only the absence
// of panics and hangs is checked.
func exercise(f *File) {
	f.Info()
	f.Matches(synGUID, 1)
	f.NamedStreams()
	f.NamedStream("/names")
	f.Modules()
	f.SectionContributions()
	f.SectionMap()
	for i := range min(len(f.Modules()), 50) {
		f.ModuleFiles(i)
		f.ModuleSymbols(i)
	}
	f.LoadPublics()
	syms := f.Symbols()
	f.Lookup("main")
	f.Lookup("util::run")
	for _, r := range []uint32{0, 0x1000, 0x1150, 0x1210, 0x1450, 0x4010, 0xffffffff} {
		f.Nearest(r)
		f.LineAt(r)
	}
	for i, s := range syms {
		if i > 50 {
			break
		}
		f.Nearest(s.RVA + 1)
		f.LineAt(s.RVA)
	}
	f.LinesForRange(0x1000, 0x1000)
	f.LinesForRange(0xfffff000, 0xffffffff)
	f.LoadProcs()
	f.Symbols()
	f.Lookup("main")
	f.Nearest(0x1150)
	f.Warnings()
	for i := 0; i < f.NumStreams() && i < 64; i++ {
		if s, err := f.Stream(i); err == nil {
			p := make([]byte, 64)
			s.ReadAt(p, s.Size()/2)
		}
	}
}

func TestSyntheticTruncated(t *testing.T) {
	p := basicSyn(512)
	p.scramble = true
	full, _ := p.build()
	opened := 0
	for n := 0; n < len(full); n += 3 {
		b := full[:n]
		f, err := NewFile(bytes.NewReader(b), int64(len(b)), "trunc.pdb")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pdb trunc.pdb: ") {
				t.Fatalf("len %d: error %q does not name the file", n, err)
			}
			continue
		}
		opened++
		exercise(f)
	}
	t.Logf("%d bytes; %d truncations opened", len(full), opened)
}

// patch applies a damaging edit to a built PDB.
type patch struct {
	name string
	edit func(b []byte, lay synLayout, f *File)
	want string // substring of NewFile's error, or of some warning/LoadPublics error; "" = no panic only
}

func u32at(b []byte, off int, v uint32) {
	b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// streamFileOffset maps a stream offset to a file offset via a clean parse.
func streamFileOffset(f *File, stream int, off int64) int {
	e := f.streams[stream]
	bs := int64(f.blockSize)
	return int(int64(e.blocks[off/bs])*bs + off%bs)
}

func TestCorruptCounts(t *testing.T) {
	dirOff := func(f *File, b []byte) int {
		// directory block map is in the superblock's BlockMapAddr[0]; its first
		// entry is the first directory block.
		mb := int(b[52]) | int(b[53])<<8 | int(b[54])<<16
		bs := int(f.blockSize)
		db := int(b[mb*bs]) | int(b[mb*bs+1])<<8 | int(b[mb*bs+2])<<16
		return db * bs
	}
	patches := []patch{
		{"block size 0", func(b []byte, _ synLayout, _ *File) { u32at(b, 32, 0) }, "block size 0"},
		{"block size 3000", func(b []byte, _ synLayout, _ *File) { u32at(b, 32, 3000) }, "block size 3000"},
		{"num blocks 0", func(b []byte, _ synLayout, _ *File) { u32at(b, 40, 0) }, "0 blocks"},
		{"num blocks huge", func(b []byte, _ synLayout, _ *File) { u32at(b, 40, 0xffffffff) }, ""},
		{"directory bytes huge", func(b []byte, _ synLayout, _ *File) { u32at(b, 44, 0x7fffffff) }, "stream directory size"},
		{"directory bytes 0", func(b []byte, _ synLayout, _ *File) { u32at(b, 44, 0) }, "stream directory size 0"},
		{"block map addr out of file", func(b []byte, _ synLayout, _ *File) { u32at(b, 52, 0x100000) }, "outside the file"},
		{"num streams huge", func(b []byte, _ synLayout, f *File) { u32at(b, dirOff(f, b), 0x40000000) }, "streams do not fit"},
		{"info stream size huge", func(b []byte, _ synLayout, f *File) { u32at(b, dirOff(f, b)+8, 0x7fff0000) }, "needs"},
		{"TPI stream size beyond file", func(b []byte, _ synLayout, f *File) { u32at(b, dirOff(f, b)+12, 0x10000000) }, ""},
		{"DBI module info size negative", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.dbi, 24), 0xfffffff0)
		}, "module info substream size -16"},
		{"DBI module info size huge", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.dbi, 24), 0x00ffffff)
		}, "runs past the end"},
		{"DBI old format", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.dbi, 0), 0)
		}, "old-format DBI"},
		{"symrec stream index out of range", func(b []byte, lay synLayout, f *File) {
			o := streamFileOffset(f, lay.dbi, 20)
			b[o], b[o+1] = 0xf0, 0x0f
		}, "no such stream"},
		{"section header stream nil", func(b []byte, lay synLayout, f *File) {
			u32at(b, dirOff(f, b)+4+4*lay.secHdr, nilStreamSize)
		}, ""},
		{"module stream index bogus", func(b []byte, lay synLayout, f *File) {
			o := streamFileOffset(f, lay.dbi, 64+34)
			b[o], b[o+1] = 0xfe, 0xff
		}, ""},
		{"module symbol size huge", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.dbi, 64+36), 0xfffffff0)
		}, ""},
		{"module C13 size huge", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.dbi, 64+44), 0xfffffff0)
		}, ""},
		{"module signature", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.mods[0], 0), 2)
		}, "not C13"},
		{"GSS record length 0", func(b []byte, lay synLayout, f *File) {
			b[streamFileOffset(f, lay.gss, 0)] = 0
			b[streamFileOffset(f, lay.gss, 1)] = 0
		}, "record length 0"},
		{"GSS record length huge", func(b []byte, lay synLayout, f *File) {
			b[streamFileOffset(f, lay.gss, 0)] = 0xff
			b[streamFileOffset(f, lay.gss, 1)] = 0xff
		}, "runs past the end"},
		{"names map count huge", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.info, 28+4+7), 0x10000000)
		}, "named stream map"},
		{"names map key offset", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.info, 28+4+7+16+4), 0x100)
		}, "name offset 256"},
		{"string table size huge", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.names, 8), 0xffffff)
		}, "string table size"},
		{"string table signature", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.names, 0), 1)
		}, "string table signature"},
		{"section contribution version", func(b []byte, lay synLayout, f *File) {
			u32at(b, streamFileOffset(f, lay.dbi, int64(64+modInfoLen(f))), 7)
		}, "section contribution substream version 0x7"},
	}
	for _, bs := range []int{512, 4096} {
		for _, pt := range patches {
			t.Run(fmt.Sprintf("bs%d/%s", bs, pt.name), func(t *testing.T) {
				p := basicSyn(bs)
				b, lay := p.build()
				clean := openBytes(t, b)
				pt.edit(b, lay, clean)
				f, err := NewFile(bytes.NewReader(b), int64(len(b)), "bad.pdb")
				var msgs []string
				if err != nil {
					msgs = append(msgs, err.Error())
				} else {
					exercise(f)
					if err := f.LoadPublics(); err != nil {
						msgs = append(msgs, err.Error())
					}
					for _, w := range f.Warnings() {
						msgs = append(msgs, w.Error())
					}
				}
				all := strings.Join(msgs, "\n")
				if pt.want != "" && !strings.Contains(all, pt.want) {
					t.Errorf("messages do not mention %q:\n%s", pt.want, all)
				}
				for _, m := range msgs {
					if !strings.HasPrefix(m, "pdb bad.pdb: ") {
						t.Errorf("message does not name the file: %q", m)
					}
				}
			})
		}
	}
}

func modInfoLen(f *File) int {
	n := 0
	for _, m := range f.dbi.modules {
		n += (64 + len(m.Name) + 1 + len(m.ObjName) + 1 + 3) &^ 3
	}
	return n
}

// Random byte damage: every query must return, without panicking, quickly.
func TestRandomCorruption(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for _, bs := range []int{512, 1024, 4096} {
		p := basicSyn(bs)
		p.scramble = bs == 1024
		clean, _ := p.build()
		for i := 0; i < iters; i++ {
			b := append([]byte(nil), clean...)
			for k := rng.Intn(8) + 1; k > 0; k-- {
				// Bias towards the superblock, directory and small streams.
				o := rng.Intn(len(b))
				if rng.Intn(2) == 0 {
					o = rng.Intn(min(len(b), 3*bs))
				}
				switch rng.Intn(3) {
				case 0:
					b[o] = byte(rng.Intn(256))
				case 1:
					b[o] = 0xff
				default:
					b[o] ^= 1 << rng.Intn(8)
				}
			}
			start := time.Now()
			f, err := NewFile(bytes.NewReader(b), int64(len(b)), "rnd.pdb")
			if err == nil {
				exercise(f)
			}
			if d := time.Since(start); d > 20*time.Millisecond && os.Getenv("PDBSLOW") != "" {
				t.Logf("bs %d iteration %d took %v", bs, i, d)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("bs %d iteration %d took %v", bs, i, d)
			}
		}
	}
}

// Stream.ReadAt at every kind of offset and length, across block edges, in
// contiguous and scattered layouts, must return the bytes written.
func TestStreamReadAt(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, bs := range []int{512, 4096} {
		for _, scramble := range []bool{false, true} {
			want := make([]byte, 5*bs+123)
			rng.Read(want)
			w := &msfWriter{bs: bs, scramble: scramble}
			w.add(nil)
			w.add(make([]byte, 28)) // info stream: version 0, no GUID
			data := w.add(want)
			nilIdx := w.addNil()
			f := openBytes(t, w.bytes())
			s, err := f.Stream(data)
			if err != nil || s.Size() != int64(len(want)) {
				t.Fatalf("Stream = %v, %v", s, err)
			}
			for i := 0; i < 2000; i++ {
				off := rng.Intn(len(want) + 10)
				n := rng.Intn(3 * bs)
				p := make([]byte, n)
				got, err := s.ReadAt(p, int64(off))
				wantN := max(0, min(n, len(want)-off))
				from := min(off, len(want))
				if got != wantN || !bytes.Equal(p[:got], want[from:from+wantN]) {
					t.Fatalf("bs %d scrambled %v: ReadAt(%d bytes at %d) = %d, %v", bs, scramble, n, off, got, err)
				}
				if (got < n) != (err != nil) {
					t.Fatalf("ReadAt(%d at %d) = %d with error %v", n, off, got, err)
				}
			}
			if _, err := f.Stream(nilIdx); !errors.Is(err, ErrNoStream) {
				t.Errorf("nil stream: %v", err)
			}
			if _, err := f.Stream(99); !errors.Is(err, ErrNoStream) {
				t.Errorf("stream 99: %v", err)
			}
			if err := f.Matches(synGUID, 1); err == nil || !strings.Contains(err.Error(), "predates PDB 7.0") {
				t.Errorf("Matches on a GUID-less PDB = %v", err)
			}
			if err := f.LoadPublics(); !errors.Is(err, ErrNoStream) {
				t.Errorf("LoadPublics without DBI = %v", err)
			}
		}
	}
}

// Commands may query one File from several goroutines (go test -race).
func TestConcurrentQueries(t *testing.T) {
	b, _ := basicSyn(1024).build()
	f := openBytes(t, b)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- true }()
			for i := 0; i < 50; i++ {
				if s, ok := f.Nearest(0x1150); !ok || s.Name != "main" {
					t.Errorf("Nearest = %v", s)
				}
				if got := f.Lookup("util::run"); len(got) != 1 {
					t.Errorf("Lookup = %v", got)
				}
				if _, line, _ := f.LineAt(0x1110); line != 11 {
					t.Errorf("LineAt = %d", line)
				}
				if g == 3 && i == 25 {
					f.LoadProcs()
				}
				f.Symbols()
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
