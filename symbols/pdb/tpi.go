package pdb

import (
	"encoding/binary"
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"weak"
)

// TPI stream (stream 2): a 56-byte header, then CodeView type records, each
// "u16 length; u16 leaf; payload" and 4-byte aligned; record i has type
// index TypeIndexBegin+i (llvm docs/PDB/TpiStream.md; leaf numbers and
// layouts from microsoft-pdb include/cvinfo.h).

const tpiStream = 2

// Leaf kinds (cvinfo.h LEAF_ENUM_e).
const (
	lfVTShape    = 0x000a
	lfModifier   = 0x1001
	lfPointer    = 0x1002
	lfProcedure  = 0x1008
	lfMFunction  = 0x1009
	lfArgList    = 0x1201
	lfFieldList  = 0x1203
	lfBitfield   = 0x1205
	lfMethodList = 0x1206
	lfBClass     = 0x1400
	lfVBClass    = 0x1401
	lfIVBClass   = 0x1402
	lfIndex      = 0x1404
	lfVFuncTab   = 0x1409
	lfEnumerate  = 0x1502
	lfArray      = 0x1503
	lfClass      = 0x1504
	lfStructure  = 0x1505
	lfUnion      = 0x1506
	lfEnum       = 0x1507
	lfMember     = 0x150d
	lfSTMember   = 0x150e
	lfMethod     = 0x150f
	lfNestType   = 0x1510
	lfOneMethod  = 0x1511
	lfNestTypeEx = 0x1512
	lfInterface  = 0x1519
	lfVFuncOff   = 0x140c
	lfFriendFcn  = 0x150c
	lfFriendCls  = 0x140b

	// Numeric leaves (a value below 0x8000 is the number itself).
	lfNumeric   = 0x8000
	lfChar      = 0x8000
	lfShort     = 0x8001
	lfUShort    = 0x8002
	lfLong      = 0x8003
	lfULong     = 0x8004
	lfQuadword  = 0x8009
	lfUQuadword = 0x800a
)

// UDT property bits (cvinfo.h CV_prop_t).
const (
	propPacked     = 0x0001
	propFwdRef     = 0x0080
	propHasUniqueN = 0x0200
)

// Bounds that keep a damaged TPI stream from costing unbounded memory.
const (
	maxFieldsPerType = 1 << 16
	maxFieldsTotal   = 1 << 24
	maxModifierChain = 32
	maxIndexChain    = 4096 // LF_INDEX continuations of one field list
)

// TypeTable is the decoded TPI stream of one PDB: every type record, linked
// by pointer, and an index of structures, classes, unions and enums by name.
// It is read-only after Types returns it and safe for concurrent use.
type TypeTable struct {
	file       string
	begin, end uint32
	types      []*Type            // by index-begin; nil for records that are not types
	byName     map[string][]*Type // complete definitions (and lone forward declarations), by Name
	names      []string           // sorted keys of byName
	warnings   []error
}

// rawType is a record's own fields before linking.
type rawType struct {
	leaf      uint16
	ref       uint32 // referent, element, underlying or return type
	fieldList uint32 // UDT/enum field list; arg list of a function
	class     uint32 // LF_MFUNCTION class
	props     uint16
	bitLen    uint8
	bitPos    uint8
	nparams   uint16 // functions: the parameter count (the argument list may hold more)
	data      []byte // payload, for field and argument lists
}

// typeTables caches one TypeTable per open File without keeping the File
// alive: the key is a weak pointer and a cleanup drops the entry when the
// File is collected.
var typeTables = struct {
	mu sync.Mutex
	m  map[weak.Pointer[File]]*typeEntry
}{m: map[weak.Pointer[File]]*typeEntry{}}

type typeEntry struct {
	once sync.Once
	tt   *TypeTable
	err  error

	gonce    sync.Once
	globals  map[string]Global // S_GDATA32/S_LDATA32 of the symbol record stream
	typedefs map[string]uint32 // S_UDT: typedef name -> type index
}

