package sample

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
)

// appFacts are the numbers of the app.exe/app.pdb fixture the generator
// needs, as testdata/fixtures/facts.json and the disassembly give them
// (TestAppFactsMatchFixtures checks them against facts.json).
type appFacts struct {
	arch      string
	base      uint64
	size      uint32
	timestamp uint32
	guid      string

	vftSerializer, vftCommunicator, vftBuffer uint32
	open, connect, leakOne, appMain           uint32

	// Return addresses of the calls on the failing path: after
	// "call [__imp_MapViewOfFile]" in Open, "call [rax+8]" (Open) in
	// Connect, "call [rax+16]" (Connect) in LeakOne and "call LeakOne" in
	// AppMain.
	retOpen, retConnect, retLeakOne, retAppMain uint32

	gCommunicators, gCount, sOpenViews, sNextID uint32
	iat                                         map[string]uint32

	// Object sizes (operator new's argument) and where the view base sits.
	objSize, serSize, bufSize uint64
}

var appX64 = appFacts{
	arch: "x64", base: 0x140000000, size: 0x5000, timestamp: 0x72B7BE54,
	guid:          "1683DF24-7AFA-8F9C-4C4C-44205044422E",
	vftSerializer: 0x2038, vftCommunicator: 0x2068, vftBuffer: 0x2148,
	open: 0x10f8, connect: 0x1340, leakOne: 0x146d, appMain: 0x14a4,
	retOpen: 0x1181, retConnect: 0x135f, retLeakOne: 0x1488, retAppMain: 0x14f5,
	gCommunicators: 0x30b0, gCount: 0x3130, sOpenViews: 0x3134, sNextID: 0x3008,
	iat: map[string]uint32{"CloseHandle": 0x22d8, "CreateFileMappingW": 0x22e0, "ExitProcess": 0x22e8,
		"GetProcessHeap": 0x22f0, "HeapAlloc": 0x22f8, "HeapFree": 0x2300, "MapViewOfFile": 0x2308, "UnmapViewOfFile": 0x2310},
	objSize: 0x28, serSize: 0x20, bufSize: 0x20,
}

var appX86 = appFacts{
	arch: "x86", base: 0x400000, size: 0x5000, timestamp: 0x9B22721C,
	guid:          "3ADAE44A-3316-0651-4C4C-44205044422E",
	vftSerializer: 0x2034, vftCommunicator: 0x2048, vftBuffer: 0x2110,
	open: 0x1140, connect: 0x132c, leakOne: 0x1404, appMain: 0x142e,
	retOpen: 0x11b8, retConnect: 0x1344, retLeakOne: 0x141d, retAppMain: 0x147e,
	gCommunicators: 0x3074, gCount: 0x30b4, sOpenViews: 0x30b8, sNextID: 0x3004,
	iat: map[string]uint32{"CloseHandle": 0x2274, "CreateFileMappingW": 0x2278, "ExitProcess": 0x227c,
		"GetProcessHeap": 0x2280, "HeapAlloc": 0x2284, "HeapFree": 0x2288, "MapViewOfFile": 0x228c, "UnmapViewOfFile": 0x2290},
	objSize: 0x20, serSize: 0x20, bufSize: 0x20,
}

// section is one section of a mapped image, for the memory map.
type section struct {
	name    string
	rva     uint32
	size    uint32 // virtual size rounded up to pages
	protect uint32
}

// mapImage lays a PE file out as the loader maps it: headers at 0, every
// section at its RVA, SizeOfImage bytes in all.
func mapImage(file []byte) ([]byte, []section, error) {
	f, err := pe.NewFile(bytes.NewReader(file))
	if err != nil {
		return nil, nil, err
	}
	var sizeOfImage, sizeOfHeaders uint32
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		sizeOfImage, sizeOfHeaders = oh.SizeOfImage, oh.SizeOfHeaders
	case *pe.OptionalHeader64:
		sizeOfImage, sizeOfHeaders = oh.SizeOfImage, oh.SizeOfHeaders
	default:
		return nil, nil, fmt.Errorf("no optional header")
	}
	img := make([]byte, sizeOfImage)
	copy(img, file[:sizeOfHeaders])
	secs := []section{{name: "headers", rva: 0, size: pageUp(sizeOfHeaders), protect: pageReadOnly}}
	for _, s := range f.Sections {
		n := min(s.Size, s.VirtualSize)
		if uint64(s.Offset)+uint64(n) > uint64(len(file)) || uint64(s.VirtualAddress)+uint64(n) > uint64(len(img)) {
			return nil, nil, fmt.Errorf("section %s out of range", s.Name)
		}
		copy(img[s.VirtualAddress:], file[s.Offset:s.Offset+n])
		secs = append(secs, section{name: s.Name, rva: s.VirtualAddress, size: pageUp(s.VirtualSize), protect: sectionProtect(s.Characteristics)})
	}
	return img, secs, nil
}

// sectionProtect is the page protection the loader gives a section.
func sectionProtect(ch uint32) uint32 {
	const exec, write = 0x20000000, 0x80000000
	switch {
	case ch&exec != 0:
		return pageExecuteRead
	case ch&write != 0:
		return pageReadWrite
	}
	return pageReadOnly
}

func pageUp(n uint32) uint32 { return (n + 0xfff) &^ 0xfff }

// putPtr writes a pointer of size ptr (4 or 8) at b[off:].
func putPtr(b []byte, off uint64, v uint64, ptr int) {
	if ptr == 4 {
		binary.LittleEndian.PutUint32(b[off:], uint32(v))
	} else {
		binary.LittleEndian.PutUint64(b[off:], v)
	}
}
