package pdb

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is what a Type describes.
type Kind uint8

const (
	KindNone      Kind = iota // unknown: an index outside the table, or a leaf not decoded
	KindBase                  // a simple (built-in) type: Int4B, Uint8B, Char, Void, ...
	KindPointer               // pointer or reference: Elem is the target
	KindArray                 // fixed-size array: Elem, Count
	KindStruct                // LF_STRUCTURE
	KindClass                 // LF_CLASS
	KindInterface             // LF_INTERFACE
	KindUnion                 // LF_UNION
	KindEnum                  // LF_ENUM: Elem is the underlying type
	KindFunction              // LF_PROCEDURE / LF_MFUNCTION: Elem is the return type
	KindVTShape               // LF_VTSHAPE: what a vfptr points to
)

var kindNames = [...]string{"none", "base", "pointer", "array", "struct", "class", "interface", "union", "enum", "function", "vtshape"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// IsUDT reports structures, classes, interfaces and unions: the kinds with fields.
func (k Kind) IsUDT() bool {
	return k == KindStruct || k == KindClass || k == KindInterface || k == KindUnion
}

// Base classifies a simple type for value display.
type Base uint8

const (
	BaseNone    Base = iota
	BaseVoid         // void
	BaseChar         // char, signed char: Char
	BaseUChar        // unsigned char: UChar
	BaseWChar        // wchar_t, char16_t: Wchar
	BaseInt          // signed integers: Int1B..Int16B
	BaseUInt         // unsigned integers: Uint1B..Uint16B
	BaseBool         // bool: Bool
	BaseFloat        // float, double, long double
	BaseHRESULT      // HRESULT
)

// FieldKind says what a field-list entry is.
type FieldKind uint8

const (
	FieldMember      FieldKind = iota // LF_MEMBER: a data member at Offset
	FieldStatic                       // LF_STMEMBER: a static member (no offset in the object)
	FieldBase                         // LF_BCLASS: a direct base class at Offset
	FieldVirtualBase                  // LF_VBCLASS / LF_IVBCLASS: a virtual base (no fixed offset)
	FieldVFTable                      // LF_VFUNCTAB: the vfptr at Offset (WinDbg's __VFN_table)
)

// Field is one entry of a structure, class or union.
type Field struct {
	Name   string // "__VFN_table" for a vfptr, the base's name for a base class
	Kind   FieldKind
	Offset uint64
	Type   *Type
	BitPos int // first bit of a bitfield
	BitLen int // width of a bitfield; 0 for ordinary members
}

// Enumerator is one named value of an enum. Value holds the bits of the
// numeric leaf (negative values sign-extended).
type Enumerator struct {
	Name  string
	Value int64
}

// Type is a decoded TPI type. Records that refer to each other by index are
// linked by pointer: Elem of a pointer to a structure is that structure, a
// forward reference is replaced by the full definition when the PDB has
// one, and const/volatile modifiers are looked through. Type graphs may be
// cyclic (a structure holding a pointer to itself).
type Type struct {
	Index uint32 // TPI index (< 0x1000: simple type); 0 for types built in code
	Kind  Kind
	// Name is WinDbg's spelling for simple types ("Uint4B", "Ptr64 Void" is
	// a pointer with Elem Void), the tag for structures, unions and enums.
	Name       string
	UniqueName string // decorated unique name (".?AVCMMFSerializer@@"), when stored
	CName      string // C spelling of a simple type ("unsigned long"), used in function signatures
	Size       uint64 // bytes; 0 for void, functions and incomplete types

	Base   Base // simple types
	Signed bool // simple integer and character types

	Fields      []Field      // structures, classes, unions: data members in declaration order
	Methods     []string     // member function names (LF_ONEMETHOD, LF_METHOD), listed only
	Enumerators []Enumerator // enums
	Elem        *Type        // pointer target, array element, enum underlying type, function return type
	Count       uint64       // array element count (Size / element size)
	Params      []*Type      // function parameter types
	Class       *Type        // LF_MFUNCTION: the class of a member function
	Reference   bool         // pointer is a C++ reference (& or &&)
	Forward     bool         // a declaration only; links resolve it to the definition when the PDB has one
	Packed      bool
}

func (t *Type) isInteger() bool {
	if t == nil {
		return false
	}
	switch t.Kind {
	case KindEnum:
		return true
	case KindBase:
		switch t.Base {
		case BaseChar, BaseUChar, BaseWChar, BaseInt, BaseUInt, BaseBool, BaseHRESULT:
			return true
		}
	}
	return false
}

// IsInteger reports integer, character, bool and enum types: the ones a
// value reads as a whole number.
func (t *Type) IsInteger() bool { return t.isInteger() }

// Field returns the data member named name (case-sensitive), searching
// base classes too (breadth first, each base once). ok is false when there
// is none.
func (t *Type) Field(name string) (Field, bool) {
	type node struct {
		t   *Type
		off uint64
	}
	seen := map[*Type]bool{}
	queue := []node{{t, 0}}
	for len(queue) > 0 && len(seen) < 1024 {
		n := queue[0]
		queue = queue[1:]
		if n.t == nil || seen[n.t] {
			continue
		}
		seen[n.t] = true
		for _, f := range n.t.Fields {
			if f.Name == name && f.Kind != FieldBase && f.Kind != FieldVirtualBase {
				f.Offset += n.off
				return f, true
			}
		}
		for _, f := range n.t.Fields {
			if f.Kind == FieldBase {
				queue = append(queue, node{f.Type, n.off + f.Offset})
			}
		}
	}
	return Field{}, false
}

// maxNameDepth bounds name building through pointers and arrays, so a
// corrupt self-referencing pointer cannot recurse forever.
const maxNameDepth = 12

// WinDbgName is the type as dt prints it after a field name: "Uint4B",
// "Ptr64 _LIST_ENTRY", "[16] Uint2B", "Ptr32 Ptr32 Void", "_PEB", and for a
// function "    int " (dt's spacing around the return type).
func (t *Type) WinDbgName() string { return t.winDbgName(0) }

func (t *Type) winDbgName(depth int) string {
	if t == nil {
		return "<no type>"
	}
	if depth > maxNameDepth {
		return "..."
	}
	switch t.Kind {
	case KindPointer:
		ptr := "Ptr64"
		if t.Size == 4 {
			ptr = "Ptr32"
		}
		if t.Elem == nil || t.Elem.Kind == KindVTShape {
			return ptr + " "
		}
		return ptr + " " + t.Elem.winDbgName(depth+1)
	case KindArray:
		return "[" + strconv.FormatUint(t.Count, 10) + "] " + t.Elem.winDbgName(depth+1)
	case KindFunction:
		budget := 64
		return "    " + t.Elem.cName(depth+1, &budget) + " "
	case KindVTShape:
		return ""
	}
	if t.Name == "" {
		return "<unnamed-tag>"
	}
	return t.Name
}

// CTypeName is the type in C spelling: "unsigned long", "_PEB*", "int[4]".
func (t *Type) CTypeName() string {
	budget := 64
	return t.cName(0, &budget)
}

// cName spells t in C; budget bounds the pieces written, since a damaged
// function type can list itself as its own parameters many times.
func (t *Type) cName(depth int, budget *int) string {
	if t == nil {
		return "<no type>"
	}
	*budget--
	if depth > maxNameDepth || *budget < 0 {
		return "..."
	}
	switch t.Kind {
	case KindBase:
		if t.CName != "" {
			return t.CName
		}
	case KindPointer:
		if t.Reference {
			return t.Elem.cName(depth+1, budget) + "&"
		}
		return t.Elem.cName(depth+1, budget) + "*"
	case KindArray:
		return t.Elem.cName(depth+1, budget) + "[" + strconv.FormatUint(t.Count, 10) + "]"
	case KindFunction:
		var b strings.Builder
		b.WriteString(t.Elem.cName(depth+1, budget))
		b.WriteString(" (")
		for i, p := range t.Params {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.cName(depth+1, budget))
			if *budget < 0 {
				break
			}
		}
		b.WriteString(")")
		return b.String()
	case KindVTShape:
		return "__vtbl_ptr_type"
	}
	if t.Name == "" {
		return "<unnamed-tag>"
	}
	return t.Name
}

