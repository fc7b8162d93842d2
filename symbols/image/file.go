package image

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/saferwall/pe"
	"github.com/saferwall/pe/log"
)

// MismatchError is an image file that is not the build the dump loaded.
type MismatchError struct {
	Path       string
	Field      string // "TimeDateStamp" or "SizeOfImage"
	Have, Want uint32
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("image file %s: %s %#x does not match the dump's %#x (another build of the module)", e.Path, e.Field, e.Have, e.Want)
}

// FromFile parses an image file (on-disk layout) and checks that it is the
// build the dump describes: wantTimestamp and wantSize are the module
// record's TimeDateStamp and SizeOfImage, and a mismatch is refused with a
// *MismatchError. Zero skips that check.
//
// Headers and sections come from github.com/saferwall/pe in its header-only
// (Fast) mode, silenced and with the security directory off; when it refuses
// the file the built-in parser reads them instead, with a note. Exports and
// the debug directory are always read by the built-in parser, shared with
// FromMemory, because saferwall/pe's parsers print to stdout regardless of
// the logger (exports.go, loadconfig.go), stop at the first export name with
// a '.' or '-', index the function table with a 16-bit product that wraps past
// ordinal index 16383, and size the PDB name as SizeOfData-25 in uint32, which
// wraps to a 4 GiB allocation on a short record (v1.6.5).
func FromFile(path string, wantTimestamp, wantSize uint32) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	im, err := fromFile(path, f, st.Size(), func(o *pe.Options) (*pe.File, error) { return pe.New(path, o) })
	if err != nil {
		return nil, err
	}
	if wantTimestamp != 0 && im.TimeDateStamp != wantTimestamp {
		return nil, &MismatchError{Path: path, Field: "TimeDateStamp", Have: im.TimeDateStamp, Want: wantTimestamp}
	}
	if wantSize != 0 && im.SizeOfImage != wantSize {
		return nil, &MismatchError{Path: path, Field: "SizeOfImage", Have: im.SizeOfImage, Want: wantSize}
	}
	return im, nil
}

