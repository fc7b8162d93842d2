package image

import (
	"testing"

	"github.com/saferwall/pe"
	"github.com/saferwall/pe/log"
)

// FuzzFromMemory feeds arbitrary image bytes to both layouts: as dump
// memory at a module base (FromMemory) and as a file (the built-in parser
// and saferwall/pe's header parser). Nothing may panic, and whatever comes
// back must respect the bounds the parser promises.
func FuzzFromMemory(f *testing.F) {
	for _, is64 := range []bool{false, true} {
		t := newTestPE(is64)
		f.Add(t.mapped, is64)
		f.Add(t.file, is64)
		f.Add(t.mapped[:0x400], is64)
	}
	f.Fuzz(func(t *testing.T, data []byte, is64 bool) {
		if len(data) > 4*tSizeOfImage {
			data = data[:4*tSizeOfImage]
		}
		base := uint64(tBase32)
		if is64 {
			base = tBase64
		}
		d, err := dumpWith(is64, base, tSizeOfImage, data, false)
		if err != nil {
			t.Fatal(err)
		}
		im, err := FromMemory(d, &d.Modules[0])
		if err == nil {
			checkBounds(t, im, tSizeOfImage)
		}
		fi, err := fromFile("fuzz.dll", bytesReaderAt(data), int64(len(data)), func(o *pe.Options) (*pe.File, error) {
			o.Logger = log.NewStdLogger(discard{})
			return pe.NewBytes(data, o)
		})
		if err == nil {
			checkBounds(t, fi, fi.SizeOfImage)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func checkBounds(t *testing.T, im *Image, limit uint32) {
	t.Helper()
	if len(im.Sections) > maxSections {
		t.Fatalf("%d sections", len(im.Sections))
	}
	if len(im.Exports) > maxFunctions+maxNames {
		t.Fatalf("%d exports", len(im.Exports))
	}
	for _, e := range im.Exports {
		if len(e.Name) > maxNameLen || len(e.Forwarder) > maxNameLen {
			t.Fatalf("name of %d bytes", len(e.Name))
		}
		if e.RVA >= limit {
			t.Fatalf("export %q at %#x past the image (%#x)", e.Name, e.RVA, limit)
		}
		if (e.RVA == 0) == (e.Forwarder == "") {
			t.Fatalf("export %+v has neither or both of an address and a forwarder", e)
		}
	}
	if im.CodeView != nil && len(im.CodeView.PDBName) > maxCodeView {
		t.Fatalf("PDB name of %d bytes", len(im.CodeView.PDBName))
	}
	im.ExportsSorted()
	im.NearestExport(0x1010)
	im.SectionAt(0x1000)
}
