package pdb

import (
	"encoding/binary"
	"fmt"
	"path"
	"strings"
)

// DBIHeader is the 64-byte header of the DBI stream (stream 3), per llvm
// docs/PDB/DbiStream.md. Stream numbers are -1 when absent (0xFFFF).
type DBIHeader struct {
	VersionHeader   uint32
	Age             uint32 // the age a PE's CodeView record must match
	GlobalStream    int
	PublicStream    int
	SymRecordStream int
	BuildNumber     uint16
	PdbDllVersion   uint16
	PdbDllRbld      uint16
	Flags           uint16 // 1 incrementally linked, 2 private symbols stripped, 4 conflicting types
	Machine         uint16 // 0x14C x86, 0x8664 x64, 0xAA64 ARM64
}

// Module is one compiland from the DBI module info substream.
type Module struct {
	Index        int
	Name         string // object path, "Import:KERNEL32.dll", "* Linker *"
	ObjName      string // archive (lib) path for library members, else the object again
	Stream       int    // module symbol stream, -1 when stripped
	SymByteSize  uint32 // symbols incl. the 4-byte signature
	C11ByteSize  uint32
	C13ByteSize  uint32
	NumFiles     int
	Contribution SectionContrib // first contribution, as stored in the module record
}

// SectionContrib is one section contribution: a range of a section that one
// module's object supplied.
type SectionContrib struct {
	Section         uint16
	Offset          uint32
	Size            uint32
	Characteristics uint32
	Module          int
	DataCRC         uint32
	RelocCRC        uint32
}

// SectionMapEntry is one row of the DBI section map (the logical segments).
type SectionMapEntry struct {
	Flags, Ovl, Group, Frame, SecName, ClassName uint16
	Offset, Length                               uint32
}

// Optional debug header slots (microsoft-pdb langapi/include/pdb.h DBGTYPE).
const (
	dbgFPO = iota
	dbgException
	dbgFixup
	dbgOmapToSrc
	dbgOmapFromSrc
	dbgSectionHdr
	dbgTokenRidMap
	dbgXdata
	dbgPdata
	dbgNewFPO
	dbgSectionHdrOrig
	dbgCount
)

var dbgNames = [dbgCount]string{"FPO data", "exception data", "fixup data", "OMAP to source", "OMAP from source",
	"section headers", "token/RID map", "xdata", "pdata", "new FPO data", "original section headers"}

const (
	scVer60 = 0xEFFE0000 + 19970605
	scV2    = 0xEFFE0000 + 20140516
)

// dbi holds the parsed DBI stream; the file info substream is kept raw and
// decoded on demand.
type dbi struct {
	hdr      DBIHeader
	modules  []Module
	contribs []SectionContrib
	secMap   []SectionMapEntry
	fileInfo []byte
	fileBase int64 // stream offset of fileInfo
	dbg      [dbgCount]int
}

func streamOrNone(v uint16) int {
	if v == 0xFFFF {
		return -1
	}
	return int(v)
}

// readDBI parses stream 3. A missing DBI is not an error (the PDB then has
// no symbols); damage inside a substream keeps what came before it.
func (f *File) readDBI() error {
	if len(f.streams) <= 3 || f.streams[3].size <= 0 {
		return nil
	}
	b, err := f.readStream(3)
	if err != nil {
		return err
	}
	c := &reader{f: f, stream: 3, b: b}
	if len(b) < 64 {
		return c.failAt(0, fmt.Sprintf("DBI header truncated (%d of 64 bytes)", len(b)))
	}
	le := binary.LittleEndian
	if int32(le.Uint32(b)) != -1 {
		return &FormatError{File: f.name, Stream: 3, What: "DBI", Msg: "old-format DBI (VC 4.x or earlier) is not supported", Err: ErrUnsupported}
	}
	d := &dbi{}
	for i := range d.dbg {
		d.dbg[i] = -1
	}
	h := &d.hdr
	h.VersionHeader = le.Uint32(b[4:])
	h.Age = le.Uint32(b[8:])
	h.GlobalStream = streamOrNone(le.Uint16(b[12:]))
	h.BuildNumber = le.Uint16(b[14:])
	h.PublicStream = streamOrNone(le.Uint16(b[16:]))
	h.PdbDllVersion = le.Uint16(b[18:])
	h.SymRecordStream = streamOrNone(le.Uint16(b[20:]))
	h.PdbDllRbld = le.Uint16(b[22:])
	h.Flags = le.Uint16(b[56:])
	h.Machine = le.Uint16(b[58:])
	f.dbi = d

	// Substreams follow in this order; the EC and optional debug header sizes
	// are stored in the opposite order (pdb-rs docs/pdb/dbi_stream.md).
	type sub struct {
		name  string
		field int
	}
	subs := []sub{{"module info", 24}, {"section contribution", 28}, {"section map", 32}, {"file info", 36},
		{"type server map", 40}, {"EC", 52}, {"optional debug header", 48}}
	var parts [7][]byte
	var bases [7]int64
	off := int64(64)
	for i, s := range subs {
		n := int32(le.Uint32(b[s.field:]))
		if n < 0 || int64(n) > int64(len(b))-off {
			f.warn(c.failAt(s.field, fmt.Sprintf("%s substream size %d runs past the end of the %d-byte stream (at 0x%x)", s.name, n, len(b), off)))
			break
		}
		parts[i], bases[i] = b[off:off+int64(n)], off
		off += int64(n)
	}
	f.parseModules(parts[0], bases[0])
	f.parseContribs(parts[1], bases[1])
	f.parseSectionMap(parts[2], bases[2])
	d.fileInfo, d.fileBase = parts[3], bases[3]
	for i := 0; i+1 < len(parts[6]) && i/2 < dbgCount; i += 2 {
		d.dbg[i/2] = streamOrNone(le.Uint16(parts[6][i:]))
	}
	return nil
}

