package symsrv

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Key names one file in a symbol store: <Name>/<ID>/<Name>.
type Key struct {
	// Name is the file's base name ("ntdll.pdb", "ntdll.dll"). PDBKey and
	// ImageKey strip any directory; Find refuses names that are still unsafe.
	Name string
	// ID is the store key: GUID+age for PDBs, TimeDateStamp+SizeOfImage for
	// images. Hex digits only.
	ID string
	// ImageExt is the extension of the image a PDB belongs to ("dll"). Plain
	// directories are searched in D\symbols\<ext> and D\<ext> as WinDbg does
	// for that image type; empty means the extension of Name.
	ImageExt string
}

func (k Key) String() string { return k.Name + "/" + k.ID }

// PDBKey is the store key of a PDB 7.0 file: the GUID as 32 upper-case hex
// digits in Windows GUID order (Data1..Data3 little-endian, as RSDS records
// and the PDB info stream store it) followed by the age in hex without
// leading zeros. Use the age from the DBI stream / RSDS record, not the PDB
// info stream's.
func PDBKey(pdbName string, guid [16]byte, age uint32) Key {
	id := fmt.Sprintf("%08X%04X%04X%X%X", binary.LittleEndian.Uint32(guid[0:4]),
		binary.LittleEndian.Uint16(guid[4:6]), binary.LittleEndian.Uint16(guid[6:8]),
		guid[8:16], age)
	// %X of a byte slice has no separators and keeps leading zeros per byte.
	return Key{Name: baseName(pdbName), ID: id}
}

// ImageKey is the store key of a PE image (exe, dll, sys): TimeDateStamp as
// exactly eight upper-case hex digits, then SizeOfImage in lower-case hex
// without leading zeros (the form symstore writes and SSQP specifies).
func ImageKey(name string, timestamp, size uint32) Key {
	return Key{Name: baseName(name), ID: fmt.Sprintf("%08X%x", timestamp, size)}
}

// compressedName is the name a store uses for the CAB-compressed form of
// name: the last character becomes '_' (ntdll.pdb → ntdll.pd_).
func compressedName(name string) string {
	if name == "" || strings.HasSuffix(name, "_") {
		return ""
	}
	r := []rune(name)
	r[len(r)-1] = '_'
	return string(r)
}

// extOf is the extension of name without the dot, lower case ("pdb").
func extOf(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return ""
	}
	return strings.ToLower(name[i+1:])
}
