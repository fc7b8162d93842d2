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

const corpus = "../../../shared/corpus"

func openCorpus(t *testing.T, rel string) *dump.File {
	t.Helper()
	p := filepath.Join(corpus, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s absent (shared/corpus not laid out beside the repo): %v", p, err)
	}
	f, err := dump.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func moduleNamed(t *testing.T, f *dump.File, name string) *dump.Module {
	t.Helper()
	for i := range f.Modules {
		if strings.EqualFold(f.Modules[i].BaseName(), name) {
			return &f.Modules[i]
		}
	}
	t.Fatalf("%s: no module %s", f.Path, name)
	return nil
}

// The Windows 7 SP1 x86 full-memory dumps hold whole images of ntdll,
// kernel32 and KERNELBASE: everything must parse without a note.
func TestManticoreImages(t *testing.T) {
	dumps, _ := filepath.Glob(filepath.Join(corpus, "trailofbits__manticore/tests/memdumps/*/*.dmp"))
	if len(dumps) == 0 {
		t.Skipf("no manticore dumps under %s (shared/corpus absent)", corpus)
	}
	for _, p := range dumps {
		rel, _ := filepath.Rel(corpus, p)
		t.Run(filepath.Base(p), func(t *testing.T) {
			f := openCorpus(t, rel)
			for i := range f.Modules {
				m := &f.Modules[i]
				im, err := FromMemory(f, m)
				if err != nil {
					t.Fatalf("%s: %v", m.BaseName(), err)
				}
				if len(im.Notes) != 0 {
					t.Errorf("%s: notes %q", m.BaseName(), im.Notes)
				}
				if im.Is64 || im.Machine != MachineI386 || im.TimeDateStamp != m.TimeDateStamp || im.SizeOfImage != m.Size {
					t.Errorf("%s: headers %v %#x %#x %#x", m.BaseName(), im.Is64, im.Machine, im.TimeDateStamp, im.SizeOfImage)
				}
				// The CodeView from the image's debug directory is the module record's.
				if !reflect.DeepEqual(im.CodeView, m.CodeView) {
					t.Errorf("%s: image CodeView %+v, module record %+v", m.BaseName(), im.CodeView, m.CodeView)
				}
				checkExportTable(t, f, m, im)
			}

			exe := &f.Modules[0]
			if im, _ := FromMemory(f, exe); im.CodeView != nil || exe.CodeView != nil || len(im.Exports) != 0 {
				t.Errorf("%s: CodeView %+v, %d exports", exe.BaseName(), im.CodeView, len(im.Exports))
			}

			nt, _ := FromMemory(f, moduleNamed(t, f, "ntdll.dll"))
			k32, _ := FromMemory(f, moduleNamed(t, f, "kernel32.dll"))
			kb, _ := FromMemory(f, moduleNamed(t, f, "KERNELBASE.dll"))
			wantCV(t, nt, "ntdll.pdb", "120028FA-453F-4CD5-A6A4-04EC37396A58", 2)
			wantCV(t, k32, "kernel32.pdb", "D4AC3906-D49D-487B-9F69-F9326A7D206A", 2)
			wantCV(t, kb, "kernelbase.pdb", "F50B25D2-8250-4188-B730-63D653B7D27E", 2)
			if nt.ExportDLLName != "ntdll.dll" || k32.ExportDLLName != "KERNEL32.dll" || kb.ExportDLLName != "KERNELBASE.dll" {
				t.Errorf("DLL names %q %q %q", nt.ExportDLLName, k32.ExportDLLName, kb.ExportDLLName)
			}

			wantExport(t, k32, "HeapAlloc", 717, 0, "NTDLL.RtlAllocateHeap")
			wantExport(t, k32, "VirtualAlloc", 1258, 0x52fb6, "")
			wantExport(t, k32, "CreateFileMappingW", 142, 0x40a7f, "")
			wantExport(t, k32, "MapViewOfFile", 855, 0x4899b, "")
			wantExport(t, nt, "RtlAllocateHeap", 625, 0x52dd6, "")
			wantExport(t, nt, "NtMapViewOfSection", 347, 0x45c28, "")
			wantExport(t, kb, "HeapFree", 354, 0, "NTDLL.RtlFreeHeap")

			counts := func(im *Image) (all, named, fwd int) {
				for _, e := range im.Exports {
					if e.Name != "" {
						named++
					}
					if e.Forwarder != "" {
						fwd++
					}
				}
				return len(im.Exports), named, fwd
			}
			for _, c := range []struct {
				im                *Image
				all, named, fwd   int
				sortedWithAddress int
			}{
				{nt, 1990, 1982, 0, 1990},
				{k32, 1359, 1359, 77, 1282},
				{kb, 628, 628, 57, 571},
			} {
				all, named, fwd := counts(c.im)
				if all != c.all || named != c.named || fwd != c.fwd || len(c.im.ExportsSorted()) != c.sortedWithAddress {
					t.Errorf("%s: %d exports (%d named, %d forwarded, %d with an address), want %d (%d, %d, %d)", c.im.ExportDLLName,
						all, named, fwd, len(c.im.ExportsSorted()), c.all, c.named, c.fwd, c.sortedWithAddress)
				}
			}
			if e, d, ok := k32.NearestExport(0x52fb6 + 3); !ok || e.Name != "VirtualAlloc" || d != 3 {
				t.Errorf("NearestExport near VirtualAlloc: %+v %d %v", e, d, ok)
			}
		})
	}
}

func wantCV(t *testing.T, im *Image, pdb, guid string, age uint32) {
	t.Helper()
	cv := im.CodeView
	if cv == nil || cv.Signature != "RSDS" || cv.PDBName != pdb || cv.GUIDString() != guid || cv.Age != age {
		t.Errorf("%s: CodeView %+v, want %s %s %d", im.ExportDLLName, cv, pdb, guid, age)
	}
}

func wantExport(t *testing.T, im *Image, name string, ord uint16, rva uint32, fwd string) {
	t.Helper()
	e, ok := im.ExportByName(name)
	if !ok || e.Ordinal != ord || e.RVA != rva || e.Forwarder != fwd {
		t.Errorf("%s!%s = %+v %v, want ordinal %d RVA %#x forwarder %q", im.ExportDLLName, name, e, ok, ord, rva, fwd)
	}
}

// checkExportTable cross-checks the parsed exports against the raw export
// directory: every name counted, every address inside a section.
func checkExportTable(t *testing.T, f *dump.File, m *dump.Module, im *Image) {
	t.Helper()
	d := im.Directories[DirExport]
	if d.RVA == 0 {
		return
	}
	var hdr [exportDirSize]byte
	if _, err := f.ReadMemory(m.Base+uint64(d.RVA), hdr[:]); err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, e := range im.Exports {
		if e.Name != "" {
			named++
		}
		if e.RVA != 0 {
			// Data exports (ntdll!NlsAnsiCodePage) live in .data.
			if _, ok := im.SectionAt(e.RVA); !ok {
				t.Errorf("%s!%s at %#x is in no section", m.BaseName(), e.Name, e.RVA)
			}
		}
	}
	if n := binary.LittleEndian.Uint32(hdr[expNumNames:]); uint32(named) != n {
		t.Errorf("%s: %d named exports, directory says %d", m.BaseName(), named, n)
	}
	t.Logf("%s: %d exports (%d named), NumberOfFunctions %d", m.BaseName(), len(im.Exports), named, binary.LittleEndian.Uint32(hdr[expNumFuncs:]))
}

// fileImage rebuilds the on-disk layout of a mapped image from its section
// headers, giving FromFile a real Windows DLL to read.
func fileImage(t *testing.T, f *dump.File, m *dump.Module, im *Image) []byte {
	t.Helper()
	var size uint32 = im.SizeOfHeaders
	for _, s := range im.Sections {
		size = max(size, s.PointerToRawData+s.SizeOfRawData)
	}
	out := make([]byte, size)
	if _, err := f.ReadMemory(m.Base, out[:im.SizeOfHeaders]); err != nil {
		t.Fatal(err)
	}
	for _, s := range im.Sections {
		n := min(s.SizeOfRawData, im.SizeOfImage-s.VirtualAddress)
		if _, err := f.ReadMemory(m.Base+uint64(s.VirtualAddress), out[s.PointerToRawData:s.PointerToRawData+n]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// FromFile on the Windows 7 DLLs, rebuilt in file layout, must give what
// FromMemory gives, through saferwall/pe and through the built-in parser.
func TestFromFileWindowsDLLs(t *testing.T) {
	f := openCorpus(t, "trailofbits__manticore/tests/memdumps/simple_parse/simple_parse.dmp")
	for _, name := range []string{"ntdll.dll", "kernel32.dll", "KERNELBASE.dll"} {
		m := moduleNamed(t, f, name)
		mem, err := FromMemory(f, m)
		if err != nil {
			t.Fatal(err)
		}
		raw := fileImage(t, f, m, mem)
		path := writeTemp(t, raw)
		viaSW, err := FromFile(path, m.TimeDateStamp, m.Size)
		if err != nil {
			t.Fatal(err)
		}
		own, err := fromFile(path, bytesReaderAt(raw), int64(len(raw)), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range []*Image{viaSW, own} {
			if len(im.Notes) != 0 {
				t.Errorf("%s: notes %q", name, im.Notes)
			}
			if !reflect.DeepEqual(im.Exports, mem.Exports) || !reflect.DeepEqual(im.CodeView, mem.CodeView) ||
				!reflect.DeepEqual(im.Sections, mem.Sections) || im.Directories != mem.Directories ||
				im.EntryPoint != mem.EntryPoint || im.Checksum != mem.Checksum || im.ExportDLLName != mem.ExportDLLName {
				t.Errorf("%s: file image differs from the memory image", name)
			}
		}
		if _, err := FromFile(path, m.TimeDateStamp^1, m.Size); err == nil {
			t.Errorf("%s: wrong timestamp accepted", name)
		}
	}
}

// x64 dumps with partial memory: what is missing is reported, not guessed.
func TestPartialCorpusDumps(t *testing.T) {
	t.Run("stability-report", func(t *testing.T) {
		f := openCorpus(t, "rust-minidump__rust-minidump/testdata/stability-report.dmp")
		// Crashpad captured electron.exe's first 0x180 bytes: the DOS and
		// NT headers, not the section table nor anything after.
		m := moduleNamed(t, f, "electron.exe")
		im, err := FromMemory(f, m)
		if err != nil {
			t.Fatal(err)
		}
		if !im.Is64 || im.Machine != MachineAMD64 || im.TimeDateStamp != m.TimeDateStamp || im.SizeOfImage != m.Size {
			t.Errorf("electron.exe headers: %v %#x %#x %#x", im.Is64, im.Machine, im.TimeDateStamp, im.SizeOfImage)
		}
		if im.Sections != nil || im.Exports != nil || im.CodeView != nil {
			t.Errorf("electron.exe: made up %d sections, %d exports, CodeView %v", len(im.Sections), len(im.Exports), im.CodeView)
		}
		if im.Directories[DirException].RVA == 0 || im.Directories[DirDebug].RVA == 0 {
			t.Errorf("electron.exe directories %v", im.Directories)
		}
		wantNotes(t, im,
			"sections: memory at 0x7ff612450180 (page 0x7ff612450000) not captured in the dump (0 of 14 entries read)",
			"exports: directory: memory at 0x7ff61c5e17ff (page 0x7ff61c5e1000) not captured in the dump",
			"debug: directory: memory at 0x7ff61c5395a0 (page 0x7ff61c539000) not captured in the dump (0 of 1 entries read)")
		t.Logf("electron.exe notes: %q", im.Notes)
		failed := 0
		for i := range f.Modules {
			m := &f.Modules[i]
			if m.BaseName() == "electron.exe" {
				continue
			}
			_, err := FromMemory(f, m)
			var pe *PageError
			if !errors.As(err, &pe) || pe.Page != m.Base || pe.Err.Kind != dump.NotCaptured {
				t.Errorf("%s: %v", m.BaseName(), err)
			}
			failed++
		}
		t.Logf("%d other modules: no header page captured", failed)
	})
	t.Run("sigsegv", func(t *testing.T) {
		f := openCorpus(t, "llvm-mirror__lldb/test/Shell/Minidump/Windows/Sigsegv/Inputs/sigsegv.dmp")
		for i := range f.Modules {
			m := &f.Modules[i]
			im, err := FromMemory(f, m)
			var pe *PageError
			if im != nil || !errors.As(err, &pe) || pe.Page != m.Base ||
				!strings.Contains(err.Error(), "image DOS header: page at") {
				t.Errorf("%s: %v", m.BaseName(), err)
			}
		}
	})
}