// typeEntry returns f's cache entry, creating it (and its cleanup) once.
func (f *File) typeEntry() *typeEntry {
	key := weak.Make(f)
	typeTables.mu.Lock()
	defer typeTables.mu.Unlock()
	e, ok := typeTables.m[key]
	if !ok {
		e = &typeEntry{}
		typeTables.m[key] = e
		runtime.AddCleanup(f, func(k weak.Pointer[File]) {
			typeTables.mu.Lock()
			delete(typeTables.m, k)
			typeTables.mu.Unlock()
		}, key)
	}
	return e
}

// Types decodes the TPI stream on first use and returns the type table.
// Damage inside the stream is reported by Warnings (the table keeps what
// could be read); an unreadable header or stream is an error.
func (f *File) Types() (*TypeTable, error) {
	e := f.typeEntry()
	e.once.Do(func() {
		b, err := f.readStream(tpiStream)
		if err != nil {
			e.err = err
			return
		}
		e.tt, e.err = ParseTypes(b, f.name)
		if e.tt != nil && len(e.tt.warnings) > 0 {
			f.mu.Lock()
			for _, w := range e.tt.warnings {
				f.warn(w)
			}
			f.mu.Unlock()
		}
	})
	return e.tt, e.err
}

func tpiErr(file string, off int, msg string) error {
	return &FormatError{File: file, Stream: tpiStream, What: "TPI", Offset: int64(off), Msg: msg}
}

// ParseTypes decodes a TPI stream held in memory; name is used in messages.
func ParseTypes(b []byte, name string) (*TypeTable, error) {
	le := binary.LittleEndian
	if len(b) < 56 {
		return nil, tpiErr(name, 0, fmt.Sprintf("TPI header truncated (%d of 56 bytes)", len(b)))
	}
	hdrSize := le.Uint32(b[4:])
	begin, end, recBytes := le.Uint32(b[8:]), le.Uint32(b[12:]), le.Uint32(b[16:])
	if hdrSize < 56 || uint64(hdrSize) > uint64(len(b)) {
		return nil, tpiErr(name, 4, fmt.Sprintf("TPI header size %d is outside 56..%d", hdrSize, len(b)))
	}
	if begin > end || begin < 0x1000 && end != begin {
		return nil, tpiErr(name, 8, fmt.Sprintf("TPI type index range 0x%x..0x%x is invalid", begin, end))
	}
	t := &TypeTable{file: name, begin: begin, end: begin, byName: map[string][]*Type{}}
	recs := b[hdrSize:]
	if uint64(recBytes) < uint64(len(recs)) {
		recs = recs[:recBytes]
	} else if uint64(recBytes) > uint64(len(recs)) {
		t.warn(tpiErr(name, 16, fmt.Sprintf("type record bytes %d run past the end of the %d-byte stream", recBytes, len(b))))
	}
	// One pass: record offsets.
	want := uint64(end - begin)
	var raws []rawType
	for off := 0; off < len(recs); {
		if uint64(len(raws)) >= want {
			t.warn(tpiErr(name, int(hdrSize)+off, fmt.Sprintf("records continue after the %d the header announces", want)))
			break
		}
		if len(recs)-off < 4 {
			t.warn(tpiErr(name, int(hdrSize)+off, fmt.Sprintf("record 0x%x: header truncated", begin+uint32(len(raws)))))
			break
		}
		n := int(le.Uint16(recs[off:]))
		if n < 2 || off+2+n > len(recs) {
			t.warn(tpiErr(name, int(hdrSize)+off, fmt.Sprintf("record 0x%x: length %d runs past the end of the records", begin+uint32(len(raws)), n)))
			break
		}
		raws = append(raws, rawType{leaf: le.Uint16(recs[off+2:]), data: recs[off+4 : off+2+n]})
		off += 2 + n
	}
	if uint64(len(raws)) < want {
		t.warn(tpiErr(name, 12, fmt.Sprintf("header announces %d records, the stream holds %d", want, len(raws))))
	}
	t.end = begin + uint32(len(raws))
	t.build(raws)
	return t, nil
}

func (t *TypeTable) warn(err error) {
	if len(t.warnings) < 100 {
		t.warnings = append(t.warnings, err)
	}
}

