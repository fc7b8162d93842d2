// Package dumpbuild writes Windows user-mode minidumps for tests.
//
// The reader in package dump, command transcripts and benchmarks need dumps
// whose every byte is known, without shipping binary fixtures. A Builder
// collects typed records (system, modules, threads, memory, ...) and lays them
// out in the documented MINIDUMP_* formats of minidumpapiset.h. Output is
// deterministic: the same calls give the same bytes. Zero-filled memory can be
// described without materializing it, so a multi-gigabyte full-memory dump
// costs little RAM and, written with WriteFile, little disk.
//
// Malformed dumps for robustness tests come from Break (see Malformation) and
// from the byte-level helpers Truncate and Patch.
package dumpbuild

import (
	"errors"
	"fmt"
	"strings"

	"wdb/dump"
)

// Architectures a Builder can write contexts for.
const (
	X86 = dump.ArchX86
	X64 = dump.ArchAMD64
)

// minidumpVersion is MINIDUMP_VERSION, the low word of MINIDUMP_HEADER.Version.
const minidumpVersion = 0xa793

// DefaultTimeDateStamp is the header time used unless TimeDateStamp is called
// (2023-11-14 22:13:20 UTC), fixed so output stays deterministic.
const DefaultTimeDateStamp = 1700000000

// Builder accumulates the contents of one minidump. Methods record the first
// invalid input as an error reported by Image, Bytes and WriteFile, so call
// sites stay terse. A Builder is not safe for concurrent use.
type Builder struct {
	arch           dump.Arch
	err            error
	version        uint32
	flags          uint64
	flagsSet       bool
	timeDateStamp  uint32
	sys            SystemInfo
	misc           *MiscInfo
	modules        []Module
	unloaded       []UnloadedModule
	threads        []Thread
	threadInfos    []ThreadInfo
	exc            *Exception
	mem            []memRange
	mem64          []mem64Range
	regions        []Region
	handles        []Handle
	handleDescSize int
	extra          []rawStream
	unused         int
	breaks         []breakReq
}

type memRange struct {
	addr uint64
	data []byte
}

// mem64Range is either data or, when data is nil, zeros bytes of zero.
type mem64Range struct {
	addr  uint64
	data  []byte
	zeros uint64
}

type rawStream struct {
	typ  dump.StreamType
	data []byte
}

