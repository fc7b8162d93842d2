package image

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"wdb/dump"
)

func fromBuilt(t *testing.T, pe *testPE, mem []byte, cv bool) (*Image, error) {
	t.Helper()
	f, err := dumpWith(pe.is64, pe.base(), tSizeOfImage, mem, cv)
	if err != nil {
		t.Fatal(err)
	}
	return FromMemory(f, &f.Modules[0])
}

// checkTestImage compares everything the parser reports with what the PE
// writer put in.
func checkTestImage(t *testing.T, im *Image, is64 bool) {
	t.Helper()
	if len(im.Notes) != 0 {
		t.Errorf("notes: %q", im.Notes)
	}
	wantMachine := uint16(MachineI386)
	if is64 {
		wantMachine = MachineAMD64
	}
	if im.Is64 != is64 || im.Machine != wantMachine || im.TimeDateStamp != tTimestamp || im.SizeOfImage != tSizeOfImage ||
		im.SizeOfHeaders != tSizeHeaders || im.Checksum != 0x1234 || im.EntryPoint != tTextRVA {
		t.Errorf("headers: is64 %v machine %#x ts %#x size %#x hdrs %#x sum %#x entry %#x",
			im.Is64, im.Machine, im.TimeDateStamp, im.SizeOfImage, im.SizeOfHeaders, im.Checksum, im.EntryPoint)
	}
	wantSecs := []Section{{Name: ".text", VirtualAddress: tTextRVA, VirtualSize: tTextVSize, Characteristics: 0x60000020,
		PointerToRawData: tTextRaw, SizeOfRawData: tTextRawSize}}
	if !reflect.DeepEqual(im.Sections, wantSecs) {
		t.Errorf("sections %+v", im.Sections)
	}
	var wantDirs [16]Dir
	wantDirs[DirExport] = Dir{tExportDir, tExportSize}
	wantDirs[DirDebug] = Dir{tDebugDir, debugDirEntSize}
	if is64 {
		wantDirs[DirException] = Dir{tPdata, 12}
	}
	if im.Directories != wantDirs {
		t.Errorf("directories %v", im.Directories)
	}
	if im.ExportDLLName != "test.dll" {
		t.Errorf("export DLL name %q", im.ExportDLLName)
	}
	if !reflect.DeepEqual(im.Exports, wantExports()) {
		t.Errorf("exports\n got %+v\nwant %+v", im.Exports, wantExports())
	}
	if !reflect.DeepEqual(im.CodeView, wantCodeView()) {
		t.Errorf("CodeView %+v", im.CodeView)
	}
	if got := im.CodeView.GUIDString(); got != "3249D99D-0C40-4931-8610-F4E4FB0B6936" {
		t.Errorf("GUID %s", got)
	}

	sorted := im.ExportsSorted()
	if len(sorted) != 3 || sorted[0].RVA != 0x1000 || sorted[1].Name != "Odd.Name-1" || sorted[2].Ordinal != 8 {
		t.Errorf("sorted %+v", sorted)
	}
	if e, ok := im.ExportByName("Fwd"); !ok || e.Forwarder != "NTDLL.RtlAllocateHeap" || e.RVA != 0 {
		t.Errorf("ExportByName(Fwd) = %+v %v", e, ok)
	}
	if _, ok := im.ExportByName("fwd"); ok {
		t.Error("names must match case-sensitively")
	}
	if e, d, ok := im.NearestExport(0x1015); !ok || e.Name != "Odd.Name-1" || d != 5 {
		t.Errorf("NearestExport(0x1015) = %+v %#x %v", e, d, ok)
	}
	if _, _, ok := im.NearestExport(0xfff); ok {
		t.Error("NearestExport below the first export")
	}
	if s, ok := im.SectionAt(0x18ff); !ok || s.Name != ".text" || !s.Executable() {
		t.Errorf("SectionAt(0x18ff) = %+v %v", s, ok)
	}
	if _, ok := im.SectionAt(0x1900); ok {
		t.Error("SectionAt past VirtualSize")
	}
}