func (f *File) parseModules(b []byte, base int64) {
	c := &reader{f: f, stream: 3, b: b, base: base}
	for c.off < len(b) {
		start := c.off
		if len(b)-c.off < 64 {
			f.warn(c.fail(fmt.Sprintf("module info substream truncated in module %d (%d bytes left, record needs 64)", len(f.dbi.modules), len(b)-c.off)))
			return
		}
		m := Module{Index: len(f.dbi.modules)}
		c.u32() // Unused1
		m.Contribution = readContrib(c, false)
		c.u16() // flags
		m.Stream = streamOrNone(c.u16())
		m.SymByteSize = c.u32()
		m.C11ByteSize = c.u32()
		m.C13ByteSize = c.u32()
		m.NumFiles = int(c.u16())
		c.u16()
		c.u32() // Unused2
		c.u32() // SourceFileNameIndex
		c.u32() // PdbFilePathNameIndex
		var ok1, ok2 bool
		m.Name, ok1 = c.cstr()
		m.ObjName, ok2 = c.cstr()
		if !ok1 || !ok2 {
			f.warn(c.failAt(start, fmt.Sprintf("module info substream truncated: module %d has no terminated name", m.Index)))
			return
		}
		c.off = min((c.off+3)&^3, len(b))
		f.dbi.modules = append(f.dbi.modules, m)
	}
}

// cstr reads a NUL-terminated string; false if the NUL is missing.
func (c *reader) cstr() (string, bool) {
	for i := c.off; i < len(c.b); i++ {
		if c.b[i] == 0 {
			s := string(c.b[c.off:i])
			c.off = i + 1
			return s, true
		}
	}
	return "", false
}

func readContrib(c *reader, v2 bool) SectionContrib {
	var s SectionContrib
	s.Section = c.u16()
	c.u16()
	s.Offset = c.u32()
	s.Size = c.u32()
	s.Characteristics = c.u32()
	s.Module = int(c.u16())
	c.u16()
	s.DataCRC = c.u32()
	s.RelocCRC = c.u32()
	if v2 {
		c.u32() // ISectCoff
	}
	return s
}

func (f *File) parseContribs(b []byte, base int64) {
	if len(b) == 0 {
		return
	}
	c := &reader{f: f, stream: 3, b: b, base: base}
	ver := c.u32()
	var size int
	switch ver {
	case scVer60:
		size = 28
	case scV2:
		size = 32
	default:
		f.warn(c.failAt(0, fmt.Sprintf("section contribution substream version 0x%x is not supported", ver)))
		return
	}
	n := (len(b) - 4) / size
	f.dbi.contribs = make([]SectionContrib, 0, n)
	for i := 0; i < n; i++ {
		f.dbi.contribs = append(f.dbi.contribs, readContrib(c, size == 32))
	}
}