// Warnings lists damage found while decoding: truncated records, leaves
// that could not be parsed, bounds that were hit.
func (t *TypeTable) Warnings() []error { return append([]error(nil), t.warnings...) }

// Range is the span of type indexes the table holds: [begin, end).
func (t *TypeTable) Range() (begin, end uint32) { return t.begin, t.end }

// builder holds linking state.
type builder struct {
	t      *TypeTable
	raws   []rawType
	simple map[uint32]*Type
	fwd    map[string]*Type // unique name or kind+name → definition
	total  int              // fields allocated so far
}

func (t *TypeTable) build(raws []rawType) {
	bl := &builder{t: t, raws: raws, simple: map[uint32]*Type{}, fwd: map[string]*Type{}}
	t.types = make([]*Type, len(raws))
	// Phase 1: each record's own fields.
	for i := range raws {
		t.types[i] = bl.decode(i)
	}
	// Phase 2: definitions by name, for forward references.
	for i, ty := range t.types {
		if ty == nil || !(ty.Kind.IsUDT() || ty.Kind == KindEnum) || raws[i].props&propFwdRef != 0 {
			continue
		}
		if ty.UniqueName != "" {
			if _, dup := bl.fwd["u:"+ty.UniqueName]; !dup {
				bl.fwd["u:"+ty.UniqueName] = ty
			}
		}
		if k := fwdKey(ty); bl.fwd[k] == nil {
			bl.fwd[k] = ty
		}
	}
	// Phase 3: links.
	for i, ty := range t.types {
		if ty != nil {
			bl.link(i, ty)
		}
	}
	// Phase 4: sizes that depend on other types.
	for _, ty := range t.types {
		if ty == nil {
			continue
		}
		switch ty.Kind {
		case KindEnum:
			if ty.Size == 0 && ty.Elem != nil {
				ty.Size = ty.Elem.Size
			}
		}
	}
	for _, ty := range t.types {
		if ty != nil && ty.Kind == KindArray && ty.Elem != nil && ty.Elem.Size > 0 {
			ty.Count = ty.Size / ty.Elem.Size
		}
	}
	// Name index: definitions first (lowest index wins), forward
	// declarations only for names with no definition.
	for i, ty := range t.types {
		if ty == nil || ty.Name == "" || !(ty.Kind.IsUDT() || ty.Kind == KindEnum) {
			continue
		}
		if raws[i].props&propFwdRef != 0 {
			continue
		}
		t.byName[ty.Name] = append(t.byName[ty.Name], ty)
	}
	for i, ty := range t.types {
		if ty == nil || ty.Name == "" || !ty.Forward || raws[i].props&propFwdRef == 0 {
			continue
		}
		if len(t.byName[ty.Name]) == 0 {
			t.byName[ty.Name] = []*Type{ty}
		}
	}
	for n := range t.byName {
		t.names = append(t.names, n)
	}
	sort.Strings(t.names)
	// The raw payloads are no longer needed.
	bl.raws = nil
}

func fwdKey(t *Type) string {
	k := "s:"
	switch t.Kind {
	case KindUnion:
		k = "n:"
	case KindEnum:
		k = "e:"
	}
	return k + t.Name
}

// numeric reads a numeric leaf at b[off:]: the value (sign-extended for
// signed leaves) and its length. ok is false for truncated or non-integer
// leaves.
func numeric(b []byte, off int) (v int64, n int, ok bool) {
	le := binary.LittleEndian
	if off < 0 || len(b)-off < 2 {
		return 0, 0, false
	}
	leaf := le.Uint16(b[off:])
	if leaf < lfNumeric {
		return int64(leaf), 2, true
	}
	p := b[off+2:]
	need := 0
	switch leaf {
	case lfChar:
		need = 1
	case lfShort, lfUShort:
		need = 2
	case lfLong, lfULong:
		need = 4
	case lfQuadword, lfUQuadword:
		need = 8
	}
	if need == 0 || len(p) < need {
		return 0, 0, false
	}
	switch leaf {
	case lfChar:
		v = int64(int8(p[0]))
	case lfShort:
		v = int64(int16(le.Uint16(p)))
	case lfUShort:
		v = int64(le.Uint16(p))
	case lfLong:
		v = int64(int32(le.Uint32(p)))
	case lfULong:
		v = int64(le.Uint32(p))
	default:
		v = int64(le.Uint64(p))
	}
	return v, 2 + need, true
}

