package commands

import (
	"strings"

	"wdb/dump"
	"wdb/heap"
	"wdb/symbols/pdb"
)

// Built-in NT structure layouts for dt when ntdll's PDB is not available.
//
// They are partial: each structure lists only the fields whose offsets wdb
// already relies on elsewhere — the PEB/TEB offsets of dump.Layout32 and
// dump.Layout64 (nt-heap.md §1.2), the loader and UNICODE_STRING offsets of
// the same table, the heap offsets of heap.LayoutFor (nt-heap.md §2, chosen
// by the dump's build family), and a few fields that are part of the
// public, never-changing ABI (NT_TIB and CLIENT_ID from winnt.h, the first
// bytes of the PEB, TEB.LastErrorValue that GetLastError reads at fs:[34h]
// / gs:[68h]). Fields between them are simply absent, so offsets jump; the
// field names, types and order follow ntdll's own PDB. Sizes are the
// structure sizes where nt-heap.md records them, else the end of the last
// known field.

// ntTypeNames are the structures dt knows without symbols.
var ntTypeNames = []string{"_CLIENT_ID", "_HEAP", "_HEAP_COUNTERS", "_HEAP_ENTRY", "_HEAP_SEGMENT", "_LDR_DATA_TABLE_ENTRY",
	"_LIST_ENTRY", "_NT_TIB", "_PEB", "_PEB_LDR_DATA", "_TEB", "_UNICODE_STRING"}

