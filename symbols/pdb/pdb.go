// Package pdb reads Microsoft PDB 7.0 program databases (the "MSF 7.00"
// container) for a post-mortem debugger: the identity used to match a PDB
// to an image (GUID + DBI age), public and global symbols, module
// procedures with their sizes, and C13 line numbers.
//
// Opening reads only the container directory, the info stream, the DBI
// stream and the section headers. Publics load on the first query; module
// procedures and line tables load per module when a query needs them, so a
// 100 MB PDB answers its first lookup after reading little more than the
// symbol record stream.
//
// Names are kept exactly as stored: public names are decorated
// ("?Serialize@CMMFSerializer@@UEAAHPEAXH@Z", "_main"), private names are
// not. Undecorating is the caller's job.
//
// A File is safe for concurrent use.
package pdb

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// File is an open PDB.
type File struct {
	name   string
	r      io.ReaderAt
	size   int64
	closer io.Closer

	blockSize uint32
	numBlocks uint32
	streams   []streamEntry

	info  InfoHeader
	named []NamedStream
	dbi   *dbi
	addr  addrMap

	mu       sync.Mutex
	warnings []error

	// Lazily built state, guarded by mu.
	pubLoaded   bool
	pubErr      error
	tab         symTable  // publics, global data (+ module symbols after LoadProcs)
	procRefs    []procRef // S_PROCREF/S_LPROCREF, resolved on Lookup
	refIdx      map[string][]int32
	procsLoaded bool
	procsErr    error
	funcs       []Symbol // all sized functions/thunks, sorted, after LoadProcs

	contribsBuilt bool
	contribs      []contribRange
	contribMax    uint32

	mods          map[int]*moduleSyms // by module index
	modByStream   map[int]*moduleSyms
	modLines      map[int]*moduleLines
	linesByStream map[int]*moduleLines
	strtab        *stringTable
}

// Open opens a PDB file. The file stays open until Close.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := NewFile(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// NewFile reads a PDB of the given size from r; name is used in messages.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	f := &File{name: name, r: r, size: size}
	if err := f.readContainer(); err != nil {
		return nil, err
	}
	if len(f.streams) < 2 {
		return nil, f.fileErr(0, nil, "the stream directory has no PDB info stream")
	}
	if err := f.readInfo(); err != nil {
		return nil, err
	}
	if err := f.readDBI(); err != nil {
		// Identity still works without DBI; symbols will report the error.
		f.warn(err)
	}
	f.readSections()
	return f, nil
}

// Close closes the underlying file when the File came from Open.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Name is the name given to Open or NewFile.
func (f *File) Name() string { return f.name }

// Info returns the GUID from the PDB info stream and the age an image's
// CodeView (RSDS) record must carry to match this PDB (see MatchAge).
func (f *File) Info() (guid [16]byte, age uint32) {
	return f.info.GUID, f.MatchAge()
}

// MatchAge is the DBI header's age. Tools that post-process a PDB (pdbstr
// adding srcsrv) bump only the info-stream age, so images keep matching the
// DBI age; the info-stream age is used only when there is no DBI age
// (getsentry/pdb#44, llvm-project#57300).
func (f *File) MatchAge() uint32 {
	if f.dbi != nil && f.dbi.hdr.Age != 0 {
		return f.dbi.hdr.Age
	}
	return f.info.Age
}

// Matches checks the PDB against an image's RSDS GUID and age. It returns
// nil or an error (wrapping ErrMismatch) that says what differs.
func (f *File) Matches(guid [16]byte, age uint32) error {
	if f.info.Version < InfoVersionVC70Dep {
		return &FormatError{File: f.name, Stream: 1, What: "PDB info", Err: ErrMismatch,
			Msg: fmt.Sprintf("info stream version %d predates PDB 7.0 and has no GUID; it cannot match an RSDS record", f.info.Version)}
	}
	if !bytes.Equal(guid[:], f.info.GUID[:]) {
		return fmt.Errorf("pdb %s: %w: GUID differs: want %s, have %s", f.name, ErrMismatch, GUIDString(guid), GUIDString(f.info.GUID))
	}
	if have := f.MatchAge(); have != age {
		src := "DBI age"
		if f.dbi == nil || f.dbi.hdr.Age == 0 {
			src = "info stream age"
		}
		return fmt.Errorf("pdb %s: %w: age differs: want %d, have %d (%s; info stream age %d)", f.name, ErrMismatch, age, have, src, f.info.Age)
	}
	return nil
}

// GUIDString formats a GUID as Windows does: 3249D99D-0C40-4931-8610-F4E4FB0B6936.
func GUIDString(g [16]byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		uint32(g[0])|uint32(g[1])<<8|uint32(g[2])<<16|uint32(g[3])<<24,
		uint16(g[4])|uint16(g[5])<<8, uint16(g[6])|uint16(g[7])<<8,
		g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15])
}

// Warnings lists problems that did not stop the file from being used:
// damaged substreams, records skipped, modules that failed to load.
func (f *File) Warnings() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.warnings...)
}

// warn records a non-fatal problem. During NewFile no lock is needed;
// afterwards callers hold mu.
func (f *File) warn(err error) {
	if err == nil || len(f.warnings) >= 1000 {
		return
	}
	f.warnings = append(f.warnings, err)
}