// cstrAt reads a NUL-terminated name at b[off:] (the rest when unterminated).
func cstrAt(b []byte, off int) (string, int) {
	if off < 0 || off >= len(b) {
		return "", len(b)
	}
	for i := off; i < len(b); i++ {
		if b[i] == 0 {
			return string(b[off:i]), i + 1
		}
	}
	return string(b[off:]), len(b)
}

// decode builds record i's Type shell (nil for records that are not types
// in their own right: field lists, argument lists, bitfields, modifiers).
func (bl *builder) decode(i int) *Type {
	r := &bl.raws[i]
	b := r.data
	le := binary.LittleEndian
	ti := bl.t.begin + uint32(i)
	bad := func(msg string) *Type {
		bl.t.warn(tpiErr(bl.t.file, 0, fmt.Sprintf("record 0x%x (leaf 0x%04x): %s", ti, r.leaf, msg)))
		return &Type{Index: ti, Kind: KindNone, Name: fmt.Sprintf("<type 0x%x>", ti)}
	}
	switch r.leaf {
	case lfModifier:
		if len(b) < 6 {
			return bad("LF_MODIFIER truncated")
		}
		r.ref = le.Uint32(b)
		return nil
	case lfBitfield:
		if len(b) < 6 {
			return bad("LF_BITFIELD truncated")
		}
		r.ref, r.bitLen, r.bitPos = le.Uint32(b), b[4], b[5]
		return nil
	case lfFieldList, lfArgList, lfMethodList:
		return nil
	case lfPointer:
		if len(b) < 8 {
			return bad("LF_POINTER truncated")
		}
		r.ref = le.Uint32(b)
		attr := le.Uint32(b[4:])
		size := uint64(attr >> 13 & 0x3f)
		if size == 0 {
			switch attr & 0x1f {
			case 0x0a, 0x0b: // near32, far32
				size = 4
			case 0x0c: // 64-bit
				size = 8
			default:
				size = 4
			}
		}
		mode := attr >> 5 & 7
		return &Type{Index: ti, Kind: KindPointer, Size: size, Reference: mode == 1 || mode == 4}
	case lfArray:
		if len(b) < 8 {
			return bad("LF_ARRAY truncated")
		}
		r.ref = le.Uint32(b)
		size, n, ok := numeric(b, 8)
		if !ok {
			return bad("LF_ARRAY size is not an integer leaf")
		}
		name, _ := cstrAt(b, 8+n)
		return &Type{Index: ti, Kind: KindArray, Size: uint64(size), Name: name}
	case lfClass, lfStructure, lfInterface:
		if len(b) < 18 {
			return bad("class record truncated")
		}
		r.props = le.Uint16(b[2:])
		r.fieldList = le.Uint32(b[4:])
		size, n, ok := numeric(b, 16)
		if !ok {
			return bad("class size is not an integer leaf")
		}
		kind := KindStruct
		if r.leaf == lfClass {
			kind = KindClass
		} else if r.leaf == lfInterface {
			kind = KindInterface
		}
		return bl.udt(ti, kind, uint64(size), b, 16+n, r.props)
	case lfUnion:
		if len(b) < 10 {
			return bad("LF_UNION truncated")
		}
		r.props = le.Uint16(b[2:])
		r.fieldList = le.Uint32(b[4:])
		size, n, ok := numeric(b, 8)
		if !ok {
			return bad("union size is not an integer leaf")
		}
		return bl.udt(ti, KindUnion, uint64(size), b, 8+n, r.props)
	case lfEnum:
		if len(b) < 12 {
			return bad("LF_ENUM truncated")
		}
		r.props = le.Uint16(b[2:])
		r.ref = le.Uint32(b[4:])
		r.fieldList = le.Uint32(b[8:])
		return bl.udt(ti, KindEnum, 0, b, 12, r.props)
	case lfProcedure:
		if len(b) < 12 {
			return bad("LF_PROCEDURE truncated")
		}
		r.ref, r.nparams = le.Uint32(b), le.Uint16(b[6:])
		r.fieldList = le.Uint32(b[8:])
		return &Type{Index: ti, Kind: KindFunction}
	case lfMFunction:
		if len(b) < 24 {
			return bad("LF_MFUNCTION truncated")
		}
		r.ref, r.class, r.nparams = le.Uint32(b), le.Uint32(b[4:]), le.Uint16(b[14:])
		r.fieldList = le.Uint32(b[16:])
		return &Type{Index: ti, Kind: KindFunction}
	case lfVTShape:
		return &Type{Index: ti, Kind: KindVTShape}
	}
	return &Type{Index: ti, Kind: KindNone, Name: fmt.Sprintf("<leaf 0x%04x>", r.leaf)}
}

