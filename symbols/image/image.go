// Package image reads the PE images of a dump's modules: headers, sections,
// data directories, the export table and the CodeView record.
//
// Symbols need an image for three things the module list does not give:
// export names (x, ln and k without a PDB), the CodeView identity when the
// dump's module record has none (Wine), and the locations of .pdata and the
// code bytes (x64 unwinding, u). An image comes either from the dump's own
// memory, in the loader's mapped layout (FromMemory), or from an image file in
// the on-disk layout (FromFile). Both go through one parser that reads by RVA
// (see reader); only the RVA-to-bytes step differs.
//
// Dumps rarely hold whole images: often only the header page, often nothing.
// The parser therefore keeps whatever it could read and records what it could
// not in Image.Notes ("exports: page at 0x77c01000 not captured in the dump")
// instead of failing or guessing. Every count and size taken from the image is
// bounded by the image size, so damaged or hostile bytes cannot make it
// allocate without bound or panic.
package image

import (
	"sort"

	"wdb/dump"
)

// Data directory indexes (IMAGE_DIRECTORY_ENTRY_*).
const (
	DirExport      = 0
	DirImport      = 1
	DirResource    = 2
	DirException   = 3 // .pdata: RUNTIME_FUNCTION entries for x64 unwinding
	DirSecurity    = 4 // a FILE offset, not an RVA
	DirBaseReloc   = 5
	DirDebug       = 6
	DirArch        = 7
	DirGlobalPtr   = 8
	DirTLS         = 9
	DirLoadConfig  = 10
	DirBoundImport = 11
	DirIAT         = 12
	DirDelayImport = 13
	DirCLR         = 14
)

// Machine values (IMAGE_FILE_MACHINE_*) the debugger meets.
const (
	MachineI386  = 0x014c
	MachineAMD64 = 0x8664
	MachineARM64 = 0xaa64
)

// Limits on what the image may make us read; real images stay far below.
const (
	maxNameLen    = 4096    // export, forwarder and PDB names
	maxFunctions  = 1 << 16 // ordinals are 16-bit
	maxNames      = 1 << 17 // names beyond 64K can only repeat functions
	maxSections   = 96      // the Windows loader's limit
	maxDebugDirs  = 256
	maxCodeView   = 64 << 10 // same bound as the minidump CvRecord reader
	maxImageBytes = 1 << 31  // PE RVAs are below 2 GiB in practice
)

// Image is what could be read of one PE image.
type Image struct {
	// Base is where RVAs are relative to: the module's load address for
	// FromMemory, the preferred ImageBase for FromFile (the caller relocates
	// to the module's base).
	Base uint64
	// ImageBase is OptionalHeader.ImageBase as the headers say.
	ImageBase uint64
	// File is the image file's path; "" for an image read from dump memory.
	File string

	Is64          bool
	Machine       uint16
	TimeDateStamp uint32
	SizeOfImage   uint32
	SizeOfHeaders uint32
	Checksum      uint32
	EntryPoint    uint32 // RVA; 0 when the image has none

	Sections    []Section
	Directories [16]Dir

	// Exports holds one entry per exported name, then one per function
	// exported by ordinal only (Name ""), in export-table order.
	Exports       []Export
	ExportDLLName string

	// CodeView is the RSDS/NB10 record of the image's debug directory; nil
	// when the image has none or it could not be read (see Notes).
	CodeView *dump.CodeView

	// Notes says what could not be read or did not add up, one line each,
	// prefixed with the part concerned ("exports: ...").
	Notes []string

	sorted []Export       // exports with an address, by RVA
	byName map[string]int // name -> index in Exports
}

// Section is one section header.
type Section struct {
	Name             string // raw 8-byte name up to its first NUL
	VirtualAddress   uint32
	VirtualSize      uint32
	Characteristics  uint32
	PointerToRawData uint32 // file layout only
	SizeOfRawData    uint32
}

// Size is the section's extent in the mapped image: VirtualSize, or the raw
// size when the linker left VirtualSize zero.
func (s Section) Size() uint32 {
	if s.VirtualSize != 0 {
		return s.VirtualSize
	}
	return s.SizeOfRawData
}

// Contains reports whether rva lies in the section.
func (s Section) Contains(rva uint32) bool {
	return rva >= s.VirtualAddress && uint64(rva) < uint64(s.VirtualAddress)+uint64(s.Size())
}

// Section characteristics the debugger looks at.
const (
	SectionCode    = 0x00000020
	SectionExecute = 0x20000000
)

// Executable reports whether the section holds code.
func (s Section) Executable() bool {
	return s.Characteristics&(SectionCode|SectionExecute) != 0
}

// Dir is one data directory entry.
type Dir struct {
	RVA  uint32
	Size uint32
}

// Export is one exported function.
type Export struct {
	Name    string // raw bytes of the name; "" when exported by ordinal only
	Ordinal uint16 // biased by the directory's Base, as GetProcAddress takes it
	// RVA of the function; 0 for a forwarder, which has no address in this
	// module.
	RVA       uint32
	Forwarder string // "NTDLL.RtlAllocateHeap" for a forwarded export
}

// finish builds the lookup indexes once, so lookups on a returned Image are
// read-only and safe from several goroutines.
func (im *Image) finish() {
	im.sorted = sortExports(im.Exports)
	im.byName = make(map[string]int, len(im.Exports))
	for i, e := range im.Exports {
		if e.Name == "" {
			continue
		}
		if _, dup := im.byName[e.Name]; !dup {
			im.byName[e.Name] = i
		}
	}
}

func sortExports(all []Export) []Export {
	out := make([]Export, 0, len(all))
	for _, e := range all {
		if e.Forwarder == "" && e.RVA != 0 {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].RVA != out[j].RVA {
			return out[i].RVA < out[j].RVA
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ExportsSorted returns the exports that have an address in this module
// (forwarders left out), by RVA and then name. The slice is shared: do not
// modify it.
func (im *Image) ExportsSorted() []Export {
	if im.sorted == nil && len(im.Exports) > 0 {
		return sortExports(im.Exports)
	}
	return im.sorted
}

// ExportByName finds an export by its exact (case-sensitive) name.
func (im *Image) ExportByName(name string) (Export, bool) {
	if im.byName != nil {
		if i, ok := im.byName[name]; ok {
			return im.Exports[i], true
		}
		return Export{}, false
	}
	for _, e := range im.Exports {
		if e.Name != "" && e.Name == name {
			return e, true
		}
	}
	return Export{}, false
}

// NearestExport returns the export with the highest RVA at or below rva and
// the displacement of rva from it. Whether that displacement is plausible
// (same section, not past the function) is the caller's call.
func (im *Image) NearestExport(rva uint32) (Export, uint32, bool) {
	s := im.ExportsSorted()
	i := sort.Search(len(s), func(i int) bool { return s[i].RVA > rva })
	if i == 0 {
		return Export{}, 0, false
	}
	e := s[i-1]
	// Several names for one address: report the first by name.
	for i-2 >= 0 && s[i-2].RVA == e.RVA {
		i--
		e = s[i-1]
	}
	return e, rva - e.RVA, true
}

// SectionAt returns the section holding rva.
func (im *Image) SectionAt(rva uint32) (Section, bool) {
	for _, s := range im.Sections {
		if s.Contains(rva) {
			return s, true
		}
	}
	return Section{}, false
}

// Directory returns data directory i, or a zero Dir for an index out of range.
func (im *Image) Directory(i int) Dir {
	if i < 0 || i >= len(im.Directories) {
		return Dir{}
	}
	return im.Directories[i]
}
