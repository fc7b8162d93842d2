// Package cab reads Microsoft Cabinet (CAB) archives: the compressed files
// that symbol servers serve (ntdll.pd_, foo.dl_) and cabinets holding a
// dump (windbg -z crash.cab). Stored, MSZIP and LZX folders are supported;
// Quantum folders and multi-cabinet sets are refused.
//
// Layout (MS-CAB): CFHEADER (36 bytes, "MSCF", optional reserve sizes and
// area), cFolders CFFOLDER records (first CFDATA offset, block count,
// compression), cFiles CFFILE records at coffFiles (size, offset in the
// folder's uncompressed stream, folder index, DOS date/time, attributes,
// NUL-terminated name), and per folder a chain of CFDATA blocks (checksum,
// compressed and uncompressed sizes, optional reserve, payload) that each
// expand to at most 32 KB.
package cab

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Errors that callers may test with errors.Is.
var (
	ErrNotCab       = errors.New("not a cabinet (no MSCF signature)")
	ErrChecksum     = errors.New("checksum mismatch")
	ErrMultiCabinet = errors.New("multi-cabinet sets are not supported")
	ErrUnsupported  = errors.New("compression method not supported")
	ErrFormat       = errors.New("malformed cabinet")
)

const (
	headerSize     = 36
	folderSize     = 8
	fileFixedSize  = 16
	dataHeaderSize = 8
	maxNameLen     = 256
	maxBlockOut    = 32768        // CFDATA.cbUncomp limit
	maxBlockIn     = 32768 + 6144 // CFDATA.cbData limit (libmspack's CAB_INPUTMAX)
	maxHeaderRes   = 60000        // CFHEADER.cbCFHeader limit

	flagPrev    = 0x0001
	flagNext    = 0x0002
	flagReserve = 0x0004

	// AttrNameIsUTF8 (_A_NAME_IS_UTF) marks a UTF-8 name; other names are
	// taken as ISO-8859-1.
	AttrNameIsUTF8 = 0x80
)

// Compression is a folder's compression method (CFFOLDER.typeCompress & 0xF).
type Compression uint8

// Compression methods.
const (
	None    Compression = 0
	MSZIP   Compression = 1
	Quantum Compression = 2
	LZX     Compression = 3
)

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case MSZIP:
		return "MSZIP"
	case Quantum:
		return "Quantum"
	case LZX:
		return "LZX"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// File is one CFFILE entry.
type File struct {
	Name   string
	Size   uint32
	Folder int       // index into Cabinet.Folders
	Offset uint32    // uncompressed offset in the folder
	Time   time.Time // DOS date/time (no zone; reported as UTC); zero if invalid
	Attrs  uint16    // FILE_ATTRIBUTE_* bits plus AttrNameIsUTF8 etc.
}

// Folder is one CFFOLDER entry.
type Folder struct {
	Compression Compression
	Level       int    // LZX window bits (15..21) or Quantum level; 0 otherwise
	Blocks      int    // number of CFDATA blocks
	Offset      uint32 // file offset of the first CFDATA block
}

// Cabinet is a parsed CAB archive. Its methods are safe for concurrent use.
type Cabinet struct {
	Files   []File
	Folders []Folder
	SetID   uint16
	Index   uint16 // iCabinet
	Reserve []byte // CFHEADER.abReserve

	r         io.ReaderAt
	size      int64
	dataRes   int // CFDATA reserve bytes
	mu        sync.Mutex
	index     []*folderIndex
	parked    []*parkedDecoder // per folder: a decoder left by a finished reader
	walkQuota int64            // CFDATA headers that may still be indexed
}

// parkedDecoder is a folder decoder whose reader reached its file's end:
// the next Open of a file at or after last's start continues from it, so
// extracting a folder's files in order decodes the folder once.
type parkedDecoder struct {
	dec       decoder
	pos       int64  // folder offset of the decoder's next piece
	last      []byte // the piece most recently decoded (still valid)
	lastStart int64
}

// blockInfo locates one CFDATA block.
type blockInfo struct {
	off      uint32 // file offset of the CFDATA header
	cbData   uint16
	cbUncomp uint16
}

// folderIndex is a folder's CFDATA chain, built on first use.
type folderIndex struct {
	blocks []blockInfo
	total  int64 // uncompressed bytes
	err    error
}

