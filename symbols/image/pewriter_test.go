package image

import (
	"encoding/binary"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

// A tiny PE writer: every byte of the test images is known, so the parser's
// results can be checked exactly, and corrupt variants are a Patch away.
//
// Layout (both bitnesses): headers 0x400 bytes; one .text section at RVA
// 0x1000 (VirtualSize 0x900, raw data at file offset 0x400, 0xa00 bytes)
// holding three "functions", the export directory, the debug directory with
// its RSDS record and, for PE32+, a one-entry .pdata. SizeOfImage 0x2000.
const (
	tLfanew      = 0x80
	tSizeHeaders = 0x400
	tTextRVA     = 0x1000
	tTextVSize   = 0x900
	tTextRaw     = 0x400
	tTextRawSize = 0xa00
	tSizeOfImage = 0x2000
	tExportDir   = 0x1100
	tExportSize  = 0xe0
	tFuncs       = 0x1130
	tNames       = 0x1140
	tOrdinals    = 0x1150
	tDLLName     = 0x1180
	tName0       = 0x1190 // ?Decorated@@YAXXZ
	tName1       = 0x11a8 // Fwd
	tName2       = 0x11b0 // Odd.Name-1
	tForwarder   = 0x11c0
	tDebugDir    = 0x1200
	tCodeView    = 0x1220
	tPdata       = 0x1300
	tOrdinalBase = 5
	tTimestamp   = 0x5f3e1a2b
	tPDBName     = `C:\build\test.pdb`
	tFileSize    = tTextRaw + tTextRawSize
	tBase64      = 0x7ff6_1000_0000
	tBase32      = 0x6d40_0000
)

var tGUID = dumpbuild.MustGUID("3249D99D-0C40-4931-8610-F4E4FB0B6936")

type testPE struct {
	is64   bool
	file   []byte // on-disk layout
	mapped []byte // loaded layout, SizeOfImage bytes
}

// offsets of header fields, for patches.
func (t *testPE) optOff() int { return tLfanew + 24 }
func (t *testPE) ddOff() int {
	if t.is64 {
		return t.optOff() + dataDirOff64
	}
	return t.optOff() + dataDirOff32
}
func (t *testPE) secOff() int {
	if t.is64 {
		return t.optOff() + 240
	}
	return t.optOff() + 224
}

func newTestPE(is64 bool) *testPE {
	t := &testPE{is64: is64}
	f := make([]byte, tFileSize)
	p16 := func(off int, v uint16) { binary.LittleEndian.PutUint16(f[off:], v) }
	p32 := func(off int, v uint32) { binary.LittleEndian.PutUint32(f[off:], v) }
	p64 := func(off int, v uint64) { binary.LittleEndian.PutUint64(f[off:], v) }
	// rva→file offset inside .text
	at := func(rva uint32) int { return int(rva-tTextRVA) + tTextRaw }

	copy(f, "MZ")
	p32(lfanewOffset, tLfanew)
	copy(f[tLfanew:], "PE\x00\x00")
	fh := tLfanew + 4
	opt := t.optOff()
	if is64 {
		p16(fh, MachineAMD64)
		p16(fh+16, 240)
		p16(fh+18, 0x2022) // EXECUTABLE | LARGE_ADDRESS_AWARE | DLL
	} else {
		p16(fh, MachineI386)
		p16(fh+16, 224)
		p16(fh+18, 0x2102) // EXECUTABLE | 32BIT | DLL
	}
	p16(fh+2, 1) // NumberOfSections
	p32(fh+4, tTimestamp)

	if is64 {
		p16(opt, magicPE32Plus)
		p64(opt+24, tBase64)
	} else {
		p16(opt, magicPE32)
		p32(opt+28, tBase32)
	}
	p32(opt+16, tTextRVA) // AddressOfEntryPoint
	p32(opt+20, tTextRVA) // BaseOfCode
	p32(opt+32, 0x1000)   // SectionAlignment
	p32(opt+36, 0x200)    // FileAlignment
	p16(opt+40, 6)        // OS version 6.1
	p16(opt+42, 1)
	p16(opt+48, 6) // subsystem version
	p16(opt+50, 1)
	p32(opt+56, tSizeOfImage)
	p32(opt+60, tSizeHeaders)
	p32(opt+64, 0x1234) // CheckSum
	p16(opt+68, 3)      // console
	dd := t.ddOff()
	p32(dd-4, 16) // NumberOfRvaAndSizes
	dir := func(i int, rva, size uint32) { p32(dd+8*i, rva); p32(dd+8*i+4, size) }
	dir(DirExport, tExportDir, tExportSize)
	dir(DirDebug, tDebugDir, debugDirEntSize)
	if is64 {
		dir(DirException, tPdata, 12)
	}

	sec := t.secOff()
	copy(f[sec:], ".text")
	p32(sec+8, tTextVSize)
	p32(sec+12, tTextRVA)
	p32(sec+16, tTextRawSize)
	p32(sec+20, tTextRaw)
	p32(sec+36, 0x60000020) // CODE | EXECUTE | READ

	// Three functions: ret; with int3 padding.
	for _, rva := range []uint32{0x1000, 0x1010, 0x1020} {
		f[at(rva)] = 0xc3
		for i := 1; i < 16; i++ {
			f[at(rva)+i] = 0xcc
		}
	}

	e := at(tExportDir)
	p32(e+expName, tDLLName)
	p32(e+expBase, tOrdinalBase)
	p32(e+expNumFuncs, 4)
	p32(e+expNumNames, 3)
	p32(e+expAddrFuncs, tFuncs)
	p32(e+expAddrNames, tNames)
	p32(e+expAddrOrdinal, tOrdinals)
	for i, v := range []uint32{0x1000, tForwarder, 0x1010, 0x1020} {
		p32(at(tFuncs)+4*i, v)
	}
	// Names sorted by byte value, as the loader's binary search needs.
	for i, v := range []uint32{tName0, tName1, tName2} {
		p32(at(tNames)+4*i, v)
	}
	for i, v := range []uint16{0, 1, 2} {
		p16(at(tOrdinals)+2*i, v)
	}
	copy(f[at(tDLLName):], "test.dll\x00")
	copy(f[at(tName0):], "?Decorated@@YAXXZ\x00")
	copy(f[at(tName1):], "Fwd\x00")
	copy(f[at(tName2):], "Odd.Name-1\x00")
	copy(f[at(tForwarder):], "NTDLL.RtlAllocateHeap\x00")

	cvSize := uint32(24 + len(tPDBName) + 1)
	d := at(tDebugDir)
	p32(d+4, tTimestamp)
	p32(d+dbgType, debugTypeCodeView)
	p32(d+dbgSizeOfData, cvSize)
	p32(d+dbgAddrOfRawData, tCodeView)
	p32(d+dbgPtrToRawData, uint32(at(tCodeView)))
	c := at(tCodeView)
	copy(f[c:], "RSDS")
	copy(f[c+4:], tGUID[:])
	p32(c+20, 3)
	copy(f[c+24:], tPDBName+"\x00")

	if is64 {
		p32(at(tPdata), 0x1000)
		p32(at(tPdata)+4, 0x1001)
		p32(at(tPdata)+8, 0x1400)
	}

	t.file = f
	t.remap()
	return t
}

// remap lays the file out as the loader maps it.
func (t *testPE) remap() {
	m := make([]byte, tSizeOfImage)
	copy(m, t.file[:tSizeHeaders])
	copy(m[tTextRVA:tTextRVA+tTextVSize], t.file[tTextRaw:])
	t.mapped = m
}

func (t *testPE) base() uint64 {
	if t.is64 {
		return tBase64
	}
	return tBase32
}

// wantExports is the export list of the test image, in table order.
func wantExports() []Export {
	return []Export{
		{Name: "?Decorated@@YAXXZ", Ordinal: 5, RVA: 0x1000},
		{Name: "Fwd", Ordinal: 6, Forwarder: "NTDLL.RtlAllocateHeap"},
		{Name: "Odd.Name-1", Ordinal: 7, RVA: 0x1010},
		{Name: "", Ordinal: 8, RVA: 0x1020},
	}
}

func wantCodeView() *dump.CodeView {
	return &dump.CodeView{Signature: "RSDS", GUID: tGUID, Age: 3, PDBName: tPDBName}
}

// dumpWith makes a minidump holding one module whose memory is mem (placed
// at the module base; nil captures nothing).
func dumpWith(is64 bool, base uint64, size uint32, mem []byte, cv bool) (*dump.File, error) {
	arch := dumpbuild.X86
	if is64 {
		arch = dumpbuild.X64
	}
	b := dumpbuild.New(arch)
	m := dumpbuild.Module{Name: `C:\test\test.dll`, Base: base, Size: size, TimeDateStamp: tTimestamp, Checksum: 0x1234}
	if cv {
		m.PDBName, m.GUID, m.Age = tPDBName, tGUID, 3
	}
	b.Module(m)
	if len(mem) > 0 {
		b.Memory64(base, mem)
	}
	raw, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	return dump.OpenBytes(raw, "test.dmp")
}
