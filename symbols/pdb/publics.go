package pdb

import "fmt"

// procRef is an S_PROCREF/S_LPROCREF from the symbol record stream: the
// private (undecorated) name of a procedure and where its record lives.
type procRef struct {
	name   string
	module int    // 0-based
	off    uint32 // offset of the S_*PROC32 record in the module stream
}

// LoadPublics walks the symbol record stream once and builds the address
// index from S_PUB32 and S_GDATA32/S_LDATA32 records. Queries call it
// implicitly; calling it directly surfaces the error. Damage part way
// through keeps the symbols read before it.
func (f *File) LoadPublics() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loadPublicsLocked()
}

func (f *File) loadPublicsLocked() error {
	if f.pubLoaded {
		return f.pubErr
	}
	f.pubLoaded = true
	f.pubErr = f.readPublics()
	if f.pubErr != nil {
		f.warn(f.pubErr)
	}
	return f.pubErr
}

// The symbol record stream is deliberately walked instead of the PSI/GSI
// hash tables: one linear pass gives every record (pdb-symbols.md §1.10).
func (f *File) readPublics() error {
	if f.dbi == nil {
		return &FormatError{File: f.name, Stream: 3, What: "DBI", Msg: "no DBI stream: the PDB has no symbols", Err: ErrNoStream}
	}
	si := f.dbi.hdr.SymRecordStream
	if si < 0 {
		return &FormatError{File: f.name, Stream: 3, What: "DBI", Offset: 20, Msg: "the DBI header names no symbol record stream", Err: ErrNoStream}
	}
	if f.addr.sections == nil {
		return &FormatError{File: f.name, Stream: 3, What: "DBI", Msg: "no section headers: symbol addresses cannot be converted to RVAs", Err: ErrNoStream}
	}
	b, err := f.readStream(si)
	if err != nil {
		return err
	}
	// Held as a string, so that the index's names are substrings of it:
	// no allocation per symbol. b is dropped so its copy can be collected.
	s := string(b)
	b = nil
	ents := make([]symEnt, 0, len(s)/40)
	hashes := make([]uint32, 0, len(s)/40)
	var firstErr error
	bad := 0
	for off := 0; off < len(s); {
		r, next, msg := nextRecord(s, off)
		if msg != "" {
			firstErr = f.streamErr(si, int64(off), msg)
			break
		}
		off = next
		switch r.kind {
		case sPub32, sPub32ST:
			p, ok := parsePub(r)
			if !ok {
				bad++
				continue
			}
			if rva, ok := f.addr.segOffToRVA(p.seg, p.off); ok {
				ents = append(ents, symEnt{off: uint32(nameOffset(r, 10)), n: uint32(len(p.name)), rva: rva, mod: -1, kind: Public, flags: uint8(p.flags)})
				hashes = append(hashes, nameHash(p.name))
			}
		case sGData32, sLData32, sGData32ST, sLData32ST:
			d, ok := parseData(r)
			if !ok {
				bad++
				continue
			}
			if rva, ok := f.addr.segOffToRVA(d.seg, d.off); ok {
				ents = append(ents, symEnt{off: uint32(nameOffset(r, 10)), n: uint32(len(d.name)), rva: rva, mod: -1, kind: Data})
				hashes = append(hashes, nameHash(d.name))
			}
		case sProcRef, sLProcRef:
			p, ok := parseRef(r)
			if !ok || p.module == 0 {
				bad++
				continue
			}
			f.procRefs = append(f.procRefs, procRef{p.name, int(p.module) - 1, p.symOff})
		}
	}
	if bad > 0 {
		f.warn(f.streamErr(si, 0, fmt.Sprintf("%d malformed records skipped", bad)))
	}
	// Names are hashed above while the stream is read in order; hashing them
	// after sorting would touch them at random.
	f.tab = sortedTable([]string{s}, ents, hashes)
	return firstErr
}

// nameOffset is the stream offset of the name at payload offset at of r.
func nameOffset(r symRecord, at int) int {
	o := r.off + 4 + at
	if r.kind < stNameLimit {
		o++ // length byte
	}
	return o
}