func TestFromMemoryBuilt(t *testing.T) {
	for _, is64 := range []bool{false, true} {
		pe := newTestPE(is64)
		for _, cv := range []bool{true, false} { // with and without a CvRecord (Wine)
			im, err := fromBuilt(t, pe, pe.mapped, cv)
			if err != nil {
				t.Fatalf("is64=%v: %v", is64, err)
			}
			checkTestImage(t, im, is64)
			if im.Base != pe.base() || im.ImageBase != pe.base() || im.File != "" {
				t.Errorf("base %#x image base %#x file %q", im.Base, im.ImageBase, im.File)
			}
		}
	}
}

func TestFromMemoryModuleMismatch(t *testing.T) {
	pe := newTestPE(true)
	f, err := dumpWith(true, pe.base(), tSizeOfImage, pe.mapped, true)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Modules[0]
	m.TimeDateStamp++
	m.CodeView = &dump.CodeView{Signature: "RSDS", Age: 9}
	im, err := FromMemory(f, &m)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes(t, im, "TimeDateStamp 0x5f3e1a2b differs from the module record's 0x5f3e1a2c", "debug: CodeView RSDS 3249D99D-0C40-4931-8610-F4E4FB0B6936 age 3 differs")
}

func wantNotes(t *testing.T, im *Image, subs ...string) {
	t.Helper()
	all := strings.Join(im.Notes, "\n")
	for _, s := range subs {
		if !strings.Contains(all, s) {
			t.Errorf("no note contains %q; notes:\n%s", s, all)
		}
	}
}

// Dumps that capture only part of an image: what is there is parsed, what
// is not is named, nothing is made up.
func TestFromMemoryPartial(t *testing.T) {
	pe := newTestPE(true)
	base := pe.base()

	// Header page only (a common minidump): headers and sections, no exports.
	im, err := fromBuilt(t, pe, pe.mapped[:0x1000], true)
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Sections) != 1 || im.Directories[DirExport].RVA != tExportDir || im.Exports != nil || im.CodeView != nil {
		t.Errorf("header page only: %+v", im)
	}
	wantNotes(t, im, "exports: directory: memory at 0x7ff610001100 (page 0x7ff610001000) not captured in the dump",
		"debug: directory: memory at 0x7ff610001200 (page 0x7ff610001000) not captured in the dump (0 of 1 entries read)")

	// Crashpad-style: the headers up to the section table, which is cut off.
	im, err = fromBuilt(t, pe, pe.mapped[:pe.secOff()], true)
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Sections) != 0 || im.SizeOfImage != tSizeOfImage {
		t.Errorf("0x180 bytes: %+v", im)
	}
	wantNotes(t, im, "sections: memory at 0x7ff610000188 (page 0x7ff610000000) not captured in the dump (0 of 1 entries read)")

	// The export tables present but a name page missing: image of 0x1000
	// header + 0x190 of .text; names at 0x1190+ are cut.
	im, err = fromBuilt(t, pe, pe.mapped[:0x1190], true)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes(t, im, "exports: 3 of 3 names unreadable (first: memory at 0x7ff610001190")
	if len(im.Exports) != 1 || im.Exports[0] != (Export{Ordinal: 8, RVA: 0x1020}) {
		t.Errorf("exports with names missing: %+v", im.Exports)
	}

	// Nothing captured: an error naming the page, not an empty image.
	_, err = fromBuilt(t, pe, nil, true)
	var pe2 *PageError
	if !errors.As(err, &pe2) || pe2.Page != base || !strings.Contains(err.Error(), "DOS header: page at 0x7ff610000000 not captured in the dump") {
		t.Errorf("nothing captured: %v", err)
	}
	var he *HeaderError
	if !errors.As(err, &he) {
		t.Errorf("want a *HeaderError, got %T", err)
	}
}