func (f *File) parseSectionMap(b []byte, base int64) {
	if len(b) == 0 {
		return
	}
	c := &reader{f: f, stream: 3, b: b, base: base}
	count := int(c.u16())
	c.u16() // LogCount
	if count*20 > len(b)-4 {
		f.warn(c.failAt(0, fmt.Sprintf("section map: %d entries do not fit in %d bytes", count, len(b))))
		count = (len(b) - 4) / 20
	}
	for i := 0; i < count; i++ {
		var e SectionMapEntry
		e.Flags, e.Ovl, e.Group, e.Frame, e.SecName, e.ClassName = c.u16(), c.u16(), c.u16(), c.u16(), c.u16(), c.u16()
		e.Offset, e.Length = c.u32(), c.u32()
		f.dbi.secMap = append(f.dbi.secMap, e)
	}
}

// DBI returns the DBI header; false when the PDB has no DBI stream.
func (f *File) DBI() (DBIHeader, bool) {
	if f.dbi == nil {
		return DBIHeader{}, false
	}
	return f.dbi.hdr, true
}

// Modules lists the compilands in DBI order (index = S_PROCREF module - 1).
func (f *File) Modules() []Module {
	if f.dbi == nil {
		return nil
	}
	return append([]Module(nil), f.dbi.modules...)
}

// SectionContributions lists the section contributions, when present.
func (f *File) SectionContributions() []SectionContrib {
	if f.dbi == nil {
		return nil
	}
	return append([]SectionContrib(nil), f.dbi.contribs...)
}

// SectionMap lists the DBI section map entries.
func (f *File) SectionMap() []SectionMapEntry {
	if f.dbi == nil {
		return nil
	}
	return append([]SectionMapEntry(nil), f.dbi.secMap...)
}

// ModuleFiles returns the source files of module i from the DBI file info
// substream (the headers and sources the compiland was built from).
func (f *File) ModuleFiles(i int) ([]string, error) {
	if f.dbi == nil || i < 0 || i >= len(f.dbi.modules) {
		return nil, fmt.Errorf("pdb %s: no module %d", f.name, i)
	}
	b := f.dbi.fileInfo
	if len(b) == 0 {
		return nil, nil
	}
	c := &reader{f: f, stream: 3, b: b, base: f.dbi.fileBase}
	nm := int(c.u16())
	c.u16() // NumSourceFiles: wraps past 65535, so the per-module counts are used
	if c.err != nil || nm*4 > len(b)-c.off {
		return nil, c.failAt(0, fmt.Sprintf("file info substream: %d modules do not fit in %d bytes", nm, len(b)))
	}
	if i >= nm {
		return nil, nil
	}
	// ModIndices are unreliable (u16); the running sum of counts is used.
	idx := c.off
	counts := idx + 2*nm
	first := 0
	for j := 0; j < i; j++ {
		first += int(binary.LittleEndian.Uint16(b[counts+2*j:]))
	}
	total := first
	for j := i; j < nm; j++ {
		total += int(binary.LittleEndian.Uint16(b[counts+2*j:]))
	}
	n := int(binary.LittleEndian.Uint16(b[counts+2*i:]))
	offs := counts + 2*nm
	names := offs + 4*total
	if names > len(b) {
		return nil, c.failAt(offs, fmt.Sprintf("file info substream: %d file name offsets run past the end", total))
	}
	out := make([]string, 0, n)
	for j := first; j < first+n; j++ {
		o := int(binary.LittleEndian.Uint32(b[offs+4*j:]))
		if o >= len(b)-names {
			return out, c.failAt(offs+4*j, fmt.Sprintf("file info substream: name offset %d outside the name buffer", o))
		}
		out = append(out, cstring(b[names+o:]))
	}
	return out, nil
}

// streamLabel names a stream's role for error messages.
func (f *File) streamLabel(i int) string {
	switch i {
	case 0:
		return "old directory"
	case 1:
		return "PDB info"
	case 2:
		return "TPI"
	case 3:
		return "DBI"
	case 4:
		return "IPI"
	}
	if d := f.dbi; d != nil {
		switch i {
		case d.hdr.SymRecordStream:
			return "symbol records"
		case d.hdr.PublicStream:
			return "publics"
		case d.hdr.GlobalStream:
			return "globals"
		}
		for k, s := range d.dbg {
			if s == i {
				return dbgNames[k]
			}
		}
		for _, m := range d.modules {
			if m.Stream == i {
				return fmt.Sprintf("module %d %s", m.Index, baseName(m.Name))
			}
		}
	}
	for _, n := range f.named {
		if n.Stream == i {
			return n.Name
		}
	}
	return ""
}

func baseName(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	return path.Base(p)
}