// isNTTypeName reports whether dt has a built-in layout for name (any case).
func isNTTypeName(name string) (string, bool) {
	for _, n := range ntTypeNames {
		if strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

// ntLayouts builds the built-in structures for a target of the given
// pointer size (4 or 8) and Windows build (0 when unknown: the heap
// structures then follow Windows 10 1809+).
type ntLayouts struct {
	ptr   int
	build uint32
	types map[string]*pdb.Type
}

func newNTLayouts(ptr int, build uint32) *ntLayouts {
	n := &ntLayouts{ptr: ptr, build: build, types: map[string]*pdb.Type{}}
	n.build1()
	return n
}

// ntLayoutsFor picks the layouts for a dump: its native bitness and build.
func ntLayoutsFor(f *dump.File) *ntLayouts {
	ptr, build := 8, uint32(0)
	if f != nil {
		if p := f.PointerSize(); p != 0 {
			ptr = p
		}
		if f.System != nil {
			build = f.System.BuildNumber
		}
	}
	return newNTLayouts(ptr, build)
}

func (n *ntLayouts) lookup(name string) (*pdb.Type, bool) {
	if canon, ok := isNTTypeName(name); ok {
		return n.types[canon], true
	}
	return nil, false
}

// udt returns the (possibly still empty) structure named name.
func (n *ntLayouts) udt(name string) *pdb.Type {
	if t, ok := n.types[name]; ok {
		return t
	}
	t := &pdb.Type{Kind: pdb.KindStruct, Name: name}
	n.types[name] = t
	return t
}

// opaque is a structure dt names but whose fields are unknown here.
func (n *ntLayouts) opaque(name string) *pdb.Type {
	if t, ok := n.types[name]; ok {
		return t
	}
	return &pdb.Type{Kind: pdb.KindStruct, Name: name, Forward: true}
}

func (n *ntLayouts) ptrTo(t *pdb.Type) *pdb.Type { return pdb.PointerTo(t, n.ptr) }

// sizeT is SIZE_T / ULONG_PTR: Uint4B or Uint8B.
func (n *ntLayouts) sizeT() *pdb.Type {
	if n.ptr == 4 {
		return pdb.SimpleType(pdb.TULong)
	}
	return pdb.SimpleType(pdb.TUQuad)
}

// pick chooses the x86 or the x64 offset.
func (n *ntLayouts) pick(x86, x64 int) int {
	if n.ptr == 4 {
		return x86
	}
	return x64
}

// fieldSpec is one field of a built-in layout; off < 0 leaves it out.
type fieldSpec struct {
	name string
	off  int
	t    *pdb.Type
}

// define fills a structure's fields, in the order ntdll's PDB declares
// them (union members share an offset), and its size (at least the end of
// the last field).
func (n *ntLayouts) define(name string, size int, specs ...fieldSpec) {
	t := n.udt(name)
	var fs []pdb.Field
	for _, s := range specs {
		if s.off < 0 {
			continue
		}
		fs = append(fs, pdb.Field{Name: s.name, Kind: pdb.FieldMember, Offset: uint64(s.off), Type: s.t})
	}
	t.Fields = fs
	end := uint64(size)
	for _, f := range fs {
		if e := f.Offset + f.Type.Size; e > end {
			end = e
		}
	}
	t.Size = end
}

func (n *ntLayouts) build1() {
	var (
		uchar  = pdb.SimpleType(pdb.TUChar)
		ushort = pdb.SimpleType(pdb.TUShort)
		ulong  = pdb.SimpleType(pdb.TULong)
		long   = pdb.SimpleType(pdb.TLong)
		wchar  = pdb.SimpleType(pdb.TWChar)
		void   = pdb.SimpleType(pdb.TVoid)
		pvoid  = n.ptrTo(void)
		sizeT  = n.sizeT()
		p      = n.pick
	)
	dl := &dump.Layout64
	if n.ptr == 4 {
		dl = &dump.Layout32
	}
	listEntry := n.udt("_LIST_ENTRY")
	n.define("_LIST_ENTRY", 2*n.ptr,
		fieldSpec{"Flink", 0, n.ptrTo(listEntry)},
		fieldSpec{"Blink", n.ptr, n.ptrTo(listEntry)})
	ustr := n.udt("_UNICODE_STRING")
	n.define("_UNICODE_STRING", 2*n.ptr,
		fieldSpec{"Length", 0, ushort},
		fieldSpec{"MaximumLength", 2, ushort},
		fieldSpec{"Buffer", p(4, 8), n.ptrTo(wchar)})
	n.define("_CLIENT_ID", 2*n.ptr,
		fieldSpec{"UniqueProcess", 0, pvoid},
		fieldSpec{"UniqueThread", n.ptr, pvoid})

	// NT_TIB (winnt.h): seven pointers.
	tib := n.udt("_NT_TIB")
	n.define("_NT_TIB", 7*n.ptr,
		fieldSpec{"ExceptionList", 0, n.ptrTo(n.opaque("_EXCEPTION_REGISTRATION_RECORD"))},
		fieldSpec{"StackBase", dl.TEBStackBase, pvoid},
		fieldSpec{"StackLimit", dl.TEBStackLimit, pvoid},
		fieldSpec{"SubSystemTib", 3 * n.ptr, pvoid},
		fieldSpec{"FiberData", 4 * n.ptr, pvoid},
		fieldSpec{"Version", 4 * n.ptr, ulong},
		fieldSpec{"ArbitraryUserPointer", 5 * n.ptr, pvoid},
		fieldSpec{"Self", dl.TEBSelf, n.ptrTo(tib)})

	peb := n.udt("_PEB")
	ldr := n.udt("_PEB_LDR_DATA")
	wowTeb := -1
	if n.build >= 10240 { // nt-heap.md §1.2: Win10+ PDBs; Win7 unconfirmed
		wowTeb = dl.TEBWowTebOffset
	}
	n.define("_TEB", 0,
		fieldSpec{"NtTib", 0, tib},
		fieldSpec{"EnvironmentPointer", 7 * n.ptr, pvoid},
		fieldSpec{"ClientId", dl.TEBClientID, n.types["_CLIENT_ID"]},
		fieldSpec{"ActiveRpcHandle", dl.TEBClientID + 2*n.ptr, pvoid},
		fieldSpec{"ThreadLocalStoragePointer", dl.TEBClientID + 3*n.ptr, pvoid},
		fieldSpec{"ProcessEnvironmentBlock", dl.TEBPEB, n.ptrTo(peb)},
		fieldSpec{"LastErrorValue", dl.TEBPEB + n.ptr, ulong},
		fieldSpec{"DeallocationStack", dl.TEBDeallocationStack, pvoid},
		fieldSpec{"TlsSlots", p(0xe10, 0x1480), pdb.ArrayOf(pvoid, 64)},
		fieldSpec{"WowTebOffset", wowTeb, long})

	pebSize := p(0x480, 0x7c8)
	n.define("_PEB", pebSize,
		fieldSpec{"InheritedAddressSpace", 0, uchar},
		fieldSpec{"ReadImageFileExecOptions", 1, uchar},
		fieldSpec{"BeingDebugged", 2, uchar},
		fieldSpec{"BitField", 3, uchar},
		fieldSpec{"Mutant", n.ptr, pvoid},
		fieldSpec{"ImageBaseAddress", dl.PEBImageBase, pvoid},
		fieldSpec{"Ldr", dl.PEBLdr, n.ptrTo(ldr)},
		fieldSpec{"ProcessParameters", dl.PEBProcessParameters, n.ptrTo(n.opaque("_RTL_USER_PROCESS_PARAMETERS"))},
		fieldSpec{"SubSystemData", dl.PEBProcessParameters + n.ptr, pvoid},
		fieldSpec{"ProcessHeap", dl.PEBProcessHeap, pvoid},
		fieldSpec{"FastPebLock", dl.PEBProcessHeap + n.ptr, n.ptrTo(n.opaque("_RTL_CRITICAL_SECTION"))},
		fieldSpec{"NtGlobalFlag", dl.PEBNtGlobalFlag, ulong},
		fieldSpec{"HeapSegmentReserve", p(0x78, 0xc8), sizeT},
		fieldSpec{"HeapSegmentCommit", p(0x7c, 0xd0), sizeT},
		fieldSpec{"NumberOfHeaps", dl.PEBNumberOfHeaps, ulong},
		fieldSpec{"MaximumNumberOfHeaps", dl.PEBMaxNumberOfHeaps, ulong},
		fieldSpec{"ProcessHeaps", dl.PEBProcessHeaps, n.ptrTo(pvoid)},
		fieldSpec{"OSMajorVersion", dl.PEBOSMajor, ulong},
		fieldSpec{"OSMinorVersion", dl.PEBOSMinor, ulong},
		fieldSpec{"OSBuildNumber", dl.PEBOSBuild, ushort},
		fieldSpec{"SessionId", p(0x1d4, 0x2c0), ulong})

	n.define("_PEB_LDR_DATA", p(0x30, 0x58),
		fieldSpec{"Length", 0, ulong},
		fieldSpec{"Initialized", 4, uchar},
		fieldSpec{"SsHandle", p(8, 8), pvoid},
		fieldSpec{"InLoadOrderModuleList", p(0x0c, 0x10), listEntry},
		fieldSpec{"InMemoryOrderModuleList", p(0x14, 0x20), listEntry},
		fieldSpec{"InInitializationOrderModuleList", p(0x1c, 0x30), listEntry})

	n.define("_LDR_DATA_TABLE_ENTRY", 0,
		fieldSpec{"InLoadOrderLinks", 0, listEntry},
		fieldSpec{"InMemoryOrderLinks", p(0x08, 0x10), listEntry},
		fieldSpec{"InInitializationOrderLinks", p(0x10, 0x20), listEntry},
		fieldSpec{"DllBase", p(0x18, 0x30), pvoid},
		fieldSpec{"EntryPoint", p(0x1c, 0x38), pvoid},
		fieldSpec{"SizeOfImage", p(0x20, 0x40), ulong},
		fieldSpec{"FullDllName", p(0x24, 0x48), ustr},
		fieldSpec{"BaseDllName", p(0x2c, 0x58), ustr},
		fieldSpec{"Flags", p(0x34, 0x68), ulong},
		fieldSpec{"TimeDateStamp", p(0x44, 0x80), ulong})

	// Heap structures: offsets from the heap walker's layout for the
	// dump's build family.
	fam := heap.FamilyForBuild(n.build)
	if fam == heap.FamilyUnknown {
		fam = heap.FamilyRS5
	}
	hl := heap.LayoutFor(fam, 8*n.ptr)
	entry := n.udt("_HEAP_ENTRY")
	if n.ptr == 8 {
		n.define("_HEAP_ENTRY", 16,
			fieldSpec{"PreviousBlockPrivateData", 0, pvoid},
			fieldSpec{"Size", 8, ushort},
			fieldSpec{"Flags", 0xa, uchar},
			fieldSpec{"SmallTagIndex", 0xb, uchar},
			fieldSpec{"SubSegmentCode", 8, ulong},
			fieldSpec{"PreviousSize", 0xc, ushort},
			fieldSpec{"SegmentOffset", 0xe, uchar},
			fieldSpec{"LFHFlags", 0xe, uchar},
			fieldSpec{"UnusedBytes", 0xf, uchar},
			fieldSpec{"UnusedBytesLength", 0xc, ushort},
			fieldSpec{"EntryOffset", 0xe, uchar},
			fieldSpec{"ExtendedBlockSignature", 0xf, uchar})
	} else {
		n.define("_HEAP_ENTRY", 8,
			fieldSpec{"Size", 0, ushort},
			fieldSpec{"Flags", 2, uchar},
			fieldSpec{"SmallTagIndex", 3, uchar},
			fieldSpec{"SubSegmentCode", 0, ulong},
			fieldSpec{"PreviousSize", 4, ushort},
			fieldSpec{"SegmentOffset", 6, uchar},
			fieldSpec{"LFHFlags", 6, uchar},
			fieldSpec{"UnusedBytes", 7, uchar},
			fieldSpec{"UnusedBytesLength", 4, ushort},
			fieldSpec{"EntryOffset", 6, uchar},
			fieldSpec{"ExtendedBlockSignature", 7, uchar})
	}
	heapT := n.udt("_HEAP")
	segment := []fieldSpec{
		{"Entry", 0, entry},
		{"SegmentSignature", hl.SegSignature, ulong},
		{"SegmentFlags", hl.SegFlags, ulong},
		{"SegmentListEntry", hl.SegListEntry, listEntry},
		{"Heap", hl.SegHeap, n.ptrTo(heapT)},
		{"BaseAddress", hl.SegBaseAddress, pvoid},
		{"NumberOfPages", hl.SegNumberOfPages, ulong},
		{"FirstEntry", hl.SegFirstEntry, n.ptrTo(entry)},
		{"LastValidEntry", hl.SegLastValidEntry, n.ptrTo(entry)},
		{"NumberOfUnCommittedPages", hl.SegUncommittedPages, ulong},
		{"NumberOfUnCommittedRanges", hl.SegUncommittedRanges, ulong},
		{"UCRSegmentList", hl.SegUCRList, listEntry},
	}
	n.define("_HEAP_SEGMENT", hl.SegSize, segment...)
	counters := n.udt("_HEAP_COUNTERS")
	n.define("_HEAP_COUNTERS", 0,
		fieldSpec{"TotalMemoryReserved", hl.CtrReserved, sizeT},
		fieldSpec{"TotalMemoryCommitted", hl.CtrCommitted, sizeT},
		fieldSpec{"TotalMemoryLargeUCR", hl.CtrLargeUCR, sizeT},
		fieldSpec{"TotalSizeInVirtualBlocks", hl.CtrVirtualBlocks, sizeT},
		fieldSpec{"TotalSegments", hl.CtrSegments, ulong},
		fieldSpec{"TotalUCRs", hl.CtrUCRs, ulong},
		fieldSpec{"CommittOps", hl.CtrCommitOps, ulong},
		fieldSpec{"DeCommitOps", hl.CtrDecommitOps, ulong},
		fieldSpec{"LockAcquires", hl.CtrLockAcquires, ulong},
		fieldSpec{"LockCollisions", hl.CtrLockCollisions, ulong})
	var hs []fieldSpec
	if fam != heap.FamilyW7 {
		// Windows 8 and later open _HEAP with a Segment union over the
		// segment fields.
		hs = append(hs, fieldSpec{"Segment", 0, n.types["_HEAP_SEGMENT"]})
	}
	hs = append(hs, segment...)
	hs = append(hs,
		fieldSpec{"Flags", hl.HeapFlags, ulong},
		fieldSpec{"ForceFlags", hl.HeapForceFlags, ulong},
		fieldSpec{"CompatibilityFlags", hl.HeapCompatibilityFlags, ulong},
		fieldSpec{"EncodeFlagMask", hl.HeapEncodeFlagMask, ulong},
		fieldSpec{"Encoding", hl.HeapEncoding - hl.Hdr, entry},
		fieldSpec{"VirtualMemoryThreshold", hl.HeapVirtualMemoryThreshold, ulong},
		fieldSpec{"Signature", hl.HeapSignature, ulong},
		fieldSpec{"SegmentReserve", hl.HeapSegmentReserve, sizeT},
		fieldSpec{"SegmentCommit", hl.HeapSegmentCommit, sizeT},
		fieldSpec{"DeCommitFreeBlockThreshold", hl.HeapDeCommitFreeBlockThreshold, sizeT},
		fieldSpec{"DeCommitTotalFreeThreshold", hl.HeapDeCommitTotalFreeThreshold, sizeT},
		fieldSpec{"TotalFreeSize", hl.HeapTotalFreeSize, sizeT},
		fieldSpec{"MaximumAllocationSize", hl.HeapMaximumAllocationSize, sizeT},
		fieldSpec{"ProcessHeapsListIndex", hl.HeapProcessHeapsListIndex, ushort},
		fieldSpec{"NextAvailableTagIndex", hl.HeapNextAvailableTagIndex, ushort},
		fieldSpec{"MaximumTagIndex", hl.HeapMaximumTagIndex, ushort},
		fieldSpec{"TagEntries", hl.HeapTagEntries, n.ptrTo(n.opaque("_HEAP_TAG_ENTRY"))},
		fieldSpec{"UCRList", hl.HeapUCRList, listEntry},
		fieldSpec{"AlignRound", hl.HeapAlignRound, sizeT},
		fieldSpec{"AlignMask", hl.HeapAlignMask, sizeT},
		fieldSpec{"VirtualAllocdBlocks", hl.HeapVirtualAllocdBlocks, listEntry},
		fieldSpec{"SegmentList", hl.HeapSegmentList, listEntry},
		fieldSpec{"BlocksIndex", hl.HeapBlocksIndex, pvoid},
		fieldSpec{"UCRIndex", hl.HeapUCRIndex, pvoid},
		fieldSpec{"PseudoTagEntries", hl.HeapPseudoTagEntries, n.ptrTo(n.opaque("_HEAP_PSEUDO_TAG_ENTRY"))},
		fieldSpec{"FreeLists", hl.HeapFreeLists, listEntry},
		fieldSpec{"LockVariable", hl.HeapLockVariable, n.ptrTo(n.opaque("_HEAP_LOCK"))},
		fieldSpec{"FrontEndHeap", hl.HeapFrontEndHeap, pvoid},
		fieldSpec{"FrontEndHeapType", hl.HeapFrontEndHeapType, uchar},
		fieldSpec{"Counters", hl.HeapCounters, counters})
	n.define("_HEAP", hl.HeapSize, hs...)
}