// fromFile parses a file-layout image read through ra. open, when not nil,
// gives saferwall/pe's view of the same bytes for the headers.
func fromFile(name string, ra io.ReaderAt, size int64, open func(*pe.Options) (*pe.File, error)) (*Image, error) {
	r := &fileReader{ra: ra, size: size}
	im := &Image{File: name}
	p := &parser{r: r, im: im, limit: uint32(min(size, maxImageBytes)), sizeFromHeader: true}
	done := false
	if open != nil {
		err := p.headersFromSaferwall(open)
		if err == nil {
			done = true
		} else {
			*im = Image{File: name, Notes: []string{fmt.Sprintf("headers: saferwall/pe: %v; read by the built-in parser", err)}}
			*r = fileReader{ra: ra, size: size}
			p.limit = uint32(min(size, maxImageBytes))
		}
	}
	if !done {
		if err := p.parseHeaders(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	p.checkDirectories()
	p.parseExports()
	p.parseDebug()
	im.Base = im.ImageBase
	im.finish()
	return im, nil
}

// headersFromSaferwall fills the header fields and sections from
// saferwall/pe. Any error or panic sends the caller to the built-in parser.
func (p *parser) headersFromSaferwall(open func(*pe.Options) (*pe.File, error)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	pf, err := open(&pe.Options{
		Fast:                       true, // headers and sections only
		Logger:                     log.NewStdLogger(io.Discard),
		OmitSecurityDirectory:      true, // no certificate loading, no certutil
		DisableCertValidation:      true,
		DisableSignatureValidation: true,
		MaxCOFFSymbolsCount:        1, // symbols are not wanted here
		MaxRelocEntriesCount:       1,
	})
	if err != nil {
		return err
	}
	defer pf.Close()
	if err := pf.Parse(); err != nil {
		return err
	}
	im := p.im
	fh := pf.NtHeader.FileHeader
	im.Machine = uint16(fh.Machine)
	im.TimeDateStamp = fh.TimeDateStamp
	var (
		dirs      [16]pe.DataDirectory
		ndirs     uint32
		ddOff     uint32
		fileAlign uint32
	)
	switch oh := pf.NtHeader.OptionalHeader.(type) {
	case pe.ImageOptionalHeader64:
		im.Is64 = true
		im.ImageBase = oh.ImageBase
		im.EntryPoint, im.SizeOfImage, im.SizeOfHeaders, im.Checksum = oh.AddressOfEntryPoint, oh.SizeOfImage, oh.SizeOfHeaders, oh.CheckSum
		dirs, ndirs, ddOff, fileAlign = oh.DataDirectory, oh.NumberOfRvaAndSizes, dataDirOff64, oh.FileAlignment
	case pe.ImageOptionalHeader32:
		im.ImageBase = uint64(oh.ImageBase)
		im.EntryPoint, im.SizeOfImage, im.SizeOfHeaders, im.Checksum = oh.AddressOfEntryPoint, oh.SizeOfImage, oh.SizeOfHeaders, oh.CheckSum
		dirs, ndirs, ddOff, fileAlign = oh.DataDirectory, oh.NumberOfRvaAndSizes, dataDirOff32, oh.FileAlignment
	default:
		return errors.New("no optional header")
	}
	if im.SizeOfImage == 0 {
		return errors.New("SizeOfImage is 0")
	}
	// saferwall/pe reads 16 directories whatever the header declares; keep
	// only those the optional header really holds, as the loader does.
	optSize := uint32(fh.SizeOfOptionalHeader)
	if optSize < ddOff {
		return fmt.Errorf("SizeOfOptionalHeader %d is too small", optSize)
	}
	fit := (min(optSize, optMaxSize) - ddOff) / 8
	if ndirs > fit && fit < 16 {
		p.note("headers: %d data directories declared, SizeOfOptionalHeader holds %d", min(ndirs, 16), fit)
	}
	for i := uint32(0); i < min(ndirs, fit, 16); i++ {
		im.Directories[i] = Dir{RVA: dirs[i].VirtualAddress, Size: dirs[i].Size}
	}
	secs := pf.Sections
	if len(secs) > maxSections {
		p.note("sections: %d declared, more than the loader's %d; reading %d", len(secs), maxSections, maxSections)
		secs = secs[:maxSections]
	}
	for _, s := range secs {
		h := s.Header
		name := h.Name[:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		im.Sections = append(im.Sections, Section{Name: string(name), VirtualAddress: h.VirtualAddress,
			VirtualSize: h.VirtualSize, Characteristics: h.Characteristics,
			PointerToRawData: h.PointerToRawData, SizeOfRawData: h.SizeOfRawData})
	}
	p.limit = min(im.SizeOfImage, maxImageBytes)
	p.r.(sectionMapper).setSections(im.SizeOfHeaders, fileAlign, im.Sections)
	return nil
}

// fileReader maps RVAs of a file-layout image to file offsets through the
// section table, as the loader would map it: headers first, each section's
// raw data, and zeros for the part of a section past its raw data (.bss).
type fileReader struct {
	ra      io.ReaderAt
	size    int64
	mapped  bool // section table known; before it RVA == file offset
	headers uint32
	align   uint32
	secs    []Section
}

func (r *fileReader) setSections(sizeOfHeaders, fileAlignment uint32, secs []Section) {
	r.mapped, r.headers, r.align, r.secs = true, sizeOfHeaders, fileAlignment, secs
}

// FileError is an RVA of a file-layout image that maps to no bytes of the
// file.
type FileError struct {
	RVA    uint32
	Offset int64 // -1 when the RVA is in no section
	Size   int64
}

func (e *FileError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("RVA %#x is in no section of the file", e.RVA)
	}
	return fmt.Sprintf("RVA %#x maps to file offset %#x, past the end of the file (%#x bytes)", e.RVA, e.Offset, e.Size)
}

// locate maps rva to a file offset and how many bytes from there belong to
// the same piece; zero means the piece is not in the file and reads as 0.
func (r *fileReader) locate(rva uint32) (off int64, avail uint64, zero bool, err error) {
	if !r.mapped {
		off, avail = int64(rva), uint64(maxImageBytes)
	} else {
		found := false
		for _, s := range r.secs {
			if !s.Contains(rva) {
				continue
			}
			d := rva - s.VirtualAddress
			raw := min(s.SizeOfRawData, s.Size())
			ptr := s.PointerToRawData
			if ptr == 0 {
				raw = 0 // uninitialized data only
			}
			if r.align >= 0x200 {
				ptr &^= 0x1ff // the loader rounds PointerToRawData down to a sector
			}
			if d >= raw {
				return 0, uint64(s.Size() - d), true, nil
			}
			off, avail, found = int64(ptr)+int64(d), uint64(raw-d), true
			break
		}
		if !found {
			if rva >= r.headers {
				return 0, 0, false, &FileError{RVA: rva, Offset: -1}
			}
			off, avail = int64(rva), uint64(r.headers-rva)
		}
	}
	if off >= r.size {
		return 0, 0, false, &FileError{RVA: rva, Offset: off, Size: r.size}
	}
	return off, min(avail, uint64(r.size-off)), false, nil
}

func (r *fileReader) ReadAt(p []byte, rva uint32) (int, error) {
	n := 0
	for n < len(p) {
		a := uint64(rva) + uint64(n)
		if a > 0xffffffff {
			return n, &FileError{RVA: 0xffffffff, Offset: -1}
		}
		off, avail, zero, err := r.locate(uint32(a))
		if err != nil {
			return n, err
		}
		k := int(min(uint64(len(p)-n), avail))
		if zero {
			clear(p[n : n+k])
			n += k
			continue
		}
		m, err := r.ra.ReadAt(p[n:n+k], off)
		n += m
		if m < k {
			if err == nil || err == io.EOF {
				err = &FileError{RVA: uint32(a) + uint32(m), Offset: off + int64(m), Size: r.size}
			}
			return n, err
		}
	}
	return n, nil
}

func (r *fileReader) readFileAt(p []byte, off uint32) (int, error) {
	n, err := r.ra.ReadAt(p, int64(off))
	if n < len(p) {
		if err != nil && err != io.EOF {
			return n, err
		}
		return n, fmt.Errorf("file offset %#x+%#x runs past the end of the file (%#x bytes)", off, len(p), r.size)
	}
	return n, nil
}