// New returns a Builder for arch (X86 or X64) with DefaultSystem(arch) as its
// system information and DefaultTimeDateStamp as its header time.
func New(arch dump.Arch) *Builder {
	b := &Builder{
		arch:           arch,
		version:        minidumpVersion,
		timeDateStamp:  DefaultTimeDateStamp,
		handleDescSize: 40,
	}
	if arch != X86 && arch != X64 {
		b.fail(fmt.Errorf("dumpbuild: unsupported architecture %v", arch))
	}
	b.sys = DefaultSystem(arch)
	return b
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Arch reports the architecture the Builder writes contexts for.
func (b *Builder) Arch() dump.Arch { return b.arch }

// Flags sets MINIDUMP_HEADER.Flags (dump.Flag* values) exactly. Without it the
// flags are derived from the content: full memory for Memory64 ranges, handle
// data, unloaded modules, full memory info and thread info when present.
func (b *Builder) Flags(f uint64) {
	b.flags = f
	b.flagsSet = true
}

// TimeDateStamp sets MINIDUMP_HEADER.TimeDateStamp (seconds since 1970, UTC).
func (b *Builder) TimeDateStamp(t uint32) { b.timeDateStamp = t }

// Version sets MINIDUMP_HEADER.Version in full. The low word should be
// MINIDUMP_VERSION (0xa793); the high word is implementation specific and
// defaults to zero.
func (b *Builder) Version(v uint32) { b.version = v }

// SystemInfo is MINIDUMP_SYSTEM_INFO. Zero fields are written as zero, except
// ProcessorArchitecture, where zero means the Builder's architecture.
type SystemInfo struct {
	ProcessorArchitecture uint16 // dump.Processor*; 0 means from the Builder's Arch
	ProcessorLevel        uint16
	ProcessorRevision     uint16
	NumberOfProcessors    uint8
	ProductType           uint8 // 1 workstation, 2 domain controller, 3 server
	Major, Minor, Build   uint32
	PlatformID            uint32 // 2 is VER_PLATFORM_WIN32_NT
	CSD                   string // service pack text, written as a MINIDUMP_STRING
	SuiteMask             uint16

	// VendorID, when set, selects the X86CpuInfo arm of the CPU union (as
	// dbghelp writes for x86 and x64): the 12-byte CPUID vendor string and
	// CPUID leaf 1 EAX/EDX plus the AMD extended features.
	VendorID               string
	VersionInformation     uint32
	FeatureInformation     uint32
	AMDExtendedCPUFeatures uint32
	// ProcessorFeatures is the OtherCpuInfo arm, written when VendorID is "".
	ProcessorFeatures [2]uint64
}

// DefaultSystem is Windows 10 22H2 (build 19045) on a 4-processor Intel
// machine, workstation, single-user terminal services suite.
func DefaultSystem(arch dump.Arch) SystemInfo {
	pa := uint16(dump.ProcessorAMD64)
	if arch == X86 {
		pa = dump.ProcessorX86
	}
	return SystemInfo{
		ProcessorArchitecture: pa,
		ProcessorLevel:        6,
		ProcessorRevision:     0x9e0a,
		NumberOfProcessors:    4,
		ProductType:           1,
		Major:                 10,
		Minor:                 0,
		Build:                 19045,
		PlatformID:            2,
		SuiteMask:             0x100,
		VendorID:              "GenuineIntel",
		VersionInformation:    0x000906ea,
		FeatureInformation:    0xbfebfbff,
	}
}

// System replaces the system information stream's contents.
func (b *Builder) System(si SystemInfo) {
	if len(si.VendorID) > 12 {
		b.fail(fmt.Errorf("dumpbuild: vendor id %q longer than 12 bytes", si.VendorID))
	}
	b.sys = si
}

// SystemTime is the Windows SYSTEMTIME used inside TimeZone.
type SystemTime struct {
	Year, Month, DayOfWeek, Day, Hour, Minute, Second, Milliseconds uint16
}

// TimeZone is TIME_ZONE_INFORMATION; names are at most 31 UTF-16 units.
type TimeZone struct {
	Bias         int32
	StandardName string
	StandardDate SystemTime
	StandardBias int32
	DaylightName string
	DaylightDate SystemTime
	DaylightBias int32
}

// MiscInfo is MINIDUMP_MISC_INFO through MINIDUMP_MISC_INFO_5. Level selects
// the structure and so SizeOfInfo: 1..5 give 24, 44, 232, 832 and 1364 bytes;
// 0 means 3. Fields beyond the chosen level are ignored.
type MiscInfo struct {
	Level int
	// Flags1 is written as given when nonzero. Otherwise it is derived from
	// Level: PROCESS_ID|PROCESS_TIMES, +PROCESSOR_POWER_INFO (2), +INTEGRITY|
	// EXECUTE_FLAGS|TIMEZONE (3, and PROTECTED_PROCESS if ProtectedProcess is
	// nonzero), +BUILDSTRING (4), +PROCESS_COOKIE (5).
	Flags1 uint32

	PID                    uint32
	CreateTime             uint32 // time_t seconds
	UserTime, KernelTime   uint32 // seconds
	ProcessorMaxMhz        uint32
	ProcessorCurrentMhz    uint32
	ProcessorMhzLimit      uint32
	ProcessorMaxIdleState  uint32
	ProcessorCurIdleState  uint32
	IntegrityLevel         uint32
	ExecuteFlags           uint32
	ProtectedProcess       uint32
	TimeZoneID             uint32
	TimeZone               TimeZone
	BuildString, DbgBldStr string // at most 259 and 39 UTF-16 units
	// The XSTATE_CONFIG_FEATURE_MSC_INFO of level 5 is written as zeros.
	ProcessCookie uint32
}

// Misc sets the misc info stream; without a call the dump has none.
func (b *Builder) Misc(m MiscInfo) {
	if m.Level == 0 {
		m.Level = 3
	}
	if m.Level < 1 || m.Level > 5 {
		b.fail(fmt.Errorf("dumpbuild: misc info level %d not in 1..5", m.Level))
		return
	}
	b.misc = &m
}

// Module is one MINIDUMP_MODULE with its name, version and CodeView record.
type Module struct {
	Name          string // full path, as a MINIDUMP_STRING
	Base          uint64
	Size          uint32
	Checksum      uint32
	TimeDateStamp uint32
	// Version is the file version a.b.c.d. When Version and ProductVersion
	// are both zero, VS_FIXEDFILEINFO is all zero (no version resource).
	Version        [4]uint16
	ProductVersion [4]uint16 // zero means Version
	FileFlags      uint32
	FileType       uint32 // 0 means VFT_APP (1) for .exe names, else VFT_DLL (2)
	// PDBName, GUID and Age form an RSDS CodeView record when PDBName is set.
	// GUID holds the on-disk bytes (Data1..3 little-endian); see MustGUID.
	PDBName string
	GUID    [16]byte
	Age     uint32
	// CodeView, when non-nil, is written as the CvRecord verbatim instead.
	CodeView []byte
	// MiscRecord, when non-nil, is written as the MiscRecord (IMAGE_DEBUG_MISC).
	MiscRecord []byte
}

// Module adds a module to the module list, in call order.
func (b *Builder) Module(m Module) {
	m.CodeView = clone(m.CodeView)
	m.MiscRecord = clone(m.MiscRecord)
	b.modules = append(b.modules, m)
}

// UnloadedModule is one MINIDUMP_UNLOADED_MODULE.
type UnloadedModule struct {
	Name          string
	Base          uint64
	Size          uint32
	Checksum      uint32
	TimeDateStamp uint32
}

// Unloaded adds an entry to the unloaded module list.
func (b *Builder) Unloaded(u UnloadedModule) { b.unloaded = append(b.unloaded, u) }

// Thread is one MINIDUMP_THREAD with its stack bytes, registers and name.
type Thread struct {
	ID            uint32
	SuspendCount  uint32
	PriorityClass uint32
	Priority      uint32
	TEB           uint64
	// Stack holds the captured stack bytes starting at StackStart. They go to
	// the MemoryList stream and the thread's stack descriptor points at them;
	// with StackInMemory64 they become a Memory64List range instead (added
	// before the Memory64 calls' ranges) and the descriptor's Rva points into
	// the Memory64 data. An empty Stack gives a descriptor of size 0, Rva 0.
	StackStart      uint64
	Stack           []byte
	StackInMemory64 bool
	// Regs sets registers by name; see Context for names and defaults.
	Regs map[string]uint64
	// ContextFlags overrides CONTEXT.ContextFlags when nonzero.
	ContextFlags uint32
	// Context, when non-nil, is written verbatim instead of Regs.
	Context []byte
	// Name, when set, adds an entry to the ThreadNames stream.
	Name string
}

// Thread adds a thread to the thread list, in call order.
func (b *Builder) Thread(t Thread) {
	t.Stack = clone(t.Stack)
	t.Context = clone(t.Context)
	t.Regs = cloneRegs(t.Regs)
	if t.Context == nil {
		if _, err := Context(b.arch, t.ContextFlags, t.Regs); err != nil {
			b.fail(fmt.Errorf("dumpbuild: thread %#x: %w", t.ID, err))
		}
	}
	b.threads = append(b.threads, t)
}

// ThreadInfo is one MINIDUMP_THREAD_INFO entry.
type ThreadInfo struct {
	ThreadID     uint32
	DumpFlags    uint32
	DumpError    uint32
	ExitStatus   uint32
	CreateTime   uint64 // FILETIME
	ExitTime     uint64
	KernelTime   uint64 // 100 ns units
	UserTime     uint64
	StartAddress uint64
	Affinity     uint64
}

// ThreadInfo adds an entry to the thread info list; without a call the dump
// has no ThreadInfoList stream.
func (b *Builder) ThreadInfo(ti ThreadInfo) { b.threadInfos = append(b.threadInfos, ti) }

// Exception is MINIDUMP_EXCEPTION_STREAM.
type Exception struct {
	ThreadID uint32
	Code     uint32
	Flags    uint32
	Record   uint64 // address of a chained EXCEPTION_RECORD
	Address  uint64
	Params   []uint64 // at most 15 (EXCEPTION_MAXIMUM_PARAMETERS)
	// Regs, ContextFlags and Context describe the context record as for
	// Thread. When all three are zero the stream shares the context of the
	// thread with ThreadID (or writes an all-default context if none).
	Regs         map[string]uint64
	ContextFlags uint32
	Context      []byte
}

// Exception sets the exception stream; a later call replaces an earlier one.
func (b *Builder) Exception(e Exception) {
	if len(e.Params) > 15 {
		b.fail(fmt.Errorf("dumpbuild: exception has %d parameters, at most 15", len(e.Params)))
		return
	}
	e.Params = append([]uint64(nil), e.Params...)
	e.Context = clone(e.Context)
	e.Regs = cloneRegs(e.Regs)
	if e.Context == nil {
		if _, err := Context(b.arch, e.ContextFlags, e.Regs); err != nil {
			b.fail(fmt.Errorf("dumpbuild: exception: %w", err))
		}
	}
	b.exc = &e
}

// Memory adds a MemoryList range (after the thread stacks), in call order.
func (b *Builder) Memory(addr uint64, data []byte) {
	b.mem = append(b.mem, memRange{addr, clone(data)})
}

// Memory64 adds a Memory64List range holding data. Ranges keep call order,
// which is also their order in the contiguous data at BaseRva.
func (b *Builder) Memory64(addr uint64, data []byte) {
	b.mem64 = append(b.mem64, mem64Range{addr: addr, data: clone(data)})
}

// Memory64Zero adds a Memory64List range of size zero bytes that is never
// materialized: Image serves it from nothing and WriteFile seeks over it.
func (b *Builder) Memory64Zero(addr, size uint64) {
	b.mem64 = append(b.mem64, mem64Range{addr: addr, zeros: size})
}

// Region is one MINIDUMP_MEMORY_INFO (VirtualQuery's view of a region).
type Region struct {
	Base         uint64
	AllocBase    uint64
	AllocProtect uint32
	Size         uint64
	State        uint32 // dump.Mem{Commit,Reserve,Free}
	Protect      uint32 // dump.Page*
	Type         uint32 // dump.Mem{Private,Mapped,Image}
}

// Region adds a MemoryInfoList entry; without a call there is no such stream.
func (b *Builder) Region(r Region) { b.regions = append(b.regions, r) }

// Handle is MINIDUMP_HANDLE_DESCRIPTOR(_2). Empty names are written as Rva 0.
type Handle struct {
	Handle        uint64
	TypeName      string
	ObjectName    string
	Attributes    uint32
	GrantedAccess uint32
	HandleCount   uint32
	PointerCount  uint32
	// ObjectInfoRva and Reserved0 exist only in 40-byte descriptors; the
	// builder writes no object information, so ObjectInfoRva is always 0.
}

// Handle adds a HandleData entry; without a call there is no such stream.
func (b *Builder) Handle(h Handle) { b.handles = append(b.handles, h) }

// HandleDescriptorSize selects MINIDUMP_HANDLE_DESCRIPTOR (32) or
// MINIDUMP_HANDLE_DESCRIPTOR_2 (40, the default, what current dbghelp writes).
func (b *Builder) HandleDescriptorSize(n int) {
	if n != 32 && n != 40 {
		b.fail(fmt.Errorf("dumpbuild: handle descriptor size %d is not 32 or 40", n))
		return
	}
	b.handleDescSize = n
}

// Comment adds a CommentStreamA holding text's bytes as-is plus a NUL.
func (b *Builder) Comment(text string) {
	b.extra = append(b.extra, rawStream{dump.StreamCommentA, append([]byte(text), 0)})
}

// CommentW adds a CommentStreamW holding text as UTF-16LE plus a NUL unit.
func (b *Builder) CommentW(text string) {
	b.extra = append(b.extra, rawStream{dump.StreamCommentW, append(utf16le(text), 0, 0)})
}

// RawStream adds a stream with arbitrary contents. It is written in addition
// to, never instead of, a stream the Builder produces for the same type.
func (b *Builder) RawStream(t dump.StreamType, data []byte) {
	b.extra = append(b.extra, rawStream{t, clone(data)})
}

// UnusedEntries appends n UnusedStream directory entries with an empty
// location, as dbghelp leaves reserved slots at the end of real directories.
func (b *Builder) UnusedEntries(n int) {
	if n < 0 {
		b.fail(errors.New("dumpbuild: negative unused entry count"))
		return
	}
	b.unused += n
}

// Bytes lays out the dump in memory. Dumps larger than MaxBytes are refused;
// use WriteFile or Image for those.
func (b *Builder) Bytes() ([]byte, error) {
	im, err := b.Image()
	if err != nil {
		return nil, err
	}
	return im.Bytes()
}

// WriteFile writes the dump to path, seeking over zero ranges so that the
// file is sparse where the filesystem supports it.
func (b *Builder) WriteFile(path string) error {
	im, err := b.Image()
	if err != nil {
		return err
	}
	return im.WriteFile(path)
}

// MustGUID parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (braces optional)
// into the on-disk GUID layout: Data1, Data2 and Data3 little-endian, Data4
// as written. It panics on malformed input; it is meant for test literals.
func MustGUID(s string) [16]byte {
	var g [16]byte
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 8 || len(parts[1]) != 4 || len(parts[2]) != 4 ||
		len(parts[3]) != 4 || len(parts[4]) != 12 {
		panic("dumpbuild: malformed GUID " + s)
	}
	hex := strings.Join(parts, "")
	var raw [16]byte
	for i := range raw {
		hi, ok1 := unhex(hex[2*i])
		lo, ok2 := unhex(hex[2*i+1])
		if !ok1 || !ok2 {
			panic("dumpbuild: malformed GUID " + s)
		}
		raw[i] = hi<<4 | lo
	}
	// raw is big-endian text order; swap the first three fields.
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func clone(p []byte) []byte {
	if p == nil {
		return nil
	}
	return append([]byte{}, p...)
}

func cloneRegs(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return nil
	}
	c := make(map[string]uint64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
