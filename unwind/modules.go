package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"wdb/dump"
	"wdb/symbols/image"
)

// ModuleSource finds the module holding pc and reads its mapped image by
// RVA. Minidumps rarely capture .pdata/.xdata or code pages, so a source may
// take them from the dump, from the module's image file on disk or from a
// symbol server: the walker does not care where bytes come from. rd returns
// how many bytes it read from rva on and, when fewer than len(p), why.
type ModuleSource interface {
	Module(pc uint64) (base uint64, rd func(rva uint32, p []byte) (int, error), ok bool)
}

// RVAReader reads a mapped image by RVA.
type RVAReader func(rva uint32, p []byte) (int, error)

// MemoryReader reads the image at base from the dump's memory.
func MemoryReader(f *dump.File, base uint64) RVAReader {
	return func(rva uint32, p []byte) (int, error) { return f.ReadMemory(base+uint64(rva), p) }
}

// Layered reads from the first reader and fills bytes it lacks from the
// next ones: the dump's captured pages first (they are what ran), the image
// file for the rest.
func Layered(readers ...RVAReader) RVAReader {
	var rs []RVAReader
	for _, r := range readers {
		if r != nil {
			rs = append(rs, r)
		}
	}
	if len(rs) == 1 {
		return rs[0]
	}
	return func(rva uint32, p []byte) (int, error) {
		var firstErr error
		done := 0
		for done < len(p) {
			progressed := false
			for _, r := range rs {
				n, err := r(rva+uint32(done), p[done:])
				if n > 0 {
					done += n
					progressed = true
					break
				}
				if firstErr == nil {
					firstErr = err
				}
			}
			if !progressed {
				if firstErr == nil {
					firstErr = fmt.Errorf("RVA %#x: no bytes", rva+uint32(done))
				}
				return done, firstErr
			}
		}
		return done, nil
	}
}

// Modules is the ModuleSource of a dump: its module list, each module read
// from the dump's memory and, where the dump lacks a page, from the image
// Image finds (an image file on disk or from a symbol server).
type Modules struct {
	File *dump.File
	// Image, when set, returns a reader of module m's image, or nil. It is
	// called at most once per module, on first use.
	Image func(m *dump.Module) RVAReader

	once   sync.Once
	sorted []*dump.Module
	mu     sync.Mutex
	rds    map[uint64]RVAReader
}

// DumpModules serves the dump's modules from the bytes it captured.
func DumpModules(f *dump.File) *Modules { return &Modules{File: f} }

