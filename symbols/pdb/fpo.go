package pdb

import "fmt"

// Frame data for the x86 stack walker. The DBI optional debug header names
// two streams (microsoft-pdb langapi/include/pdb.h DBGTYPE; pdb-symbols.md
// §1.8.6): slot 0, old FPO data — 16-byte FPO_DATA records; and slot 9, new
// FPO data — 32-byte FRAMEDATA records (possibly after a 4-byte relocation
// word) whose program strings are offsets into the /names string table.
// The unwind package decodes both (ParseFPO, ParseFrameData).

// FPO returns the raw old-FPO stream (DBI optional debug header slot 0).
// PDBs without one (every x64 PDB) give an error wrapping ErrNoStream.
func (f *File) FPO() ([]byte, error) { return f.debugStream(dbgFPO) }

// FrameData returns the raw new-FPO (FRAMEDATA) stream (DBI optional debug
// header slot 9). Resolve its program strings with StringAt.
func (f *File) FrameData() ([]byte, error) { return f.debugStream(dbgNewFPO) }

// debugStream reads the stream an optional debug header slot names.
func (f *File) debugStream(slot int) ([]byte, error) {
	if f.dbi == nil {
		return nil, &FormatError{File: f.name, Stream: 3, What: "DBI", Msg: "no DBI stream: " + dbgNames[slot] + " unknown", Err: ErrNoStream}
	}
	i := f.dbi.dbg[slot]
	if i < 0 {
		return nil, &FormatError{File: f.name, Stream: 3, What: "DBI", Msg: fmt.Sprintf("the optional debug header has no %s stream (slot %d)", dbgNames[slot], slot), Err: ErrNoStream}
	}
	return f.readStream(i)
}

// StringAt returns the NUL-terminated string at byte offset off of the
// /names string table (FRAMEDATA program strings, source file names). ok
// is false when the PDB has no table or off lies outside it.
func (f *File) StringAt(off uint32) (string, bool) {
	f.mu.Lock()
	t := f.stringsLocked()
	f.mu.Unlock()
	if off >= uint32(len(t.buf)) {
		return "", false
	}
	return t.at(off), true
}
