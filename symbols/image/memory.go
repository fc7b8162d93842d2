package image

import (
	"errors"
	"fmt"

	"wdb/dump"
)

// FromMemory parses the image of module m as the dump captured it, in the
// loader's mapped layout (RVA = offset from m.Base). It fails only when the
// headers cannot be read or are not a PE image (the error says which page is
// missing); anything missing later is left out and explained in Notes.
//
// CodeView is what the image's debug directory says, independent of the
// module record (m.CodeView), so callers can fall back to it when the record
// has none (Wine dumps); a disagreement between the two is noted.
func FromMemory(f *dump.File, m *dump.Module) (*Image, error) {
	if f == nil || m == nil {
		return nil, errors.New("image: no dump or module")
	}
	im := &Image{Base: m.Base}
	limit := m.Size
	if limit == 0 || limit > maxImageBytes {
		limit = maxImageBytes
	}
	p := &parser{r: &memReader{f: f, base: m.Base}, im: im, limit: limit, sizeFromHeader: m.Size == 0}
	if err := p.parse(); err != nil {
		return nil, fmt.Errorf("module %s at %#x: %w", m.BaseName(), m.Base, err)
	}
	if m.Size != 0 && im.SizeOfImage != m.Size {
		p.note("headers: SizeOfImage %#x differs from the module record's %#x", im.SizeOfImage, m.Size)
	}
	if m.TimeDateStamp != 0 && im.TimeDateStamp != m.TimeDateStamp {
		p.note("headers: TimeDateStamp 0x%08x differs from the module record's 0x%08x", im.TimeDateStamp, m.TimeDateStamp)
	}
	if im.CodeView != nil && m.CodeView != nil && !sameCodeView(im.CodeView, m.CodeView) {
		p.note("debug: CodeView %s %s age %d differs from the module record's %s %s age %d",
			im.CodeView.Signature, cvKey(im.CodeView), im.CodeView.Age, m.CodeView.Signature, cvKey(m.CodeView), m.CodeView.Age)
	}
	im.finish()
	return im, nil
}

func cvKey(cv *dump.CodeView) string {
	if cv.Signature == "NB10" {
		return fmt.Sprintf("%08X", cv.Sig)
	}
	return cv.GUIDString()
}

// memReader reads a mapped image from the dump's memory.
type memReader struct {
	f    *dump.File
	base uint64
}

func (r *memReader) ReadAt(p []byte, rva uint32) (int, error) {
	n, err := r.f.ReadMemory(r.base+uint64(rva), p)
	var me *dump.MemoryError
	if err != nil && errors.As(err, &me) {
		return n, &PageError{Addr: me.Addr, Page: me.Addr &^ (pageSize - 1), Err: me}
	}
	return n, err
}

const pageSize = 0x1000

// PageError is memory of a dump-memory image that the dump does not hold.
type PageError struct {
	Addr uint64 // first missing byte
	Page uint64 // its page
	Err  *dump.MemoryError
}

func (e *PageError) Error() string {
	why := "not in the dump"
	switch e.Err.Kind {
	case dump.NotCaptured:
		why = "not captured in the dump"
	case dump.NotMapped:
		why = "not mapped in the process"
	}
	if e.Addr == e.Page {
		return fmt.Sprintf("page at %#x %s", e.Page, why)
	}
	return fmt.Sprintf("memory at %#x (page %#x) %s", e.Addr, e.Page, why)
}

func (e *PageError) Unwrap() error { return e.Err }