// formatError is a malformed-cabinet error: errors.Is(err, ErrFormat) holds.
type formatError struct{ err error }

func (e *formatError) Error() string   { return e.err.Error() }
func (e *formatError) Unwrap() []error { return []error{e.err, ErrFormat} }

func errorf(format string, args ...any) error {
	return &formatError{fmt.Errorf(format, args...)}
}

// IsCab reports whether b starts with the cabinet signature "MSCF".
func IsCab(b []byte) bool {
	return len(b) >= 4 && b[0] == 'M' && b[1] == 'S' && b[2] == 'C' && b[3] == 'F'
}

func readAt(r io.ReaderAt, size int64, off int64, n int, what string) ([]byte, error) {
	if off < 0 || n < 0 || off+int64(n) > size {
		return nil, errorf("cab: %s at %#x: %d bytes past the end of the file (%d bytes)", what, off, off+int64(n)-size, size)
	}
	b := make([]byte, n)
	if k, err := r.ReadAt(b, off); k < n {
		return nil, fmt.Errorf("cab: %s at %#x: %w", what, off, cmp.Or(err, io.ErrUnexpectedEOF))
	}
	return b, nil
}

// Open parses the cabinet's CFHEADER, CFFOLDERs and CFFILEs. size is the
// number of bytes readable from r; no offset past it is trusted.
func Open(r io.ReaderAt, size int64) (*Cabinet, error) {
	if size < headerSize {
		if size >= 4 {
			var sig [4]byte
			if _, err := r.ReadAt(sig[:], 0); err == nil && !IsCab(sig[:]) {
				return nil, fmt.Errorf("cab: %w", ErrNotCab)
			}
		}
		return nil, errorf("cab: CFHEADER: file is %d bytes, shorter than the %d-byte header", size, headerSize)
	}
	h, err := readAt(r, size, 0, headerSize, "CFHEADER")
	if err != nil {
		return nil, err
	}
	if !IsCab(h) {
		return nil, fmt.Errorf("cab: %w", ErrNotCab)
	}
	le := binary.LittleEndian
	coffFiles := le.Uint32(h[16:])
	minor, major := h[24], h[25]
	nFolders := int(le.Uint16(h[26:]))
	nFiles := int(le.Uint16(h[28:]))
	flags := le.Uint16(h[30:])
	c := &Cabinet{
		r:     r,
		size:  size,
		SetID: le.Uint16(h[32:]),
		Index: le.Uint16(h[34:]),
	}
	if major != 1 {
		return nil, errorf("cab: CFHEADER: format version %d.%d, want 1.x", major, minor)
	}
	if flags&(flagPrev|flagNext) != 0 {
		return nil, fmt.Errorf("cab: CFHEADER: flags %#x: cabinet %d of set %#x continues in another cabinet: %w", flags, c.Index, c.SetID, ErrMultiCabinet)
	}
	off := int64(headerSize)
	folderRes := 0
	if flags&flagReserve != 0 {
		rs, err := readAt(r, size, off, 4, "CFHEADER reserve sizes")
		if err != nil {
			return nil, err
		}
		headerRes := int(le.Uint16(rs))
		folderRes = int(rs[2])
		c.dataRes = int(rs[3])
		off += 4
		if headerRes > maxHeaderRes {
			return nil, errorf("cab: CFHEADER: cbCFHeader %d exceeds %d", headerRes, maxHeaderRes)
		}
		if c.Reserve, err = readAt(r, size, off, headerRes, "CFHEADER reserve"); err != nil {
			return nil, err
		}
		off += int64(headerRes)
	}

	// CFFOLDERs
	rec := folderSize + folderRes
	fb, err := readAt(r, size, off, nFolders*rec, fmt.Sprintf("%d CFFOLDER records", nFolders))
	if err != nil {
		return nil, err
	}
	c.Folders = make([]Folder, nFolders)
	for i := range c.Folders {
		b := fb[i*rec:]
		tc := le.Uint16(b[6:])
		fo := Folder{
			Offset:      le.Uint32(b),
			Blocks:      int(le.Uint16(b[4:])),
			Compression: Compression(tc & 0xF),
		}
		if fo.Compression == LZX || fo.Compression == Quantum {
			fo.Level = int(tc>>8) & 0x1F
		}
		c.Folders[i] = fo
	}
	c.index = make([]*folderIndex, nFolders)
	c.parked = make([]*parkedDecoder, nFolders)
	c.walkQuota = size/dataHeaderSize + 1

	// CFFILEs
	if int64(coffFiles) > size {
		return nil, errorf("cab: CFHEADER: coffFiles %#x past the end of the file (%d bytes)", coffFiles, size)
	}
	span := min(size-int64(coffFiles), int64(nFiles)*(fileFixedSize+maxNameLen+1))
	fl, err := readAt(r, size, int64(coffFiles), int(span), "CFFILE records")
	if err != nil {
		return nil, err
	}
	c.Files = make([]File, 0, nFiles)
	p := 0
	for i := range nFiles {
		at := int64(coffFiles) + int64(p)
		if len(fl)-p < fileFixedSize+1 {
			return nil, errorf("cab: CFFILE %d at %#x: past the end of the file", i, at)
		}
		b := fl[p:]
		f := File{
			Size:   le.Uint32(b),
			Offset: le.Uint32(b[4:]),
			Folder: int(le.Uint16(b[8:])),
			Time:   dosTime(le.Uint16(b[10:]), le.Uint16(b[12:])),
			Attrs:  le.Uint16(b[14:]),
		}
		name := b[fileFixedSize:min(len(b), fileFixedSize+maxNameLen+1)]
		n := 0
		for n < len(name) && name[n] != 0 {
			n++
		}
		if n == len(name) {
			return nil, errorf("cab: CFFILE %d at %#x: name not NUL-terminated within %d bytes", i, at, maxNameLen+1)
		}
		f.Name = decodeName(name[:n], f.Attrs&AttrNameIsUTF8 != 0)
		if f.Folder >= 0xFFFD {
			return nil, fmt.Errorf("cab: CFFILE %d (%q) at %#x: iFolder %#x continues from or into another cabinet: %w", i, f.Name, at, f.Folder, ErrMultiCabinet)
		}
		if f.Folder >= nFolders {
			return nil, errorf("cab: CFFILE %d (%q) at %#x: folder %d out of range (%d folders)", i, f.Name, at, f.Folder, nFolders)
		}
		c.Files = append(c.Files, f)
		p += fileFixedSize + n + 1
	}
	return c, nil
}