func (bl *builder) udt(ti uint32, kind Kind, size uint64, b []byte, nameOff int, props uint16) *Type {
	name, next := cstrAt(b, nameOff)
	t := &Type{Index: ti, Kind: kind, Name: name, Size: size, Packed: props&propPacked != 0}
	if props&propHasUniqueN != 0 {
		t.UniqueName, _ = cstrAt(b, next)
	}
	if props&propFwdRef != 0 {
		t.Forward = true
	}
	return t
}

// ref returns the Type that index ti stands for: simple types, modifiers
// looked through, forward references replaced by their definition.
func (bl *builder) ref(ti uint32) *Type {
	for step := 0; step < maxModifierChain; step++ {
		if ti < bl.t.begin {
			if s, ok := bl.simple[ti]; ok {
				return s
			}
			s := SimpleType(ti)
			bl.simple[ti] = s
			return s
		}
		i := ti - bl.t.begin
		if ti >= bl.t.end {
			return bl.missing(ti)
		}
		r := &bl.raws[i]
		if r.leaf == lfModifier {
			ti = r.ref
			continue
		}
		ty := bl.t.types[i]
		if ty == nil {
			return bl.missing(ti)
		}
		if ty.Forward {
			if d := bl.definition(ty); d != nil {
				return d
			}
		}
		return ty
	}
	return bl.missing(ti)
}

func (bl *builder) missing(ti uint32) *Type {
	key := 0x80000000 | ti
	if s, ok := bl.simple[key]; ok {
		return s
	}
	s := &Type{Index: ti, Kind: KindNone, Name: fmt.Sprintf("<type 0x%x>", ti)}
	bl.simple[key] = s
	return s
}

func (bl *builder) definition(fwd *Type) *Type {
	if fwd.UniqueName != "" {
		if d := bl.fwd["u:"+fwd.UniqueName]; d != nil {
			return d
		}
	}
	return bl.fwd[fwdKey(fwd)]
}

// link fills a type's references.
func (bl *builder) link(i int, ty *Type) {
	r := &bl.raws[i]
	switch ty.Kind {
	case KindPointer, KindArray:
		ty.Elem = bl.ref(r.ref)
	case KindEnum:
		ty.Elem = bl.ref(r.ref)
		if !ty.Forward {
			bl.fieldList(ty, r.fieldList)
		}
	case KindStruct, KindClass, KindInterface, KindUnion:
		if !ty.Forward {
			bl.fieldList(ty, r.fieldList)
		}
	case KindFunction:
		ty.Elem = bl.ref(r.ref)
		if r.leaf == lfMFunction && r.class != 0 {
			ty.Class = bl.ref(r.class)
		}
		bl.argList(ty, r.fieldList, int(r.nparams))
	}
}

func (bl *builder) argList(ty *Type, ti uint32, count int) {
	if ti < bl.t.begin || ti >= bl.t.end {
		return
	}
	r := &bl.raws[ti-bl.t.begin]
	if r.leaf != lfArgList || len(r.data) < 4 {
		return
	}
	le := binary.LittleEndian
	n := int(le.Uint32(r.data))
	n = min(n, count)
	if n > (len(r.data)-4)/4 {
		n = (len(r.data) - 4) / 4
	}
	ty.Params = make([]*Type, 0, n)
	for k := 0; k < n; k++ {
		ty.Params = append(ty.Params, bl.ref(le.Uint32(r.data[4+4*k:])))
	}
}