func (t *Type) String() string {
	if t == nil {
		return "<nil type>"
	}
	return fmt.Sprintf("%s %s (0x%x, %d bytes)", t.Kind, t.WinDbgName(), t.Index, t.Size)
}

// simpleInfo describes one simple-type kind (cvinfo.h, the low byte of a
// type index below 0x1000; llvm docs/PDB/TpiStream.md).
type simpleInfo struct {
	name, cname string
	size        uint64
	base        Base
	signed      bool
}

var simpleTypes = map[uint32]simpleInfo{
	0x00: {"<NoType>", "<no type>", 0, BaseNone, false},
	0x03: {"Void", "void", 0, BaseVoid, false},
	0x08: {"HRESULT", "HRESULT", 4, BaseHRESULT, true},
	0x10: {"Char", "signed char", 1, BaseChar, true},
	0x20: {"UChar", "unsigned char", 1, BaseUChar, false},
	0x70: {"Char", "char", 1, BaseChar, true},
	0x71: {"Wchar", "wchar_t", 2, BaseWChar, false},
	0x7a: {"Wchar", "char16_t", 2, BaseWChar, false},
	0x7b: {"Uint4B", "char32_t", 4, BaseUInt, false},
	0x7c: {"UChar", "char8_t", 1, BaseUChar, false},
	0x68: {"Int1B", "__int8", 1, BaseInt, true},
	0x69: {"Uint1B", "unsigned __int8", 1, BaseUInt, false},
	0x11: {"Int2B", "short", 2, BaseInt, true},
	0x21: {"Uint2B", "unsigned short", 2, BaseUInt, false},
	0x72: {"Int2B", "__int16", 2, BaseInt, true},
	0x73: {"Uint2B", "unsigned __int16", 2, BaseUInt, false},
	0x12: {"Int4B", "long", 4, BaseInt, true},
	0x22: {"Uint4B", "unsigned long", 4, BaseUInt, false},
	0x74: {"Int4B", "int", 4, BaseInt, true},
	0x75: {"Uint4B", "unsigned int", 4, BaseUInt, false},
	0x13: {"Int8B", "__int64", 8, BaseInt, true},
	0x23: {"Uint8B", "unsigned __int64", 8, BaseUInt, false},
	0x76: {"Int8B", "__int64", 8, BaseInt, true},
	0x77: {"Uint8B", "unsigned __int64", 8, BaseUInt, false},
	0x14: {"Int16B", "__int128", 16, BaseInt, true},
	0x24: {"Uint16B", "unsigned __int128", 16, BaseUInt, false},
	0x78: {"Int16B", "__int128", 16, BaseInt, true},
	0x79: {"Uint16B", "unsigned __int128", 16, BaseUInt, false},
	0x30: {"Bool", "bool", 1, BaseBool, false},
	0x31: {"Bool", "bool", 2, BaseBool, false},
	0x32: {"Bool", "bool", 4, BaseBool, false},
	0x33: {"Bool", "bool", 8, BaseBool, false},
	0x46: {"Float", "_Float16", 2, BaseFloat, true},
	0x40: {"Float", "float", 4, BaseFloat, true},
	0x41: {"Double", "double", 8, BaseFloat, true},
	0x42: {"Float10", "long double", 10, BaseFloat, true},
	0x43: {"Float16", "__float128", 16, BaseFloat, true},
}

