package pdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors, matched with errors.Is, so a caller can tell "this is not
// a PDB we can use" from "this PDB is damaged".
var (
	ErrNotPDB      = errors.New("not a PDB file")
	ErrUnsupported = errors.New("unsupported PDB format")
	ErrMismatch    = errors.New("PDB does not match the image")
	ErrNoStream    = errors.New("stream not present")
)

// FormatError reports damaged or unsupported PDB content: which file, which
// MSF stream (or the container itself), where in it, and what is wrong.
type FormatError struct {
	File   string // name given to Open/NewFile
	Stream int    // MSF stream index; -1 for the container (superblock, directory)
	What   string // stream role, "DBI", "symbol records", "module 3 (main.obj)"
	Offset int64  // in the stream; in the directory or the file when Stream is -1
	Msg    string
	Err    error // sentinel (ErrUnsupported, ErrNotPDB, ...) or nil
}

func (e *FormatError) Error() string {
	var b bytes.Buffer
	b.WriteString("pdb ")
	b.WriteString(e.File)
	b.WriteString(": ")
	if e.Stream >= 0 {
		fmt.Fprintf(&b, "stream %d", e.Stream)
		if e.What != "" {
			fmt.Fprintf(&b, " (%s)", e.What)
		}
		fmt.Fprintf(&b, " at 0x%x: ", e.Offset)
	} else if e.What != "" { // the stream directory: offsets are within it
		fmt.Fprintf(&b, "%s at 0x%x: ", e.What, e.Offset)
	} else {
		fmt.Fprintf(&b, "at file offset 0x%x: ", e.Offset)
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FormatError) Unwrap() error { return e.Err }

// Magic strings at file offset 0 (llvm docs/PDB/MsfFile.md, microsoft-pdb
// msf.cpp, pdb-rs docs/pdb/msf.md and msfz.md).
var (
	magicMSF7  = []byte("Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00")
	magicPDB20 = []byte("Microsoft C/C++ program database 2.00\r\n\x1aJG")
	magicMSFZ  = []byte("Microsoft MSFZ Container\r\n\x1aALD")
)

const (
	superblockSize = 52 // fixed fields before BlockMapAddr[]
	nilStreamSize  = 0xFFFFFFFF
)

// streamEntry is one row of the MSF stream directory.
type streamEntry struct {
	size   int64    // -1 for a nil stream
	blocks []uint32 // ceil(size/blockSize) block numbers
	err    error    // set when the entry is unusable (bad block number, absurd size)
}

// sniff classifies the first bytes of a file; nil means MSF 7.00.
func (f *File) sniff(head []byte) error {
	switch {
	case bytes.HasPrefix(head, magicMSF7):
		return nil
	case bytes.HasPrefix(head, magicPDB20[:len(magicPDB20)-2]):
		return f.fileErr(0, ErrUnsupported, `PDB 2.0 ("JG", "Microsoft C/C++ program database 2.00") format is not supported; rebuild with a VC 7.0+ toolset or supply a PDB 7.0 (MSF 7.00) file`)
	case bytes.HasPrefix(head, magicMSFZ[:24]):
		return f.fileErr(0, ErrUnsupported, "MSFZ (compressed PDB, .pdz) format is not supported")
	case bytes.HasPrefix(head, []byte("BSJB")):
		return f.fileErr(0, ErrUnsupported, "portable PDB (.NET, \"BSJB\" metadata) is not supported")
	case bytes.HasPrefix(head, []byte("MSCF")):
		return f.fileErr(0, ErrNotPDB, "this is a CAB archive (a compressed .pd_ download); extract it first")
	case bytes.HasPrefix(head, []byte("Microsoft C/C++")):
		return f.fileErr(0, ErrUnsupported, fmt.Sprintf("unknown MSF header %q", trimMagic(head)))
	}
	t := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	if bytes.HasPrefix(t, []byte("<")) {
		return f.fileErr(0, ErrNotPDB, "not a PDB file: it looks like HTML or XML (a web page saved as a .pdb?)")
	}
	if bytes.HasPrefix(head, []byte("MZ")) {
		return f.fileErr(0, ErrNotPDB, "not a PDB file: it is a PE image (MZ header)")
	}
	return f.fileErr(0, ErrNotPDB, "not a PDB file: no \"Microsoft C/C++ MSF 7.00\" signature")
}

func trimMagic(b []byte) string {
	if i := bytes.IndexAny(b, "\r\n\x00\x1a"); i >= 0 {
		b = b[:i]
	}
	if len(b) > 48 {
		b = b[:48]
	}
	return string(b)
}

// readContainer parses the superblock and the stream directory.
func (f *File) readContainer() error {
	if f.size < 64 {
		head := make([]byte, f.size)
		if _, err := f.r.ReadAt(head, 0); err != nil && err != io.EOF {
			return f.fileErr(0, nil, "read: "+err.Error())
		}
		if f.size > 0 && bytes.HasPrefix(magicMSF7, head) {
			return f.fileErr(0, nil, fmt.Sprintf("file is %d bytes, too short for an MSF superblock (truncated)", f.size))
		}
		if err := f.sniff(head); err != nil {
			return err
		}
		return f.fileErr(0, nil, fmt.Sprintf("file is %d bytes, too short for an MSF superblock", f.size))
	}
	head := make([]byte, 64)
	if _, err := f.r.ReadAt(head, 0); err != nil && err != io.EOF {
		return f.fileErr(0, nil, "read: "+err.Error())
	}
	if err := f.sniff(head); err != nil {
		return err
	}
	le := binary.LittleEndian
	bs := le.Uint32(head[32:])
	f.numBlocks = le.Uint32(head[40:])
	dirBytes := le.Uint32(head[44:])
	if bs < 512 || bs > 1<<16 || bs&(bs-1) != 0 {
		return f.fileErr(32, nil, fmt.Sprintf("block size %d is not a power of two in 512..65536", bs))
	}
	f.blockSize = bs
	// Blocks past the end of the file cannot hold data; a truncated file
	// keeps whatever streams still lie inside it.
	fileBlocks := uint32((f.size + int64(bs) - 1) / int64(bs))
	if f.numBlocks == 0 {
		return f.fileErr(40, nil, "superblock says the file has 0 blocks")
	}
	if f.numBlocks > fileBlocks {
		f.warn(f.fileErr(40, nil, fmt.Sprintf("superblock says %d blocks of %d bytes but the file holds only %d (truncated?)", f.numBlocks, bs, fileBlocks)))
		f.numBlocks = fileBlocks
	}
	if dirBytes < 4 || int64(dirBytes) > f.size {
		return f.fileErr(44, nil, fmt.Sprintf("stream directory size %d is impossible for a %d-byte file", dirBytes, f.size))
	}
	dirBlocks := (dirBytes + bs - 1) / bs
	mapBlocks := (dirBlocks*4 + bs - 1) / bs
	if superblockSize+4*int64(mapBlocks) > int64(bs) {
		return f.fileErr(superblockSize, nil, fmt.Sprintf("stream directory needs %d block-map blocks, more than the superblock can list", mapBlocks))
	}
	// Level 1: the superblock lists the blocks holding the directory's block map.
	sb := make([]byte, superblockSize+4*mapBlocks)
	if _, err := f.r.ReadAt(sb, 0); err != nil {
		return f.fileErr(superblockSize, nil, "superblock truncated")
	}
	mapList := make([]uint32, 0, dirBlocks)
	for i := uint32(0); i < mapBlocks; i++ {
		blk := le.Uint32(sb[superblockSize+4*i:])
		if blk == 0 || blk >= f.numBlocks {
			return f.fileErr(int64(superblockSize+4*i), nil, fmt.Sprintf("directory block map block %d is outside the file (%d blocks)", blk, f.numBlocks))
		}
		n := bs / 4
		if rest := dirBlocks - uint32(len(mapList)); rest < n {
			n = rest
		}
		buf := make([]byte, 4*n)
		if _, err := f.r.ReadAt(buf, int64(blk)*int64(bs)); err != nil {
			return f.fileErr(int64(blk)*int64(bs), nil, "directory block map truncated")
		}
		for j := uint32(0); j < n; j++ {
			mapList = append(mapList, le.Uint32(buf[4*j:]))
		}
	}
	// Level 2: the directory itself.
	dir := make([]byte, dirBytes)
	for i, blk := range mapList {
		if blk == 0 || blk >= f.numBlocks {
			return f.fileErr(int64(superblockSize), nil, fmt.Sprintf("stream directory block %d (#%d) is outside the file", blk, i))
		}
		start := uint32(i) * bs
		end := min(start+bs, dirBytes)
		if _, err := f.r.ReadAt(dir[start:end], int64(blk)*int64(bs)); err != nil {
			return f.fileErr(int64(blk)*int64(bs), nil, "stream directory truncated")
		}
	}
	return f.parseDirectory(dir)
}

// parseDirectory decodes NumStreams, StreamSizes[] and the jagged block lists.
func (f *File) parseDirectory(dir []byte) error {
	le := binary.LittleEndian
	dirErr := func(off int, msg string) error {
		return &FormatError{File: f.name, Stream: -1, What: "stream directory", Offset: int64(off), Msg: msg}
	}
	n := le.Uint32(dir)
	if uint64(n) > uint64(len(dir)-4)/4 {
		return dirErr(0, fmt.Sprintf("%d streams do not fit in a %d-byte directory", n, len(dir)))
	}
	bs := int64(f.blockSize)
	words := (len(dir) - 4) / 4
	all := make([]uint32, words) // every u32 after NumStreams; block lists are sub-slices
	for i := range all {
		all[i] = le.Uint32(dir[4+4*i:])
	}
	sizes, rest := all[:n], all[n:]
	f.streams = make([]streamEntry, n)
	pos := 4 + 4*int(n) // byte offset of rest[0] in the directory
	var total uint64
	for i, sz := range sizes {
		e := &f.streams[i]
		if sz == nilStreamSize {
			e.size = -1
			continue
		}
		nb := (int64(sz) + bs - 1) / bs
		if nb > int64(len(rest)) {
			// The block lists of this and all later streams are lost.
			err := dirErr(pos, fmt.Sprintf("stream %d (%d bytes) needs %d blocks but the directory lists only %d more", i, sz, nb, len(rest)))
			if i <= 3 {
				return err
			}
			f.warn(err)
			for j := i; j < len(sizes); j++ {
				f.streams[j].size = -1
				f.streams[j].err = err
			}
			break
		}
		e.size = int64(sz)
		e.blocks = rest[:nb:nb]
		rest = rest[nb:]
		total += uint64(nb)
		if int64(sz) > f.size {
			e.err = f.streamErr(i, 0, fmt.Sprintf("stream size %d exceeds the file size %d", sz, f.size))
		}
		for j, b := range e.blocks {
			if b >= f.numBlocks {
				e.err = f.streamErr(i, int64(j)*bs, fmt.Sprintf("block %d is outside the file (%d blocks)", b, f.numBlocks))
				break
			}
		}
		pos += 4 * int(nb)
	}
	// A valid MSF uses each block once; cap the total so a crafted directory
	// cannot make readers pull far more bytes than the file holds.
	if total > 2*uint64(f.numBlocks)+16 {
		return dirErr(0, fmt.Sprintf("directory lists %d blocks for a file of %d blocks", total, f.numBlocks))
	}
	return nil
}

// Stream is a read-only view of one MSF stream. Reads go block by block to
// the underlying file, so a stream is never materialised unless asked to.
type Stream struct {
	f     *File
	index int
	size  int64
	blks  []uint32
}

// Index is the stream's number in the MSF directory.
func (s *Stream) Index() int { return s.index }

// Size is the stream's length in bytes.
func (s *Stream) Size() int64 { return s.size }

// ReadAt implements io.ReaderAt over the stream's blocks.
func (s *Stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, s.f.streamErr(s.index, off, "negative offset")
	}
	if off >= s.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := len(p)
	if int64(want) > s.size-off {
		p = p[:s.size-off]
	}
	bs := int64(s.f.blockSize)
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		bi := pos / bs
		in := pos % bs
		// Coalesce runs of consecutive blocks into one read.
		run := int64(1)
		for bi+run < int64(len(s.blks)) && s.blks[bi+run] == s.blks[bi]+uint32(run) && (run)*bs-in < int64(len(p)-n) {
			run++
		}
		chunk := min(run*bs-in, int64(len(p)-n))
		fileOff := int64(s.blks[bi])*bs + in
		m, err := s.f.r.ReadAt(p[n:n+int(chunk)], fileOff)
		n += m
		if m < int(chunk) {
			if err == nil || err == io.EOF {
				return n, s.f.streamErr(s.index, off+int64(n), fmt.Sprintf("block %d lies past the end of the file (truncated)", s.blks[bi]))
			}
			return n, s.f.streamErr(s.index, off+int64(n), "read: "+err.Error())
		}
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// Stream opens stream i. Nil and damaged streams give an error.
func (f *File) Stream(i int) (*Stream, error) {
	if i < 0 || i >= len(f.streams) {
		return nil, &FormatError{File: f.name, Stream: i, What: f.streamLabel(i), Msg: fmt.Sprintf("no such stream (the directory has %d)", len(f.streams)), Err: ErrNoStream}
	}
	e := &f.streams[i]
	if e.err != nil {
		return nil, e.err
	}
	if e.size < 0 {
		return nil, &FormatError{File: f.name, Stream: i, What: f.streamLabel(i), Msg: "nil stream", Err: ErrNoStream}
	}
	return &Stream{f: f, index: i, size: e.size, blks: e.blocks}, nil
}

// NumStreams is the number of entries in the MSF stream directory.
func (f *File) NumStreams() int { return len(f.streams) }

// BlockSize is the MSF block (page) size from the superblock.
func (f *File) BlockSize() int { return int(f.blockSize) }

// readStream materialises stream i; its size was checked against the file
// size when the directory was read.
func (f *File) readStream(i int) ([]byte, error) {
	s, err := f.Stream(i)
	if err != nil {
		return nil, err
	}
	b := make([]byte, s.size)
	if _, err := s.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// readStreamRange reads [off, off+n) of stream i, clipped to the stream.
func (f *File) readStreamRange(i int, off, n int64) ([]byte, error) {
	s, err := f.Stream(i)
	if err != nil {
		return nil, err
	}
	if off < 0 || n < 0 || off > s.size {
		return nil, f.streamErr(i, off, fmt.Sprintf("range 0x%x+0x%x outside the %d-byte stream", off, n, s.size))
	}
	if n > s.size-off {
		return nil, f.streamErr(i, off, fmt.Sprintf("range 0x%x+0x%x runs past the end of the %d-byte stream", off, n, s.size))
	}
	b := make([]byte, n)
	if _, err := s.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

func (f *File) fileErr(off int64, sentinel error, msg string) error {
	return &FormatError{File: f.name, Stream: -1, Offset: off, Msg: msg, Err: sentinel}
}

func (f *File) streamErr(i int, off int64, msg string) error {
	return &FormatError{File: f.name, Stream: i, What: f.streamLabel(i), Offset: off, Msg: msg}
}