// fieldList decodes the LF_FIELDLIST at ti (and its LF_INDEX
// continuations) into ty's fields, methods or enumerators.
func (bl *builder) fieldList(ty *Type, ti uint32) {
	le := binary.LittleEndian
	seen := map[uint32]bool{}
	for hop := 0; ti != 0 && hop < maxIndexChain; hop++ {
		if ti < bl.t.begin || ti >= bl.t.end || seen[ti] {
			return
		}
		seen[ti] = true
		r := &bl.raws[ti-bl.t.begin]
		if r.leaf != lfFieldList {
			bl.t.warn(tpiErr(bl.t.file, 0, fmt.Sprintf("type 0x%x (%s): field list 0x%x is leaf 0x%04x, not LF_FIELDLIST", ty.Index, ty.Name, ti, r.leaf)))
			return
		}
		b := r.data
		next := uint32(0)
		fail := func(off int, msg string) {
			bl.t.warn(tpiErr(bl.t.file, 0, fmt.Sprintf("field list 0x%x of %s at +0x%x: %s", ti, ty.Name, off, msg)))
		}
	members:
		for off := 0; off < len(b); {
			// Padding bytes LF_PAD0..LF_PAD15 (0xf0 + n) skip n bytes.
			if b[off] >= 0xf0 {
				skip := int(b[off] & 0x0f)
				if skip == 0 {
					skip = 1
				}
				off += skip
				continue
			}
			if len(b)-off < 2 {
				fail(off, "sub-record truncated")
				break
			}
			if len(ty.Fields) >= maxFieldsPerType || len(ty.Enumerators) >= maxFieldsPerType || bl.total >= maxFieldsTotal {
				fail(off, "too many members; the rest are ignored")
				return
			}
			leaf := le.Uint16(b[off:])
			p := off + 2
			need := func(n int) bool {
				if len(b)-p < n {
					fail(off, fmt.Sprintf("leaf 0x%04x truncated", leaf))
					return false
				}
				return true
			}
			switch leaf {
			case lfMember:
				if !need(6) {
					break members
				}
				attr := le.Uint16(b[p:])
				_ = attr
				mt := le.Uint32(b[p+2:])
				v, n, ok := numeric(b, p+6)
				if !ok {
					fail(off, "member offset is not an integer leaf")
					break members
				}
				name, end := cstrAt(b, p+6+n)
				f := Field{Name: name, Kind: FieldMember, Offset: uint64(v)}
				bl.memberType(&f, mt)
				ty.Fields = append(ty.Fields, f)
				bl.total++
				off = end
			case lfSTMember:
				if !need(6) {
					break members
				}
				mt := le.Uint32(b[p+2:])
				name, end := cstrAt(b, p+6)
				f := Field{Name: name, Kind: FieldStatic}
				bl.memberType(&f, mt)
				ty.Fields = append(ty.Fields, f)
				bl.total++
				off = end
			case lfBClass:
				if !need(6) {
					break members
				}
				bt := bl.ref(le.Uint32(b[p+2:]))
				v, n, ok := numeric(b, p+6)
				if !ok {
					fail(off, "base class offset is not an integer leaf")
					break members
				}
				ty.Fields = append(ty.Fields, Field{Name: bt.Name, Kind: FieldBase, Offset: uint64(v), Type: bt})
				bl.total++
				off = p + 6 + n
			case lfVBClass, lfIVBClass:
				if !need(10) {
					break members
				}
				bt := bl.ref(le.Uint32(b[p+2:]))
				_, n1, ok1 := numeric(b, p+10)
				_, n2, ok2 := numeric(b, p+10+n1)
				if !ok1 || !ok2 {
					fail(off, "virtual base offsets are not integer leaves")
					break members
				}
				ty.Fields = append(ty.Fields, Field{Name: bt.Name, Kind: FieldVirtualBase, Type: bt})
				bl.total++
				off = p + 10 + n1 + n2
			case lfVFuncTab:
				if !need(6) {
					break members
				}
				vt := bl.ref(le.Uint32(b[p+2:]))
				ty.Fields = append(ty.Fields, Field{Name: "__VFN_table", Kind: FieldVFTable, Type: vt})
				bl.total++
				off = p + 6
			case lfVFuncOff:
				if !need(10) {
					break members
				}
				off = p + 10
			case lfEnumerate:
				if !need(2) {
					break members
				}
				v, n, ok := numeric(b, p+2)
				if !ok {
					fail(off, "enumerator value is not an integer leaf")
					break members
				}
				name, end := cstrAt(b, p+2+n)
				ty.Enumerators = append(ty.Enumerators, Enumerator{Name: name, Value: v})
				bl.total++
				off = end
			case lfNestType, lfNestTypeEx:
				if !need(6) {
					break members
				}
				_, end := cstrAt(b, p+6)
				off = end
			case lfOneMethod:
				if !need(6) {
					break members
				}
				attr := le.Uint16(b[p:])
				q := p + 6
				if mprop := attr >> 2 & 7; mprop == 4 || mprop == 6 { // intro, pure intro: vtable offset follows
					q += 4
				}
				name, end := cstrAt(b, q)
				ty.Methods = append(ty.Methods, name)
				off = end
			case lfMethod:
				if !need(6) {
					break members
				}
				name, end := cstrAt(b, p+6)
				ty.Methods = append(ty.Methods, name)
				off = end
			case lfFriendFcn:
				if !need(6) {
					break members
				}
				_, end := cstrAt(b, p+6)
				off = end
			case lfFriendCls:
				if !need(6) {
					break members
				}
				off = p + 6
			case lfIndex:
				if !need(6) {
					break members
				}
				next = le.Uint32(b[p+2:])
				off = p + 6
			default:
				fail(off, fmt.Sprintf("unknown member leaf 0x%04x; the rest of the list is skipped", leaf))
				break members
			}
		}
		ti = next
	}
}