// Simple type indexes: mode bits 8–10 select a pointer to the kind in bits 0–7.
const (
	simpleModeDirect = 0
	simpleMode32     = 4 // near 32-bit pointer
	simpleMode1632   = 5 // far 16:32 pointer
	simpleMode64     = 6 // 64-bit pointer
)

// SimpleType returns the simple type with index ti (< 0x1000): T_INT4
// (0x74) is Int4B, T_64PVOID (0x603) is a 64-bit pointer to Void. Unknown
// kinds give a KindNone type named after the index.
func SimpleType(ti uint32) *Type {
	kind, mode := ti&0xff, ti>>8&7
	info, ok := simpleTypes[kind]
	var base *Type
	if !ok || ti >= 0x1000 {
		base = &Type{Index: ti &^ 0x700, Kind: KindNone, Name: fmt.Sprintf("<simple type 0x%x>", kind)}
	} else {
		base = &Type{Index: kind, Kind: KindBase, Name: info.name, CName: info.cname, Size: info.size, Base: info.base, Signed: info.signed}
	}
	if mode == simpleModeDirect || ti >= 0x1000 {
		return base
	}
	size := uint64(8)
	switch mode {
	case 1, 2, 3: // 16-bit near, far, huge
		size = 2
		if mode != 1 {
			size = 4
		}
	case simpleMode32:
		size = 4
	case simpleMode1632:
		size = 6
	case 7: // 128-bit near
		size = 16
	}
	return &Type{Index: ti, Kind: KindPointer, Elem: base, Size: size}
}

// PointerTo builds a pointer of size bytes (4 or 8) to elem.
func PointerTo(elem *Type, size int) *Type {
	return &Type{Kind: KindPointer, Elem: elem, Size: uint64(size)}
}

// ArrayOf builds an array of n elements.
func ArrayOf(elem *Type, n uint64) *Type {
	t := &Type{Kind: KindArray, Elem: elem, Count: n}
	if elem != nil {
		t.Size = elem.Size * n
	}
	return t
}

// Well-known simple type indexes (cvinfo.h TYPE_ENUM_e).
const (
	TVoid    = 0x0003
	TChar    = 0x0070 // char (Char)
	TUChar   = 0x0020 // unsigned char (UChar)
	TWChar   = 0x0071 // wchar_t (Wchar)
	TShort   = 0x0011 // Int2B
	TUShort  = 0x0021 // Uint2B
	TLong    = 0x0012 // Int4B
	TULong   = 0x0022 // Uint4B
	TInt4    = 0x0074 // Int4B
	TUInt4   = 0x0075 // Uint4B
	TQuad    = 0x0013 // Int8B
	TUQuad   = 0x0023 // Uint8B
	TBool    = 0x0030 // Bool
	TReal32  = 0x0040 // Float
	TReal64  = 0x0041 // Double
	T32PVoid = 0x0403 // Ptr32 Void
	T64PVoid = 0x0603 // Ptr64 Void
)