// patch returns a copy of b with v written little-endian at off (width from
// v's type).
func patch(b []byte, off int, v any) []byte {
	c := append([]byte(nil), b...)
	switch v := v.(type) {
	case uint16:
		binary.LittleEndian.PutUint16(c[off:], v)
	case uint32:
		binary.LittleEndian.PutUint32(c[off:], v)
	case string:
		copy(c[off:], v)
	}
	return c
}

func TestFromMemoryCorrupt(t *testing.T) {
	for _, is64 := range []bool{false, true} {
		pe := newTestPE(is64)
		m := pe.mapped
		fh := tLfanew + 4
		e := tExportDir
		dbg := tDebugDir
		cases := []struct {
			name    string
			mem     []byte
			wantErr string   // header failure
			notes   []string // else these notes
			check   func(*Image) bool
		}{
			{name: "no MZ", mem: patch(m, 0, "ZM"), wantErr: "no MZ signature"},
			{name: "truncated NT headers", mem: m[:tLfanew+10], wantErr: "NT headers: memory at"},
			{name: "e_lfanew past image", mem: patch(m, lfanewOffset, uint32(0xfffffff0)), wantErr: "e_lfanew 0xfffffff0 points outside the image"},
			{name: "no PE signature", mem: patch(m, tLfanew, "PX"), wantErr: "no PE signature"},
			{name: "optional header size 0", mem: patch(m, fh+16, uint16(0)), wantErr: "SizeOfOptionalHeader is 0"},
			{name: "bad magic", mem: patch(m, pe.optOff(), uint16(0x999)), wantErr: "unknown magic 0x999"},
			{name: "optional header too small", mem: patch(m, fh+16, uint16(40)), wantErr: "needs"},
			{name: "few directories fit", mem: patch(m, fh+16, uint16(pe.ddOff()-pe.optOff()+8)),
				notes: []string{"16 data directories declared, SizeOfOptionalHeader holds 1"},
				check: func(im *Image) bool { return im.Directories[DirDebug] == Dir{} && len(im.Exports) == 4 }},
			{name: "many sections", mem: patch(m, fh+2, uint16(0xffff)), notes: []string{"sections: 65535 declared, more than the loader's 96"}},
			{name: "function count past image", mem: patch(m, e+expNumFuncs, uint32(0xffffffff)),
				notes: []string{"exports: function table: 4294967295 entries declared at RVA 0x1130, only 948 fit in the image"}},
			{name: "name count huge", mem: patch(m, e+expNumNames, uint32(0x7fffffff)),
				notes: []string{"exports: name table: 2147483647 entries declared at RVA 0x1140, only 944 fit"}},
			{name: "name table outside", mem: patch(m, e+expAddrNames, uint32(0x90000)),
				notes: []string{"exports: name table: RVA 0x90000 lies outside the image (size 0x2000)"},
				check: func(im *Image) bool { return len(im.Exports) == 4 && im.Exports[0].Name == "" }},
			{name: "function RVA outside", mem: patch(m, tFuncs+8, uint32(0x50000)),
				notes: []string{"exports: 1 functions dropped (first: Odd.Name-1 address: RVA 0x50000 lies outside the image (size 0x2000))"},
				check: func(im *Image) bool { return len(im.Exports) == 3 }},
			{name: "ordinal index past table", mem: patch(m, tOrdinals+4, uint16(100)),
				notes: []string{"exports: 1 names have ordinal indexes past the function table (4 entries)"},
				check: func(im *Image) bool { _, ok := im.ExportByName("Odd.Name-1"); return !ok }},
			{name: "name without NUL", mem: patch(patch(m, tNames+8, uint32(tSizeOfImage-4)), tSizeOfImage-4, "abcd"),
				notes: []string{"exports: 1 of 3 names unreadable (first: string at RVA 0x1ffc runs past the image end (0x2000))"}},
			{name: "forwarder unreadable", mem: patch(m, tFuncs+4, uint32(tExportDir+tExportSize-1)),
				notes: []string{"exports: 1 functions dropped (first: Fwd forwarder: empty string at RVA 0x11df)"}},
			{name: "ordinal overflow", mem: patch(m, e+expBase, uint32(0xfffe)),
				notes: []string{"exports: 2 ordinals exceed 65535 (ordinal base 65534)"},
				check: func(im *Image) bool { return len(im.Exports) == 2 }},
			{name: "export directory outside", mem: patch(m, pe.ddOff(), uint32(0x1ff0)),
				notes: []string{"directories: export directory 0x1ff0+0xe0 lies outside the image", "exports: directory: RVA 0x1ff0+0x28 lies outside the image"}},
			{name: "DLL name outside", mem: patch(m, e+expName, uint32(0xffffffff)),
				notes: []string{"exports: DLL name: RVA 0xffffffff lies outside the image"}},
			{name: "CodeView size tiny", mem: patch(m, dbg+dbgSizeOfData, uint32(3)),
				notes: []string{"debug: CodeView: record size 3 is implausible"}, check: func(im *Image) bool { return im.CodeView == nil }},
			{name: "CodeView size huge", mem: patch(m, dbg+dbgSizeOfData, uint32(0xffffffff)),
				notes: []string{"debug: CodeView: record size 4294967295 is implausible"}},
			{name: "CodeView RVA outside", mem: patch(m, dbg+dbgAddrOfRawData, uint32(0x1ff0)),
				notes: []string{"debug: CodeView: RVA 0x1ff0+0x2a lies outside the image"}},
			{name: "CodeView unmapped", mem: patch(m, dbg+dbgAddrOfRawData, uint32(0)),
				notes: []string{"not mapped into the image (AddressOfRawData 0)"}},
			{name: "CodeView bad signature", mem: patch(m, tCodeView, "XXXX"),
				notes: []string{`debug: CodeView: unknown signature "XXXX"`}},
			{name: "CodeView RSDS short", mem: patch(m, dbg+dbgSizeOfData, uint32(20)),
				notes: []string{"RSDS record of 20 bytes, needs 24"}},
			{name: "debug directory huge", mem: patch(m, pe.ddOff()+8*DirDebug+4, uint32(0xffffffff)),
				notes: []string{"debug: directory: 153391689 entries declared at RVA 0x1200, only 128 fit in the image (size 0x2000)"},
				check: func(im *Image) bool { return im.CodeView != nil }},
			{name: "NB10", mem: patch(patch(m, tCodeView, "NB10"), tCodeView+8, uint32(0x12345678)),
				check: func(im *Image) bool {
					return im.CodeView != nil && im.CodeView.Signature == "NB10" && im.CodeView.Sig == 0x12345678
				}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				im, err := fromBuilt(t, pe, c.mem, true)
				if c.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Fatalf("error %v, want %q", err, c.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				wantNotes(t, im, c.notes...)
				if c.check != nil && !c.check(im) {
					t.Errorf("check failed: %+v", im)
				}
			})
		}
	}
}