// Module implements ModuleSource.
func (s *Modules) Module(pc uint64) (uint64, func(uint32, []byte) (int, error), bool) {
	s.once.Do(func() {
		for i := range s.File.Modules {
			s.sorted = append(s.sorted, &s.File.Modules[i])
		}
		sort.Slice(s.sorted, func(i, j int) bool { return s.sorted[i].Base < s.sorted[j].Base })
		s.rds = map[uint64]RVAReader{}
	})
	i := sort.Search(len(s.sorted), func(i int) bool { return s.sorted[i].End() > pc })
	if i == len(s.sorted) || s.sorted[i].Base > pc {
		return 0, nil, false
	}
	m := s.sorted[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	rd, ok := s.rds[m.Base]
	if !ok {
		var img RVAReader
		if s.Image != nil {
			img = s.Image(m)
		}
		rd = Layered(MemoryReader(s.File, m.Base), img)
		s.rds[m.Base] = rd
	}
	return m.Base, rd, true
}

// OpenImageFile opens the image file at path for module m: it must be the
// build the dump loaded (TimeDateStamp and SizeOfImage, when the module
// record has them), else the error is an *image.MismatchError. The reader
// maps RVAs through the file's section table; close the Closer when done.
func OpenImageFile(path string, m *dump.Module) (RVAReader, io.Closer, error) {
	var ts, size uint32
	if m != nil {
		ts, size = m.TimeDateStamp, m.Size
	}
	im, err := image.FromFile(path, ts, size)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return fileLayout(f, im.SizeOfHeaders, im.Sections), f, nil
}

// ImageBytes reads an image file held in memory (the on-disk layout), as a
// symbol server download or a test builds it.
func ImageBytes(b []byte) (RVAReader, error) {
	h, err := parsePE(func(off uint32, p []byte) (int, error) {
		if uint64(off) >= uint64(len(b)) {
			return 0, io.EOF
		}
		n := copy(p, b[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	})
	if err != nil {
		return nil, err
	}
	return fileLayout(bytesReaderAt(b), h.sizeOfHeaders, h.sections), nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fileLayout maps RVAs of an on-disk image to file offsets: the headers sit
// at their RVA, section bytes at PointerToRawData, and the part of a section
// past its raw data reads as zeros, as the loader maps it.
func fileLayout(r io.ReaderAt, sizeOfHeaders uint32, secs []image.Section) RVAReader {
	return func(rva uint32, p []byte) (int, error) {
		done := 0
		for done < len(p) {
			at := rva + uint32(done)
			var off int64
			var avail uint64
			zero := false
			switch {
			case at < sizeOfHeaders:
				off, avail = int64(at), uint64(sizeOfHeaders-at)
			default:
				found := false
				for _, s := range secs {
					if !s.Contains(at) {
						continue
					}
					found = true
					in := at - s.VirtualAddress
					left := uint64(s.VirtualAddress) + uint64(s.Size()) - uint64(at)
					if in < s.SizeOfRawData {
						off, avail = int64(s.PointerToRawData)+int64(in), min(uint64(s.SizeOfRawData-in), left)
					} else {
						zero, avail = true, left
					}
					break
				}
				if !found {
					return done, fmt.Errorf("RVA %#x lies in no section of the image file", at)
				}
			}
			n := int(min(avail, uint64(len(p)-done)))
			if zero {
				clear(p[done : done+n])
				done += n
				continue
			}
			k, err := r.ReadAt(p[done:done+n], off)
			done += k
			if k < n {
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return done, fmt.Errorf("RVA %#x (file offset %#x): %w", at, off+int64(k), err)
			}
		}
		return done, nil
	}
}

// peHeaders is what the walker needs from a PE header.
type peHeaders struct {
	machine       uint16
	is64          bool
	sizeOfImage   uint32
	sizeOfHeaders uint32
	exception     image.Dir // .pdata
	sections      []image.Section
}

// parsePE reads the headers through rd, which reads by RVA for a mapped
// image and by file offset for a file: the two agree inside the headers.
func parsePE(rd func(off uint32, p []byte) (int, error)) (*peHeaders, error) {
	le := binary.LittleEndian
	read := func(off uint32, n int, what string) ([]byte, error) {
		b := make([]byte, n)
		if k, err := rd(off, b); k < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("PE %s at %#x: %w", what, off, err)
		}
		return b, nil
	}
	dos, err := read(0, 64, "DOS header")
	if err != nil {
		return nil, err
	}
	if dos[0] != 'M' || dos[1] != 'Z' {
		return nil, errors.New("PE DOS header: no MZ signature")
	}
	nt := le.Uint32(dos[0x3c:])
	if nt > 1<<20 {
		return nil, fmt.Errorf("PE header offset %#x is implausible", nt)
	}
	fh, err := read(nt, 24, "NT headers")
	if err != nil {
		return nil, err
	}
	if string(fh[:4]) != "PE\x00\x00" {
		return nil, errors.New("PE header: no PE signature")
	}
	h := &peHeaders{machine: le.Uint16(fh[4:])}
	nsec := int(le.Uint16(fh[6:]))
	optSize := uint32(le.Uint16(fh[20:]))
	opt, err := read(nt+24, int(optSize), "optional header")
	if err != nil {
		return nil, err
	}
	if len(opt) < 64 {
		return nil, fmt.Errorf("PE optional header of %d bytes is too short", len(opt))
	}
	dirOff, countOff := 96, 92
	switch le.Uint16(opt) {
	case 0x10b:
	case 0x20b:
		h.is64 = true
		dirOff, countOff = 112, 108
	default:
		return nil, fmt.Errorf("PE optional header magic %#x not understood", le.Uint16(opt))
	}
	h.sizeOfImage, h.sizeOfHeaders = le.Uint32(opt[56:]), le.Uint32(opt[60:])
	if len(opt) >= countOff+4 {
		n := int(le.Uint32(opt[countOff:]))
		if n > 3 && len(opt) >= dirOff+4*8 {
			d := opt[dirOff+3*8:]
			h.exception = image.Dir{RVA: le.Uint32(d), Size: le.Uint32(d[4:])}
		}
	}
	if nsec > 96 {
		nsec = 96
	}
	if sec, err := read(nt+24+optSize, 40*nsec, "section table"); err == nil {
		for i := 0; i < nsec; i++ {
			b := sec[40*i:]
			name := b[:8]
			for j, c := range name {
				if c == 0 {
					name = name[:j]
					break
				}
			}
			h.sections = append(h.sections, image.Section{Name: string(name), VirtualSize: le.Uint32(b[8:]), VirtualAddress: le.Uint32(b[12:]),
				SizeOfRawData: le.Uint32(b[16:]), PointerToRawData: le.Uint32(b[20:]), Characteristics: le.Uint32(b[36:])})
		}
	}
	return h, nil
}

// module is what one walk learned about one module.
type module struct {
	base   uint64
	rd     func(rva uint32, p []byte) (int, error)
	hdr    *peHeaders
	hdrErr error
}

// moduleAt returns the module holding pc, or nil. Headers are parsed once
// per module and Walker.
func (s *walk) moduleAt(pc uint64) *module {
	base, rd, ok := s.w.source().Module(pc)
	if !ok || rd == nil {
		return nil
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.mods == nil {
		s.w.mods = map[uint64]*module{}
	}
	if m := s.w.mods[base]; m != nil {
		return m
	}
	m := &module{base: base, rd: rd}
	m.hdr, m.hdrErr = parsePE(rd)
	s.w.mods[base] = m
	return m
}

// source is the Walker's ModuleSource, the dump's own memory by default.
func (w *Walker) source() ModuleSource {
	if w.Modules != nil {
		return w.Modules
	}
	w.defOnce.Do(func() { w.defMods = DumpModules(w.File) })
	return w.defMods
}

// read reads exactly len(p) bytes at rva.
func (m *module) read(rva uint32, p []byte) error {
	n, err := m.rd(rva, p)
	if n < len(p) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("module %#x RVA %#x: %w", m.base, rva+uint32(n), err)
	}
	return nil
}

// executable reports whether pc may be code of m: in an executable section
// when the section table is known, anywhere in the module otherwise.
func (m *module) executable(pc uint64) bool {
	if m.hdr == nil || len(m.hdr.sections) == 0 {
		return true
	}
	rva := uint32(pc - m.base)
	for _, sec := range m.hdr.sections {
		if sec.Contains(rva) {
			return sec.Executable()
		}
	}
	return false
}