// memberType sets a field's type, unpacking LF_BITFIELD.
func (bl *builder) memberType(f *Field, ti uint32) {
	// Look through modifiers to find a bitfield record.
	for step := 0; step < maxModifierChain && ti >= bl.t.begin && ti < bl.t.end; step++ {
		r := &bl.raws[ti-bl.t.begin]
		if r.leaf == lfModifier {
			ti = r.ref
			continue
		}
		if r.leaf == lfBitfield {
			f.Type = bl.ref(r.ref)
			f.BitPos, f.BitLen = int(r.bitPos), int(r.bitLen)
			if f.BitLen == 0 {
				f.BitLen = 1
			}
			return
		}
		break
	}
	f.Type = bl.ref(ti)
}

// ByIndex returns the type a type index stands for: simple types for
// indexes below 0x1000, modifiers looked through, forward references
// resolved. ok is false for indexes outside the table and for records that
// are not types (field lists, argument lists).
func (t *TypeTable) ByIndex(ti uint32) (*Type, bool) {
	if ti < t.begin {
		s := SimpleType(ti)
		return s, s.Kind != KindNone
	}
	if ti >= t.end {
		return nil, false
	}
	ty := t.types[ti-t.begin]
	if ty == nil {
		return nil, false
	}
	if ty.Forward {
		if d := t.definition(ty); d != nil {
			return d, true
		}
	}
	return ty, true
}

func (t *TypeTable) definition(fwd *Type) *Type {
	for _, d := range t.byName[fwd.Name] {
		if d.Forward || d.Kind != fwd.Kind && !(d.Kind.IsUDT() && fwd.Kind.IsUDT() && d.Kind != KindUnion && fwd.Kind != KindUnion) {
			continue
		}
		if fwd.UniqueName == "" || d.UniqueName == fwd.UniqueName {
			return d
		}
	}
	return nil
}

// Len is the number of type records.
func (t *TypeTable) Len() int { return len(t.types) }

