package image

import (
	"bytes"
	"fmt"

	"wdb/dump"
)

// IMAGE_DEBUG_DIRECTORY (PE/COFF specification, "Debug Directory").
const (
	debugTypeCodeView = 2
	dbgType           = 12
	dbgSizeOfData     = 16
	dbgAddrOfRawData  = 20
	dbgPtrToRawData   = 24
)

// parseDebug finds the first readable CodeView record of the debug
// directory. A mapped image has the data at AddressOfRawData; a file at
// PointerToRawData, which also covers data that no section maps.
func (p *parser) parseDebug() {
	d := p.im.Directories[DirDebug]
	if d.RVA == 0 || d.Size == 0 {
		return
	}
	ents := p.readArray("debug: directory", d.RVA, d.Size/debugDirEntSize, debugDirEntSize, maxDebugDirs)
	var bad failures
	for off := 0; off+debugDirEntSize <= len(ents); off += debugDirEntSize {
		e := ents[off : off+debugDirEntSize]
		if le32(e[dbgType:]) != debugTypeCodeView {
			continue
		}
		data, err := p.debugData(le32(e[dbgSizeOfData:]), le32(e[dbgAddrOfRawData:]), le32(e[dbgPtrToRawData:]))
		if err == nil {
			var cv *dump.CodeView
			if cv, err = parseCodeView(data); err == nil {
				p.im.CodeView = cv
				return
			}
		}
		bad.add(err)
	}
	if bad.n > 0 {
		p.note("debug: CodeView: %v", bad.first)
	}
}

func (p *parser) debugData(size, rva, fileOff uint32) ([]byte, error) {
	if size < 8 || size > maxCodeView {
		return nil, fmt.Errorf("record size %d is implausible", size)
	}
	b := make([]byte, size)
	if or, ok := p.r.(offsetReader); ok && fileOff != 0 {
		n, err := or.readFileAt(b, fileOff)
		if n < len(b) {
			return nil, err
		}
		return b, nil
	}
	if rva == 0 {
		return nil, fmt.Errorf("record is not mapped into the image (AddressOfRawData 0)")
	}
	if err := p.readFull(b, rva); err != nil {
		return nil, err
	}
	return b, nil
}

// parseCodeView decodes CV_INFO_PDB70 (RSDS) or CV_INFO_PDB20 (NB10) as the
// minidump CvRecord reader does, so the two can be compared field by field.
func parseCodeView(b []byte) (*dump.CodeView, error) {
	cv := &dump.CodeView{Signature: string(b[:4])}
	var rest []byte
	switch cv.Signature {
	case "RSDS":
		if len(b) < 24 {
			return nil, fmt.Errorf("RSDS record of %d bytes, needs 24", len(b))
		}
		copy(cv.GUID[:], b[4:20])
		cv.Age = le32(b[20:])
		rest = b[24:]
	case "NB10":
		if len(b) < 16 {
			return nil, fmt.Errorf("NB10 record of %d bytes, needs 16", len(b))
		}
		cv.Sig = le32(b[8:])
		cv.Age = le32(b[12:])
		rest = b[16:]
	default:
		return nil, fmt.Errorf("unknown signature %q", b[:4])
	}
	if i := bytes.IndexByte(rest, 0); i >= 0 {
		rest = rest[:i]
	}
	cv.PDBName = string(rest)
	return cv, nil
}

// sameCodeView compares two CodeView identities (the PDB path may differ in
// directory or case without naming another PDB; GUID/signature and age
// decide).
func sameCodeView(a, b *dump.CodeView) bool {
	return a.Signature == b.Signature && a.GUID == b.GUID && a.Sig == b.Sig && a.Age == b.Age
}