// A module record with no size: the headers' SizeOfImage bounds reads.
func TestFromMemoryZeroModuleSize(t *testing.T) {
	pe := newTestPE(false)
	f, err := dumpWith(false, pe.base(), 0, pe.mapped, false)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Modules[0]
	m.Size = 0
	im, err := FromMemory(f, &m)
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Exports) != 4 || im.CodeView == nil {
		t.Errorf("%+v", im)
	}
	if _, err := FromMemory(nil, nil); err == nil {
		t.Error("nil dump accepted")
	}
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.dll")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFromFileBuilt(t *testing.T) {
	for _, is64 := range []bool{false, true} {
		pe := newTestPE(is64)
		path := writeTemp(t, pe.file)
		im, err := FromFile(path, tTimestamp, tSizeOfImage)
		if err != nil {
			t.Fatal(err)
		}
		checkTestImage(t, im, is64)
		if im.File != path || im.Base != pe.base() {
			t.Errorf("file %q base %#x", im.File, im.Base)
		}
		// Zero skips the checks.
		if _, err := FromFile(path, 0, 0); err != nil {
			t.Error(err)
		}
		_, err = FromFile(path, tTimestamp+1, tSizeOfImage)
		var me *MismatchError
		if !errors.As(err, &me) || me.Field != "TimeDateStamp" || !strings.Contains(err.Error(), "TimeDateStamp 0x5f3e1a2b does not match the dump's 0x5f3e1a2c") {
			t.Errorf("timestamp mismatch: %v", err)
		}
		_, err = FromFile(path, tTimestamp, 0x3000)
		if !errors.As(err, &me) || me.Field != "SizeOfImage" {
			t.Errorf("size mismatch: %v", err)
		}
	}
	if _, err := FromFile(filepath.Join(t.TempDir(), "missing.dll"), 0, 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// The built-in header parser and saferwall/pe must agree; where saferwall
// refuses a file the built-in one takes over with a note.
func TestFromFileFallback(t *testing.T) {
	for _, is64 := range []bool{false, true} {
		pe := newTestPE(is64)
		own, err := fromFile("x", bytesReaderAt(pe.file), int64(len(pe.file)), nil)
		if err != nil {
			t.Fatal(err)
		}
		checkTestImage(t, own, is64)

		// ImageBase not 64K-aligned: saferwall/pe refuses, the loader does not care.
		odd := patch(pe.file, pe.optOff()+28, uint32(0x6d401000))
		if is64 {
			odd = patch(pe.file, pe.optOff()+24, uint32(0x10001000))
		}
		im, err := FromFile(writeTemp(t, odd), tTimestamp, tSizeOfImage)
		if err != nil {
			t.Fatal(err)
		}
		wantNotes(t, im, "headers: saferwall/pe: ", "read by the built-in parser")
		im.Notes = nil
		checkTestImage(t, im, is64)
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, errors.New("EOF")
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, errors.New("EOF")
	}
	return n, nil
}

func TestFromFileCorrupt(t *testing.T) {
	pe := newTestPE(true)
	// Truncated file: the headers are there, .text is cut.
	im, err := FromFile(writeTemp(t, pe.file[:tTextRaw+0x10]), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes(t, im, "exports: directory: RVA 0x1100 maps to file offset 0x500, past the end of the file (0x410 bytes)")
	// An RVA in no section (the gap after .text's VirtualSize).
	im, err = FromFile(writeTemp(t, patch(pe.file, tTextRaw+int(tExportDir-tTextRVA)+expAddrNames, uint32(0x1a00))), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes(t, im, "exports: name table: RVA 0x1a00 is in no section of the file")
	// CodeView by file offset past the end.
	im, err = FromFile(writeTemp(t, patch(pe.file, tTextRaw+int(tDebugDir-tTextRVA)+dbgPtrToRawData, uint32(0xfff0))), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantNotes(t, im, "debug: CodeView: file offset 0xfff0+0x2a runs past the end of the file")
	// Not a PE at all.
	if _, err := FromFile(writeTemp(t, []byte("hello")), 0, 0); err == nil {
		t.Error("5-byte file accepted")
	}
}

// .bss-style sections read as zeros from a file, as the loader maps them.
func TestFileReaderZeroFill(t *testing.T) {
	r := &fileReader{ra: bytesReaderAt(make([]byte, 0x600)), size: 0x600}
	r.setSections(0x200, 0x200, []Section{{VirtualAddress: 0x1000, VirtualSize: 0x2000, PointerToRawData: 0x200, SizeOfRawData: 0x400}})
	p := make([]byte, 0x20)
	for i := range p {
		p[i] = 0xff
	}
	if n, err := r.ReadAt(p, 0x13f0); n != 0x20 || err != nil {
		t.Fatalf("read across raw/zero: %d %v", n, err)
	}
	for i, c := range p {
		if c != 0 {
			t.Fatalf("byte %d = %#x", i, c)
		}
	}
	if n, err := r.ReadAt(p, 0x2ff0); n != 0x10 || err == nil {
		t.Errorf("read past the section: %d %v", n, err)
	}
}
