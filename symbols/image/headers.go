package image

import (
	"fmt"
)

// Header layout (PE/COFF specification, "MS-DOS Stub", "COFF File Header",
// "Optional Header").
const (
	dosHeaderSize   = 64
	lfanewOffset    = 0x3c
	fileHeaderSize  = 24 // "PE\0\0" + IMAGE_FILE_HEADER
	sectionHdrSize  = 40
	magicPE32       = 0x10b
	magicPE32Plus   = 0x20b
	optMaxSize      = 112 + 16*8 // PE32+ header with 16 directories
	dataDirOff32    = 96
	dataDirOff64    = 112
	debugDirEntSize = 28
)

// HeaderError says why an image could not be identified at all; everything
// after the headers only adds Notes.
type HeaderError struct {
	What string // "DOS header", "NT headers", "optional header"
	Err  error
}

func (e *HeaderError) Error() string { return "image " + e.What + ": " + e.Err.Error() }
func (e *HeaderError) Unwrap() error { return e.Err }

func headerErr(what string, format string, args ...any) error {
	return &HeaderError{What: what, Err: fmt.Errorf(format, args...)}
}

// parse reads headers, sections, directories, exports and the debug
// directory. Only unreadable or invalid headers make it fail.
func (p *parser) parse() error {
	if err := p.parseHeaders(); err != nil {
		return err
	}
	p.checkDirectories()
	p.parseExports()
	p.parseDebug()
	return nil
}

func (p *parser) parseHeaders() error {
	im := p.im
	var dos [dosHeaderSize]byte
	if err := p.readFull(dos[:], 0); err != nil {
		return &HeaderError{What: "DOS header", Err: err}
	}
	if dos[0] != 'M' || dos[1] != 'Z' {
		return headerErr("DOS header", "no MZ signature (found %02x %02x)", dos[0], dos[1])
	}
	lfanew := le32(dos[lfanewOffset:])
	var nt [fileHeaderSize]byte
	if !p.inImage(lfanew, fileHeaderSize) {
		return headerErr("NT headers", "e_lfanew %#x points outside the image (size %#x)", lfanew, p.limit)
	}
	if err := p.readFull(nt[:], lfanew); err != nil {
		return &HeaderError{What: "NT headers", Err: err}
	}
	if string(nt[:4]) != "PE\x00\x00" {
		return headerErr("NT headers", "no PE signature at %#x (found % x)", lfanew, nt[:4])
	}
	im.Machine = le16(nt[4:])
	nsec := uint32(le16(nt[6:]))
	im.TimeDateStamp = le32(nt[8:])
	optSize := uint32(le16(nt[20:]))

	optRVA := lfanew + fileHeaderSize
	if optSize < 2 {
		return headerErr("optional header", "SizeOfOptionalHeader is %d", optSize)
	}
	opt := make([]byte, min(optSize, optMaxSize))
	if err := p.readFull(opt, optRVA); err != nil {
		return &HeaderError{What: "optional header", Err: err}
	}
	var ddOff uint32
	switch magic := le16(opt); magic {
	case magicPE32:
		ddOff = dataDirOff32
		if len(opt) < int(ddOff) {
			return headerErr("optional header", "PE32 header needs %d bytes, SizeOfOptionalHeader is %d", ddOff, optSize)
		}
		im.ImageBase = uint64(le32(opt[28:]))
	case magicPE32Plus:
		ddOff = dataDirOff64
		if len(opt) < int(ddOff) {
			return headerErr("optional header", "PE32+ header needs %d bytes, SizeOfOptionalHeader is %d", ddOff, optSize)
		}
		im.Is64 = true
		im.ImageBase = le64(opt[24:])
	default:
		return headerErr("optional header", "unknown magic %#x", magic)
	}
	im.EntryPoint = le32(opt[16:])
	fileAlign := le32(opt[36:])
	im.SizeOfImage = le32(opt[56:])
	im.SizeOfHeaders = le32(opt[60:])
	im.Checksum = le32(opt[64:])
	if p.sizeFromHeader {
		if im.SizeOfImage == 0 {
			return headerErr("optional header", "SizeOfImage is 0")
		}
		p.limit = min(im.SizeOfImage, maxImageBytes)
	}
	ndirs := le32(opt[ddOff-4:])
	fit := (uint32(len(opt)) - ddOff) / 8
	if ndirs > fit && fit < 16 {
		p.note("headers: %d data directories declared, SizeOfOptionalHeader holds %d", min(ndirs, 16), fit)
	}
	for i := uint32(0); i < min(ndirs, fit, 16); i++ {
		b := opt[ddOff+8*i:]
		im.Directories[i] = Dir{RVA: le32(b), Size: le32(b[4:])}
	}

	p.parseSections(optRVA+optSize, nsec, fileAlign)
	return nil
}

// parseSections reads the section table; a table cut short by a missing
// page keeps the headers read so far.
func (p *parser) parseSections(at, count, fileAlign uint32) {
	if count > maxSections {
		p.note("sections: %d declared, more than the loader's %d; reading %d", count, maxSections, maxSections)
		count = maxSections
	}
	b := p.readArray("sections", at, count, sectionHdrSize, maxSections)
	for off := 0; off+sectionHdrSize <= len(b); off += sectionHdrSize {
		h := b[off : off+sectionHdrSize]
		name := h[:8]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		p.im.Sections = append(p.im.Sections, Section{
			Name:             string(name),
			VirtualSize:      le32(h[8:]),
			VirtualAddress:   le32(h[12:]),
			SizeOfRawData:    le32(h[16:]),
			PointerToRawData: le32(h[20:]),
			Characteristics:  le32(h[36:]),
		})
	}
	if m, ok := p.r.(sectionMapper); ok {
		m.setSections(p.im.SizeOfHeaders, fileAlign, p.im.Sections)
	}
}

var dirNames = [16]string{"export", "import", "resource", "exception", "security", "base relocation", "debug",
	"architecture", "global pointer", "TLS", "load config", "bound import", "IAT", "delay import", "CLR", "reserved"}

// checkDirectories notes directories that point outside the image; they
// are kept as the headers say, for the caller to judge.
func (p *parser) checkDirectories() {
	for i, d := range p.im.Directories {
		if i == DirSecurity || d.RVA == 0 {
			continue // the security directory holds a file offset
		}
		if !p.inImage(d.RVA, d.Size) {
			p.note("directories: %s directory %#x+%#x lies outside the image (size %#x)", dirNames[i], d.RVA, d.Size, p.limit)
		}
	}
}
