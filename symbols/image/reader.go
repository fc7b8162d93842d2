package image

import (
	"encoding/binary"
	"fmt"
)

// reader gives the image's bytes by RVA. The mapped layout (dump memory)
// reads at base+RVA; the file layout maps the RVA through the section table.
// Everything above this interface is layout-blind.
type reader interface {
	// ReadAt fills p from rva on. When it returns n < len(p), err says why
	// byte n is missing (a page not captured, an RVA in no section, ...).
	ReadAt(p []byte, rva uint32) (n int, err error)
}

// sectionMapper is implemented by readers whose RVA mapping depends on the
// section table (the file layout); the parser hands it over once read.
type sectionMapper interface {
	setSections(sizeOfHeaders, fileAlignment uint32, secs []Section)
}

// offsetReader is implemented by readers that can also read by file offset:
// the debug directory's PointerToRawData is the only reliable way to reach
// CodeView data that is not mapped into any section.
type offsetReader interface {
	readFileAt(p []byte, off uint32) (int, error)
}

// parser reads one image through a reader into an Image.
type parser struct {
	r     reader
	im    *Image
	limit uint32 // every RVA and extent must stay below this (the image size)
	// sizeFromHeader: limit becomes SizeOfImage once the optional header is
	// read (file layout); dump memory keeps the module record's size.
	sizeFromHeader bool
}

func (p *parser) note(format string, args ...any) {
	p.im.Notes = append(p.im.Notes, fmt.Sprintf(format, args...))
}

// rangeError is an RVA span outside the image.
type rangeError struct {
	RVA, Size, Limit uint32
}

func (e *rangeError) Error() string {
	if e.Size <= 1 {
		return fmt.Sprintf("RVA %#x lies outside the image (size %#x)", e.RVA, e.Limit)
	}
	return fmt.Sprintf("RVA %#x+%#x lies outside the image (size %#x)", e.RVA, e.Size, e.Limit)
}

// inImage reports whether [rva, rva+n) lies inside the image.
func (p *parser) inImage(rva, n uint32) bool {
	return rva < p.limit && uint64(rva)+uint64(n) <= uint64(p.limit)
}

// readFull reads exactly len(b) bytes at rva inside the image.
func (p *parser) readFull(b []byte, rva uint32) error {
	if !p.inImage(rva, uint32(len(b))) {
		return &rangeError{RVA: rva, Size: uint32(len(b)), Limit: p.limit}
	}
	n, err := p.r.ReadAt(b, rva)
	if n < len(b) {
		if err == nil {
			err = fmt.Errorf("short read at RVA %#x", rva+uint32(n))
		}
		return err
	}
	return nil
}

// readArray reads count elements of elemSize bytes at rva, bounded by the
// image size and by max. It returns the whole elements it could read and
// notes, under what, every reason it read fewer than declared.
func (p *parser) readArray(what string, rva, count, elemSize, max uint32) []byte {
	if count == 0 {
		return nil
	}
	if rva == 0 || rva >= p.limit {
		p.note("%s: %v", what, &rangeError{RVA: rva, Limit: p.limit})
		return nil
	}
	if fit := (p.limit - rva) / elemSize; count > fit {
		p.note("%s: %d entries declared at RVA %#x, only %d fit in the image (size %#x)", what, count, rva, fit, p.limit)
		count = fit
	}
	if count > max {
		p.note("%s: %d entries declared, more than the %d a PE image can use; reading %d", what, count, max, max)
		count = max
	}
	buf := make([]byte, int(count)*int(elemSize))
	n, err := p.r.ReadAt(buf, rva)
	if n < len(buf) {
		if err == nil {
			err = fmt.Errorf("short read at RVA %#x", rva+uint32(n))
		}
		p.note("%s: %v (%d of %d entries read)", what, err, n/int(elemSize), count)
	}
	return buf[:n/int(elemSize)*int(elemSize)]
}

// readString reads a NUL-terminated byte string at rva, at most maxNameLen
// bytes, keeping the bytes as they are (decorated C++ names, '.', '-').
func (p *parser) readString(rva uint32) (string, error) {
	if rva == 0 || rva >= p.limit {
		return "", &rangeError{RVA: rva, Limit: p.limit}
	}
	var chunk [128]byte
	var out []byte
	for off := uint32(0); off < maxNameLen; {
		at := rva + off
		if at >= p.limit {
			return "", fmt.Errorf("string at RVA %#x runs past the image end (%#x)", rva, p.limit)
		}
		c := min(uint32(len(chunk)), p.limit-at, maxNameLen-off)
		n, err := p.r.ReadAt(chunk[:c], at)
		for i := 0; i < n; i++ {
			if chunk[i] == 0 {
				return string(append(out, chunk[:i]...)), nil
			}
		}
		out = append(out, chunk[:n]...)
		off += uint32(n)
		if n < int(c) {
			if err == nil {
				err = fmt.Errorf("short read at RVA %#x", at+uint32(n))
			}
			return "", err
		}
	}
	return "", fmt.Errorf("string at RVA %#x is longer than %d bytes", rva, maxNameLen)
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// failures counts items skipped for one reason and keeps the first error,
// so a thousand missing names make one note, not a thousand.
type failures struct {
	n     int
	first error
}

func (f *failures) add(err error) {
	if f.n == 0 {
		f.first = err
	}
	f.n++
}
