package pdb

import "fmt"

// CodeView symbol record kinds used here (microsoft-pdb include/cvinfo.h
// SYM_ENUM_e). Kinds below 0x1100 ("_ST") carry length-prefixed names.
const (
	sEnd          = 0x0006
	sLData32ST    = 0x1007
	sGData32ST    = 0x1008
	sPub32ST      = 0x1009
	sLProc32ST    = 0x100a
	sGProc32ST    = 0x100b
	sThunk32      = 0x1102
	sBlock32      = 0x1103
	sLabel32      = 0x1105
	sConstant     = 0x1107
	sUDT          = 0x1108
	sLData32      = 0x110c
	sGData32      = 0x110d
	sPub32        = 0x110e
	sLProc32      = 0x110f
	sGProc32      = 0x1110
	sLThread32    = 0x1112
	sGThread32    = 0x1113
	sProcRef      = 0x1125
	sDataRef      = 0x1126
	sLProcRef     = 0x1127
	sSepCode      = 0x1132
	sLProc32ID    = 0x1146
	sGProc32ID    = 0x1147
	sInlineSite   = 0x114d
	sInlineEnd    = 0x114e
	sProcIDEnd    = 0x114f
	sLProc32DPC   = 0x1155
	sLProc32DPCID = 0x1156
	sInlineSite2  = 0x115d
	stNameLimit   = 0x1100 // S_ST_MAX: kinds from here on use NUL-terminated names
)

// symRecord is one CodeView record inside a stream held as a string
// (names are then substrings, so a million publics cost no allocations).
type symRecord struct {
	kind uint16
	off  int    // stream offset of the record (its length field)
	data string // payload after the kind field
}

// nextRecord decodes the record at off; next is where the following record
// starts. A record must have reclen >= 2 and fit in s.
func nextRecord(s string, off int) (rec symRecord, next int, msg string) {
	if len(s)-off < 4 {
		return rec, 0, fmt.Sprintf("record header truncated (%d bytes left)", len(s)-off)
	}
	reclen := int(u16s(s, off))
	if reclen < 2 {
		return rec, 0, fmt.Sprintf("record length %d is too small", reclen)
	}
	end := off + 2 + reclen
	if end > len(s) {
		return rec, 0, fmt.Sprintf("record length %d runs past the end of the stream", reclen)
	}
	rec = symRecord{kind: u16s(s, off+2), off: off, data: s[off+4 : end]}
	return rec, end, ""
}

func u16s(s string, i int) uint16 { return uint16(s[i]) | uint16(s[i+1])<<8 }

func u32s(s string, i int) uint32 {
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

// recName reads the name at data[at:]: NUL-terminated for modern kinds,
// length-prefixed for the _ST kinds. ok is false when at is out of range.
func recName(kind uint16, data string, at int) (string, bool) {
	if at > len(data) {
		return "", false
	}
	rest := data[at:]
	if kind < stNameLimit {
		if len(rest) == 0 {
			return "", false
		}
		n := int(rest[0])
		if n > len(rest)-1 {
			return "", false
		}
		return rest[1 : 1+n], true
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == 0 {
			return rest[:i], true
		}
	}
	return rest, true
}

// pubSym is S_PUB32: flags, offset, segment, name.
type pubSym struct {
	flags uint32
	off   uint32
	seg   uint16
	name  string
}

func parsePub(r symRecord) (pubSym, bool) {
	d := r.data
	if len(d) < 10 {
		return pubSym{}, false
	}
	name, ok := recName(r.kind, d, 10)
	return pubSym{u32s(d, 0), u32s(d, 4), u16s(d, 8), name}, ok
}

// dataSym is S_GDATA32/S_LDATA32: type, offset, segment, name.
type dataSym struct {
	off  uint32
	seg  uint16
	name string
}

func parseData(r symRecord) (dataSym, bool) {
	d := r.data
	if len(d) < 10 {
		return dataSym{}, false
	}
	name, ok := recName(r.kind, d, 10)
	return dataSym{u32s(d, 4), u16s(d, 8), name}, ok
}

// procSym is S_GPROC32 and its relatives: scope links, code length, address.
type procSym struct {
	end  uint32
	size uint32
	off  uint32
	seg  uint16
	name string
}

func parseProc(r symRecord) (procSym, bool) {
	d := r.data
	if len(d) < 35 {
		return procSym{}, false
	}
	name, ok := recName(r.kind, d, 35)
	return procSym{end: u32s(d, 4), size: u32s(d, 12), off: u32s(d, 28), seg: u16s(d, 32), name: name}, ok
}

// refSym is S_PROCREF/S_LPROCREF: a pointer to a procedure in a module.
type refSym struct {
	symOff uint32 // offset in the module stream (counts the 4-byte signature)
	module uint16 // 1-based
	name   string
}

func parseRef(r symRecord) (refSym, bool) {
	d := r.data
	if len(d) < 10 {
		return refSym{}, false
	}
	name, ok := recName(r.kind, d, 10)
	return refSym{u32s(d, 4), u16s(d, 8), name}, ok
}

// thunkSym is S_THUNK32: an incremental-link or adjustor thunk with a length.
type thunkSym struct {
	end  uint32
	off  uint32
	seg  uint16
	size uint16
	name string
}

func parseThunk(r symRecord) (thunkSym, bool) {
	d := r.data
	if len(d) < 21 {
		return thunkSym{}, false
	}
	name, ok := recName(r.kind, d, 21)
	return thunkSym{end: u32s(d, 4), off: u32s(d, 12), seg: u16s(d, 16), size: u16s(d, 18), name: name}, ok
}

// labelSym is S_LABEL32: a named code address without a size.
type labelSym struct {
	off  uint32
	seg  uint16
	name string
}

func parseLabel(r symRecord) (labelSym, bool) {
	d := r.data
	if len(d) < 7 {
		return labelSym{}, false
	}
	name, ok := recName(r.kind, d, 7)
	return labelSym{u32s(d, 0), u16s(d, 4), name}, ok
}

func isProc(kind uint16) bool {
	switch kind {
	case sGProc32, sLProc32, sGProc32ID, sLProc32ID, sLProc32DPC, sLProc32DPCID, sGProc32ST, sLProc32ST:
		return true
	}
	return false
}

// opensScope reports kinds closed by a later S_END / S_PROC_ID_END /
// S_INLINESITE_END, so module walks can track nesting.
func opensScope(kind uint16) bool {
	switch kind {
	case sBlock32, sThunk32, sSepCode, sInlineSite, sInlineSite2:
		return true
	}
	return isProc(kind)
}

func closesScope(kind uint16) bool {
	return kind == sEnd || kind == sProcIDEnd || kind == sInlineEnd
}