// dosTime converts a DOS date and time; invalid fields give the zero Time.
func dosTime(d, t uint16) time.Time {
	year, month, day := 1980+int(d>>9), int(d>>5&0xF), int(d&0x1F)
	hour, minute, sec := int(t>>11), int(t>>5&0x3F), int(t&0x1F)*2
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
}

// decodeName returns a CFFILE name: UTF-8 when flagged (invalid sequences
// kept as they are), otherwise ISO-8859-1.
func decodeName(b []byte, isUTF8 bool) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii || isUTF8 {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// folderIndexFor walks (once) the CFDATA chain of folder fi, checking each
// block header against the file size and the CAB block limits.
func (c *Cabinet) folderIndexFor(fi int) (*folderIndex, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ix := c.index[fi]; ix != nil {
		return ix, ix.err
	}
	ix := &folderIndex{}
	c.index[fi] = ix
	fo := c.Folders[fi]
	if int64(fo.Blocks) > c.walkQuota {
		ix.err = errorf("cab: folder %d: %d CFDATA blocks cannot fit in the file (folders overlap)", fi, fo.Blocks)
		return ix, ix.err
	}
	c.walkQuota -= int64(fo.Blocks)
	ix.blocks = make([]blockInfo, 0, fo.Blocks)
	off := int64(fo.Offset)
	hdrLen := dataHeaderSize + c.dataRes
	for i := range fo.Blocks {
		h, err := readAt(c.r, c.size, off, dataHeaderSize, fmt.Sprintf("CFDATA block %d of folder %d", i, fi))
		if err != nil {
			ix.err = err
			return ix, err
		}
		bi := blockInfo{off: uint32(off), cbData: binary.LittleEndian.Uint16(h[4:]), cbUncomp: binary.LittleEndian.Uint16(h[6:])}
		where := fmt.Sprintf("cab: CFDATA block %d of folder %d at %#x", i, fi, off)
		switch {
		case bi.cbUncomp == 0:
			ix.err = fmt.Errorf("%s: cbUncomp is 0 (a block continued in another cabinet): %w", where, ErrMultiCabinet)
		case bi.cbUncomp > maxBlockOut:
			ix.err = errorf("%s: cbUncomp %d exceeds %d", where, bi.cbUncomp, maxBlockOut)
		case bi.cbData > maxBlockIn:
			ix.err = errorf("%s: cbData %d exceeds %d", where, bi.cbData, maxBlockIn)
		case fo.Compression == None && bi.cbData != bi.cbUncomp:
			ix.err = errorf("%s: stored block has cbData %d != cbUncomp %d", where, bi.cbData, bi.cbUncomp)
		case off+int64(hdrLen)+int64(bi.cbData) > c.size:
			ix.err = errorf("%s: %d-byte block runs past the end of the file (%d bytes)", where, hdrLen+int(bi.cbData), c.size)
		}
		if ix.err != nil {
			return ix, ix.err
		}
		ix.blocks = append(ix.blocks, bi)
		ix.total += int64(bi.cbUncomp)
		off += int64(hdrLen) + int64(bi.cbData)
	}
	return ix, nil
}

// blockSource yields a folder's CFDATA payloads in order, checksummed.
type blockSource struct {
	c      *Cabinet
	folder int
	ix     *folderIndex
	next   int // next block to read
	buf    []byte
}

// where names the block most recently read (or the first one).
func (s *blockSource) where() string {
	i := max(s.next-1, 0)
	if i >= len(s.ix.blocks) {
		return fmt.Sprintf("cab: folder %d", s.folder)
	}
	return fmt.Sprintf("cab: CFDATA block %d of folder %d at %#x", i, s.folder, s.ix.blocks[i].off)
}

// nextBlock reads the next CFDATA payload (valid until the next call) and
// its uncompressed size; io.EOF after the last block.
func (s *blockSource) nextBlock() ([]byte, int, error) {
	if s.next >= len(s.ix.blocks) {
		return nil, 0, io.EOF
	}
	bi := s.ix.blocks[s.next]
	s.next++
	hdrLen := dataHeaderSize + s.c.dataRes
	n := hdrLen + int(bi.cbData)
	if cap(s.buf) < n {
		s.buf = make([]byte, n, hdrLen+maxBlockIn)
	}
	b := s.buf[:n]
	if k, err := s.c.r.ReadAt(b, int64(bi.off)); k < n {
		return nil, 0, fmt.Errorf("%s: %w", s.where(), cmp.Or(err, io.ErrUnexpectedEOF))
	}
	payload := b[hdrLen:]
	if sum := binary.LittleEndian.Uint32(b); sum != 0 {
		if got := dataChecksum(payload, bi.cbData, bi.cbUncomp); got != sum {
			return nil, 0, fmt.Errorf("%s: %w (stored %#010x, computed %#010x)", s.where(), ErrChecksum, sum, got)
		}
	}
	return payload, int(bi.cbUncomp), nil
}

// decoder produces a folder's uncompressed stream piece by piece; a piece
// is valid until the next call. io.EOF follows the last piece.
type decoder interface {
	next() ([]byte, error)
}

type storedDecoder struct{ src *blockSource }

func (d storedDecoder) next() ([]byte, error) {
	p, _, err := d.src.nextBlock()
	return p, err
}

// fileReader streams one file out of its folder's decoder.
type fileReader struct {
	c          *Cabinet
	folder     int
	dec        decoder
	pos        int64 // folder offset of the next piece
	start, end int64 // the file's range in the folder
	chunk      []byte
	last       []byte // the latest piece and its folder offset
	lastStart  int64
	err        error
	name       string
}

// park hands the decoder back to the cabinet once the file is complete.
func (r *fileReader) park() {
	if r.dec == nil || r.c == nil {
		return
	}
	r.c.mu.Lock()
	r.c.parked[r.folder] = &parkedDecoder{dec: r.dec, pos: r.pos, last: r.last, lastStart: r.lastStart}
	r.c.mu.Unlock()
	r.dec = nil
}

// unpark takes the folder's parked decoder if it has not yet passed start.
func (c *Cabinet) unpark(folder int, start int64) *parkedDecoder {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parked[folder]
	if p == nil || start < p.lastStart {
		return nil
	}
	c.parked[folder] = nil
	return p
}

// Open returns a reader of f's uncompressed bytes. Compressed folders
// decode from their start, so opening a file costs time in proportion to
// its offset, except that a file at or after the end of one just read to
// completion continues that reader's decoding (extracting in CFFILE order
// decodes each folder once). Stored folders seek directly.
func (c *Cabinet) Open(f *File) (io.Reader, error) {
	if f.Folder < 0 || f.Folder >= len(c.Folders) {
		return nil, errorf("cab: file %q: folder %d out of range (%d folders)", f.Name, f.Folder, len(c.Folders))
	}
	fr := &fileReader{c: c, folder: f.Folder, start: int64(f.Offset), end: int64(f.Offset) + int64(f.Size), name: f.Name}
	if f.Size == 0 {
		fr.pos = fr.end
		return fr, nil
	}
	fo := c.Folders[f.Folder]
	if fo.Compression == Quantum {
		return nil, fmt.Errorf("cab: file %q: folder %d: Quantum: %w", f.Name, f.Folder, ErrUnsupported)
	}
	if fo.Compression != None && fo.Compression != MSZIP && fo.Compression != LZX {
		return nil, fmt.Errorf("cab: file %q: folder %d: %v: %w", f.Name, f.Folder, fo.Compression, ErrUnsupported)
	}
	ix, err := c.folderIndexFor(f.Folder)
	if err != nil {
		return nil, err
	}
	if fr.end > ix.total {
		return nil, errorf("cab: file %q: bytes %d..%d lie past the end of folder %d (%d bytes)", f.Name, fr.start, fr.end, f.Folder, ix.total)
	}
	if p := c.unpark(f.Folder, fr.start); p != nil {
		fr.dec, fr.pos, fr.last, fr.lastStart = p.dec, p.pos, p.last, p.lastStart
		if lo, hi := fr.start-p.lastStart, min(fr.end-p.lastStart, int64(len(p.last))); lo < hi {
			fr.chunk = p.last[lo:hi]
		}
		return fr, nil
	}
	src := &blockSource{c: c, folder: f.Folder, ix: ix}
	switch fo.Compression {
	case None:
		for src.next < len(ix.blocks) && fr.pos+int64(ix.blocks[src.next].cbUncomp) <= fr.start {
			fr.pos += int64(ix.blocks[src.next].cbUncomp)
			src.next++
		}
		fr.dec = storedDecoder{src}
	case MSZIP:
		fr.dec = newMSZIPDecoder(src)
	case LZX:
		d, err := newLZXDecoder(src, fo.Level, ix.total)
		if err != nil {
			return nil, errorf("cab: folder %d: %w", f.Folder, err)
		}
		fr.dec = d
	}
	return fr, nil
}

// fill makes r.chunk non-empty unless the file is complete or failed.
func (r *fileReader) fill() error {
	for len(r.chunk) == 0 {
		if r.pos >= r.end {
			r.park()
			return io.EOF
		}
		if r.err != nil {
			return r.err
		}
		p, err := r.dec.next()
		if err == io.EOF {
			err = errorf("cab: file %q: folder ends at %d, before the file's end at %d", r.name, r.pos, r.end)
		}
		if err != nil {
			r.err = err
			return err
		}
		r.last, r.lastStart = p, r.pos
		lo := max(r.start-r.pos, 0)
		hi := min(r.end-r.pos, int64(len(p)))
		r.pos += int64(len(p))
		if lo < hi {
			r.chunk = p[lo:hi]
		}
	}
	return nil
}

func (r *fileReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := r.fill(); err != nil {
		return 0, err
	}
	n := copy(p, r.chunk)
	r.chunk = r.chunk[n:]
	return n, nil
}

// WriteTo writes the rest of the file to w without an intermediate buffer.
func (r *fileReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := r.fill(); err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		n, err := w.Write(r.chunk)
		total += int64(n)
		if err == nil && n < len(r.chunk) {
			err = io.ErrShortWrite
		}
		r.chunk = r.chunk[n:]
		if err != nil {
			return total, err
		}
	}
}

// Extract writes f's uncompressed bytes to w.
func (c *Cabinet) Extract(f *File, w io.Writer) error {
	r, err := c.Open(f)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, r)
	if err == nil && n != int64(f.Size) {
		err = errorf("cab: file %q: extracted %d of %d bytes", f.Name, n, f.Size)
	}
	return err
}