// Lookup finds a structure, class, union or enum by its exact name
// ("_LIST_ENTRY", "CMMFSerializer", "testspace::testClass1"). The complete
// definition is returned when the PDB has one; a type that is only ever
// declared comes back with Forward set.
func (t *TypeTable) Lookup(name string) (*Type, bool) {
	if l := t.byName[name]; len(l) > 0 {
		return l[0], true
	}
	return nil, false
}

// LookupFold is Lookup ignoring case; an exact match wins.
func (t *TypeTable) LookupFold(name string) (*Type, bool) {
	if ty, ok := t.Lookup(name); ok {
		return ty, true
	}
	for _, n := range t.names {
		if strings.EqualFold(n, name) {
			return t.byName[n][0], true
		}
	}
	return nil, false
}

// Match lists the named structures, classes, unions and enums whose names
// match a wildcard pattern ('*' any run, '?' one character; case is
// ignored), sorted by name, one per name.
func (t *TypeTable) Match(pattern string) []*Type {
	p := strings.ToLower(pattern)
	var out []*Type
	for _, n := range t.names {
		if ok, err := path.Match(escapeMatch(p), strings.ToLower(n)); err == nil && ok {
			out = append(out, t.byName[n][0])
		}
	}
	return out
}

// escapeMatch quotes the characters path.Match treats specially other than
// '*' and '?' ('[', '\\'), so "std::vector<int>[]"-like names match literally.
// '*' in path.Match does not cross '/', which type names do not contain.
func escapeMatch(p string) string {
	var b strings.Builder
	for _, c := range p {
		switch c {
		case '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Names lists the names of the structures, classes, unions and enums, sorted.
func (t *TypeTable) Names() []string { return append([]string(nil), t.names...) }

// Global is a global or file-static variable from the symbol record
// stream (S_GDATA32 / S_LDATA32) with its type index.
type Global struct {
	Name string
	Type uint32 // TPI index; look it up with TypeTable.ByIndex
	RVA  uint32
	ok   bool // the section:offset mapped to an RVA
}

// HasRVA reports whether the variable's address could be computed.
func (g Global) HasRVA() bool { return g.ok }

// GlobalVariable finds a global variable by its exact (undecorated) name
// ("g_structTest", "CMMFSerializer::s_openViews").
func (f *File) GlobalVariable(name string) (Global, bool) {
	e := f.loadGlobals()
	g, ok := e.globals[name]
	return g, ok
}

// Typedef returns the type index an S_UDT record gives a typedef name
// ("ULONG", "PVOID", "HANDLE").
func (f *File) Typedef(name string) (uint32, bool) {
	e := f.loadGlobals()
	ti, ok := e.typedefs[name]
	return ti, ok
}

func (f *File) loadGlobals() *typeEntry {
	e := f.typeEntry()
	e.gonce.Do(func() {
		e.globals, e.typedefs = map[string]Global{}, map[string]uint32{}
		if f.dbi == nil || f.dbi.hdr.SymRecordStream < 0 {
			return
		}
		b, err := f.readStream(f.dbi.hdr.SymRecordStream)
		if err != nil {
			return
		}
		s := string(b)
		for off := 0; off < len(s); {
			rec, next, msg := nextRecord(s, off)
			if msg != "" {
				break
			}
			off = next
			d := rec.data
			switch rec.kind {
			case sGData32, sLData32:
				if len(d) < 10 {
					continue
				}
				name, ok := recName(rec.kind, d, 10)
				if !ok {
					continue
				}
				if _, dup := e.globals[name]; dup && rec.kind == sLData32 {
					continue
				}
				rva, ok := f.SegOffToRVA(u16s(d, 8), u32s(d, 4))
				e.globals[name] = Global{Name: name, Type: u32s(d, 0), RVA: rva, ok: ok}
			case sUDT:
				if len(d) < 4 {
					continue
				}
				if name, ok := recName(rec.kind, d, 4); ok {
					if _, dup := e.typedefs[name]; !dup {
						e.typedefs[name] = u32s(d, 0)
					}
				}
			}
		}
	})
	return e
}
