package dump

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SystemInfo is MINIDUMP_SYSTEM_INFO with its CSDVersion string.
type SystemInfo struct {
	ProcessorArchitecture uint16
	ProcessorLevel        uint16
	ProcessorRevision     uint16
	NumberOfProcessors    uint8
	ProductType           uint8 // 1 workstation, 2 domain controller, 3 server
	MajorVersion          uint32
	MinorVersion          uint32
	BuildNumber           uint32
	PlatformID            uint32 // 2 = VER_PLATFORM_WIN32_NT
	CSDVersion            string // service pack, or Crashpad's "22631.4751" revision
	SuiteMask             uint16
	VendorID              string // x86 CPUID vendor, when recorded
}

// MiscInfo holds the fields of MINIDUMP_MISC_INFO{,_2,_3,_4,_5} that wdb uses.
type MiscInfo struct {
	SizeOfInfo        uint32
	Flags1            uint32
	ProcessID         uint32
	ProcessCreateTime uint32 // seconds since 1970
	ProcessUserTime   uint32 // seconds
	ProcessKernelTime uint32
	// Time zone (MISC_INFO_3+); TimeZoneValid is false when absent.
	TimeZoneValid bool
	TimeZoneBias  int32  // minutes, UTC = local + bias
	TimeZoneID    uint32 // 0 unknown, 1 standard time, 2 daylight saving time in effect
	StandardBias  int32  // minutes added to TimeZoneBias during standard time
	DaylightBias  int32  // minutes added to TimeZoneBias during daylight saving time
	BuildString   string
	DbgBuildStr   string
}

// Misc flags (MINIDUMP_MISC1_*).
const (
	Misc1ProcessID    = 0x1
	Misc1ProcessTimes = 0x2
	Misc3TimeZone     = 0x40
	Misc4BuildString  = 0x100
)

// EffectiveBias is the number of minutes to add to local time to get UTC
// when the dump was written: the bias plus the daylight or standard bias.
func (m *MiscInfo) EffectiveBias() int32 {
	switch m.TimeZoneID {
	case 2:
		return m.TimeZoneBias + m.DaylightBias
	case 1:
		return m.TimeZoneBias + m.StandardBias
	}
	return m.TimeZoneBias
}

// HasPID reports whether ProcessID is valid.
func (m *MiscInfo) HasPID() bool { return m != nil && m.Flags1&Misc1ProcessID != 0 }

// HasTimes reports whether the process times are valid.
func (m *MiscInfo) HasTimes() bool { return m != nil && m.Flags1&Misc1ProcessTimes != 0 }

// FixedFileInfo is VS_FIXEDFILEINFO.
type FixedFileInfo struct {
	Signature        uint32
	StrucVersion     uint32
	FileVersionMS    uint32
	FileVersionLS    uint32
	ProductVersionMS uint32
	ProductVersionLS uint32
	FileFlagsMask    uint32
	FileFlags        uint32
	FileOS           uint32
	FileType         uint32
	FileSubtype      uint32
	FileDateMS       uint32
	FileDateLS       uint32
}

// FileVersion formats the file version as "a.b.c.d".
func (v FixedFileInfo) FileVersion() string {
	return fmt.Sprintf("%d.%d.%d.%d", v.FileVersionMS>>16, v.FileVersionMS&0xffff, v.FileVersionLS>>16, v.FileVersionLS&0xffff)
}

// ProductVersion formats the product version as "a.b.c.d".
func (v FixedFileInfo) ProductVersion() string {
	return fmt.Sprintf("%d.%d.%d.%d", v.ProductVersionMS>>16, v.ProductVersionMS&0xffff, v.ProductVersionLS>>16, v.ProductVersionLS&0xffff)
}

// CodeView is the debug identity of a module: an RSDS (PDB 7.0) or NB10
// (PDB 2.0) record, which names the PDB that matches the image.
type CodeView struct {
	Signature string // "RSDS" or "NB10"
	GUID      [16]byte
	Sig       uint32 // NB10 signature
	Age       uint32
	PDBName   string
}

// GUIDString formats the GUID as Windows does: 3249D99D-0C40-4931-8610-F4E4FB0B6936.
func (cv *CodeView) GUIDString() string {
	g := cv.GUID
	return fmt.Sprintf("%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		uint32(g[0])|uint32(g[1])<<8|uint32(g[2])<<16|uint32(g[3])<<24,
		uint16(g[4])|uint16(g[5])<<8, uint16(g[6])|uint16(g[7])<<8,
		g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15])
}

// Module is one MINIDUMP_MODULE.
type Module struct {
	Base          uint64
	Size          uint32
	CheckSum      uint32
	TimeDateStamp uint32
	Name          string // full path as the loader knew it
	Version       FixedFileInfo
	CodeView      *CodeView // nil when the record has none (Wine)
	CVRecord      Location
	MiscRecord    Location
}

// End is one past the module's last byte.
func (m *Module) End() uint64 { return m.Base + uint64(m.Size) }

// BaseName is the file name without directories, e.g. "ntdll.dll".
func (m *Module) BaseName() string { return baseName(m.Name) }

// ModuleName is the name WinDbg uses for the module: the file name without
// its extension ("ntdll", "KERNELBASE"), as in "ntdll!RtlUserThreadStart";
// dots left in the name become underscores ("kernel.appcore.dll" is
// "kernel_appcore"), since '.' cannot appear in a module!symbol expression.
func (m *Module) ModuleName() string { return moduleName(m.Name) }

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '\\' || p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func moduleName(p string) string {
	b := baseName(p)
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == '.' {
			b = b[:i]
			break
		}
	}
	return strings.ReplaceAll(b, ".", "_")
}

// UnloadedModule is one MINIDUMP_UNLOADED_MODULE.
type UnloadedModule struct {
	Base          uint64
	Size          uint32
	CheckSum      uint32
	TimeDateStamp uint32
	Name          string
}

// MemoryDescriptor is MINIDUMP_MEMORY_DESCRIPTOR: a captured range and where
// its bytes are in the file.
type MemoryDescriptor struct {
	Start uint64
	Data  Location
}

// Thread is one MINIDUMP_THREAD with what the ThreadInfoList and ThreadNames
// streams add.
type Thread struct {
	Index         int // position in the thread list: WinDbg's thread number
	ID            uint32
	SuspendCount  uint32
	PriorityClass uint32
	Priority      uint32
	TEB           uint64
	Stack         MemoryDescriptor
	ContextLoc    Location
	Context       *Context // nil when the context cannot be read
	Name          string
	Info          *ThreadInfo
}

// ThreadInfo is MINIDUMP_THREAD_INFO.
type ThreadInfo struct {
	ThreadID     uint32
	DumpFlags    uint32
	DumpError    uint32
	ExitStatus   uint32
	CreateTime   uint64 // FILETIME
	ExitTime     uint64
	KernelTime   uint64
	UserTime     uint64
	StartAddress uint64
	Affinity     uint64
}

// Exception is MINIDUMP_EXCEPTION_STREAM.
type Exception struct {
	ThreadID         uint32
	Code             uint32
	Flags            uint32
	RecordAddress    uint64 // nested EXCEPTION_RECORD
	Address          uint64
	NumberParameters uint32
	Parameters       [15]uint64
	ContextLoc       Location
	Context          *Context
}

// Handle is MINIDUMP_HANDLE_DESCRIPTOR{,_2}.
type Handle struct {
	Handle        uint64
	TypeName      string
	ObjectName    string
	Attributes    uint32
	GrantedAccess uint32
	HandleCount   uint32
	PointerCount  uint32
}

// MemoryInfo is MINIDUMP_MEMORY_INFO: one VirtualQuery region.
type MemoryInfo struct {
	BaseAddress       uint64
	AllocationBase    uint64
	AllocationProtect uint32
	RegionSize        uint64
	State             uint32
	Protect           uint32
	Type              uint32
}

// listCount reads a list stream's count and checks that count records of
// size recSize fit. Some writers pad the u32 count to 8 bytes; that is
// detected from the stream size.
func listCount(c *cursor, recSize int) int {
	n := int(c.u32())
	if c.err != nil {
		return 0
	}
	rest := len(c.data) - c.off
	if n < 0 || int64(n)*int64(recSize) > int64(rest) {
		c.fail(fmt.Sprintf("count %d exceeds the stream (%d bytes hold %d records)", n, rest, rest/recSize))
		return 0
	}
	if rest == n*recSize+4 {
		c.skip(4)
	}
	return n
}

func (f *File) readStreams() {
	f.readSystemInfo()
	f.readMiscInfo()
	f.readModules()
	f.readUnloadedModules()
	f.readThreads()
	f.readThreadInfo()
	f.readThreadNames()
	f.readException()
	f.readHandles()
	f.readComments()
	f.readMemoryInfo()
	sort.Slice(f.MemoryInfo, func(i, j int) bool { return f.MemoryInfo[i].BaseAddress < f.MemoryInfo[j].BaseAddress })
}

func (f *File) finish(c *cursor) bool {
	if c.err != nil {
		f.warn(c.err)
		return false
	}
	return true
}

func (f *File) readSystemInfo() {
	c := f.streamCursor(StreamSystemInfo, "system info")
	if c == nil {
		return
	}
	s := &SystemInfo{
		ProcessorArchitecture: c.u16(), ProcessorLevel: c.u16(), ProcessorRevision: c.u16(),
		NumberOfProcessors: c.u8(), ProductType: c.u8(),
		MajorVersion: c.u32(), MinorVersion: c.u32(), BuildNumber: c.u32(), PlatformID: c.u32(),
	}
	csd := c.u32()
	s.SuiteMask = c.u16()
	c.u16()
	if vendor := c.take(12); vendor != nil && s.ProcessorArchitecture == ProcessorX86 {
		s.VendorID = string(bytes.TrimRight(vendor, "\x00"))
	}
	if c.err != nil && c.off < 32 {
		f.finish(c)
		return
	}
	if csd != 0 {
		if str, err := f.readString(csd); err == nil {
			s.CSDVersion = str
		} else {
			f.warn(fmt.Errorf("system info CSD version: %w", err))
		}
	}
	f.System = s
}

func (f *File) readMiscInfo() {
	c := f.streamCursor(StreamMiscInfo, "misc info")
	if c == nil {
		return
	}
	m := &MiscInfo{SizeOfInfo: c.u32(), Flags1: c.u32(), ProcessID: c.u32(), ProcessCreateTime: c.u32(), ProcessUserTime: c.u32(), ProcessKernelTime: c.u32()}
	if !f.finish(c) {
		return
	}
	size := int(m.SizeOfInfo)
	if size > len(c.data) {
		size = len(c.data)
	}
	if size >= 232 && m.Flags1&Misc3TimeZone != 0 {
		c.seek(44 + 12) // past MISC_INFO_2 and integrity/execute/protected
		m.TimeZoneID = c.u32()
		m.TimeZoneBias = int32(c.u32())
		c.seek(144)
		m.StandardBias = int32(c.u32())
		c.seek(228)
		m.DaylightBias = int32(c.u32())
		m.TimeZoneValid = c.err == nil
	}
	if size >= 832 && m.Flags1&Misc4BuildString != 0 {
		c.seek(232)
		if b := c.take(520); b != nil {
			m.BuildString = decodeUTF16(b)
		}
		if b := c.take(80); b != nil {
			m.DbgBuildStr = decodeUTF16(b)
		}
	}
	f.finish(c)
	f.Misc = m
}

func (f *File) readModules() {
	c := f.streamCursor(StreamModuleList, "module list")
	if c == nil {
		return
	}
	n := listCount(c, moduleRecordSize)
	for i := 0; i < n && c.err == nil; i++ {
		c.retarget(fmt.Sprintf("module list entry %d", i))
		m := Module{Base: c.u64(), Size: c.u32(), CheckSum: c.u32(), TimeDateStamp: c.u32()}
		nameRVA := c.u32()
		v := &m.Version
		*v = FixedFileInfo{c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32(), c.u32()}
		m.CVRecord = c.location()
		m.MiscRecord = c.location()
		c.skip(16)
		if c.err != nil {
			break
		}
		name, err := f.readString(nameRVA)
		if err != nil {
			f.warn(fmt.Errorf("module list entry %d name: %w", i, err))
		}
		m.Name = name
		m.CodeView = f.readCodeView(m.CVRecord)
		f.Modules = append(f.Modules, m)
	}
	f.finish(c)
}

// readCodeView decodes an RSDS or NB10 record; anything else gives nil.
func (f *File) readCodeView(loc Location) *CodeView {
	if loc.Size < 8 || loc.Size > 64*1024 {
		return nil
	}
	b, ok := f.src.slice(int64(loc.RVA), int64(loc.Size))
	if !ok {
		return nil
	}
	c := newCursor(b, int64(loc.RVA), "CodeView record")
	sig := string(c.take(4))
	cv := &CodeView{Signature: sig}
	switch sig {
	case "RSDS":
		copy(cv.GUID[:], c.take(16))
		cv.Age = c.u32()
	case "NB10":
		c.u32() // offset
		cv.Sig = c.u32()
		cv.Age = c.u32()
	default:
		return nil
	}
	if c.err != nil {
		return nil
	}
	name := c.data[c.off:]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	cv.PDBName = string(name)
	return cv
}

func (f *File) readUnloadedModules() {
	c := f.streamCursor(StreamUnloadedModuleList, "unloaded module list")
	if c == nil {
		return
	}
	hdr, entry := int(c.u32()), int(c.u32())
	n := int(c.u32())
	if c.err == nil && (hdr < 12 || entry < unloadedModuleSize || hdr > len(c.data)) {
		c.fail(fmt.Sprintf("header size %d / entry size %d not understood", hdr, entry))
	}
	if c.err == nil && int64(n)*int64(entry) > int64(len(c.data)-hdr) {
		c.fail(fmt.Sprintf("count %d exceeds the stream", n))
	}
	for i := 0; i < n && c.err == nil; i++ {
		c.seek(hdr + i*entry)
		c.retarget(fmt.Sprintf("unloaded module entry %d", i))
		m := UnloadedModule{Base: c.u64(), Size: c.u32(), CheckSum: c.u32(), TimeDateStamp: c.u32()}
		rva := c.u32()
		if c.err != nil {
			break
		}
		m.Name, _ = f.readString(rva)
		f.UnloadedModules = append(f.UnloadedModules, m)
	}
	f.finish(c)
}

func (f *File) readThreads() {
	t := StreamThreadList
	size := threadRecordSize
	c := f.streamCursor(t, "thread list")
	if c == nil {
		if c = f.streamCursor(StreamThreadExList, "thread ex list"); c == nil {
			return
		}
		size = threadExRecordSize
	}
	n := listCount(c, size)
	for i := 0; i < n && c.err == nil; i++ {
		start := c.off
		c.retarget(fmt.Sprintf("thread list entry %d", i))
		th := Thread{Index: i, ID: c.u32(), SuspendCount: c.u32(), PriorityClass: c.u32(), Priority: c.u32(), TEB: c.u64()}
		th.Stack = MemoryDescriptor{Start: c.u64(), Data: c.location()}
		th.ContextLoc = c.location()
		c.seek(start + size)
		if c.err != nil {
			break
		}
		ctx, err := f.readContext(th.ContextLoc)
		if err != nil {
			f.warn(fmt.Errorf("thread list entry %d (id 0x%x) context: %w", i, th.ID, err))
		}
		th.Context = ctx
		f.Threads = append(f.Threads, th)
	}
	f.finish(c)
}

func (f *File) readThreadInfo() {
	c := f.streamCursor(StreamThreadInfoList, "thread info list")
	if c == nil {
		return
	}
	hdr, entry := int(c.u32()), int(c.u32())
	n := int(c.u32())
	if c.err == nil && (hdr < 12 || entry < threadInfoSize || hdr > len(c.data)) {
		c.fail(fmt.Sprintf("header size %d / entry size %d not understood", hdr, entry))
	}
	if c.err == nil && int64(n)*int64(entry) > int64(len(c.data)-hdr) {
		c.fail(fmt.Sprintf("count %d exceeds the stream", n))
	}
	byID := f.threadIndex()
	for i := 0; i < n && c.err == nil; i++ {
		c.seek(hdr + i*entry)
		c.retarget(fmt.Sprintf("thread info entry %d", i))
		ti := &ThreadInfo{ThreadID: c.u32(), DumpFlags: c.u32(), DumpError: c.u32(), ExitStatus: c.u32(),
			CreateTime: c.u64(), ExitTime: c.u64(), KernelTime: c.u64(), UserTime: c.u64(), StartAddress: c.u64(), Affinity: c.u64()}
		if c.err == nil {
			if j, ok := byID[ti.ThreadID]; ok {
				f.Threads[j].Info = ti
			}
		}
	}
	f.finish(c)
}

func (f *File) threadIndex() map[uint32]int {
	m := make(map[uint32]int, len(f.Threads))
	for i, t := range f.Threads {
		if _, dup := m[t.ID]; !dup {
			m[t.ID] = i
		}
	}
	return m
}

func (f *File) readThreadNames() {
	c := f.streamCursor(StreamThreadNames, "thread names")
	if c == nil {
		return
	}
	n := listCount(c, threadNameSize)
	byID := f.threadIndex()
	for i := 0; i < n && c.err == nil; i++ {
		c.retarget(fmt.Sprintf("thread name entry %d", i))
		id := c.u32()
		rva := c.u64()
		if c.err != nil || rva > uint64(f.Size) {
			continue
		}
		name, err := f.readString(uint32(rva))
		if err != nil {
			f.warn(fmt.Errorf("thread name entry %d: %w", i, err))
			continue
		}
		if j, ok := byID[id]; ok {
			f.Threads[j].Name = name
		}
	}
	f.finish(c)
}

func (f *File) readException() {
	c := f.streamCursor(StreamException, "exception stream")
	if c == nil {
		return
	}
	e := &Exception{ThreadID: c.u32()}
	c.u32()
	e.Code, e.Flags, e.RecordAddress, e.Address = c.u32(), c.u32(), c.u64(), c.u64()
	e.NumberParameters = c.u32()
	c.u32()
	for i := range e.Parameters {
		e.Parameters[i] = c.u64()
	}
	e.ContextLoc = c.location()
	if !f.finish(c) {
		return
	}
	if e.NumberParameters > 15 {
		f.warn(&FormatError{File: f.Path, Offset: c.base + 24, What: "exception stream", Err: fmt.Sprintf("%d parameters, at most 15", e.NumberParameters)})
		e.NumberParameters = 15
	}
	ctx, err := f.readContext(e.ContextLoc)
	if err != nil {
		f.warn(fmt.Errorf("exception stream context: %w", err))
	}
	e.Context = ctx
	f.Exception = e
}

func (f *File) readHandles() {
	c := f.streamCursor(StreamHandleData, "handle data")
	if c == nil {
		return
	}
	f.HasHandleData = true
	hdr, desc := int(c.u32()), int(c.u32())
	n := int(c.u32())
	if c.err == nil && (hdr < 16 || desc < handleDescriptorSize || hdr > len(c.data)) {
		c.fail(fmt.Sprintf("header size %d / descriptor size %d not understood", hdr, desc))
	}
	if c.err == nil && int64(n)*int64(desc) > int64(len(c.data)-hdr) {
		c.fail(fmt.Sprintf("count %d exceeds the stream", n))
	}
	for i := 0; i < n && c.err == nil; i++ {
		c.seek(hdr + i*desc)
		c.retarget(fmt.Sprintf("handle descriptor %d", i))
		h := Handle{Handle: c.u64()}
		typeRVA, objRVA := c.u32(), c.u32()
		h.Attributes, h.GrantedAccess, h.HandleCount, h.PointerCount = c.u32(), c.u32(), c.u32(), c.u32()
		if c.err != nil {
			break
		}
		if typeRVA != 0 {
			h.TypeName, _ = f.readString(typeRVA)
		}
		if objRVA != 0 {
			h.ObjectName, _ = f.readString(objRVA)
		}
		f.Handles = append(f.Handles, h)
	}
	f.finish(c)
}

func (f *File) readComments() {
	if b, ok := f.Stream(StreamCommentA); ok {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		f.Comments = append(f.Comments, string(b))
	}
	if b, ok := f.Stream(StreamCommentW); ok {
		f.Comments = append(f.Comments, decodeUTF16(b))
	}
}

func (f *File) readMemoryInfo() {
	c := f.streamCursor(StreamMemoryInfoList, "memory info list")
	if c == nil {
		return
	}
	hdr, entry := int(c.u32()), int(c.u32())
	n64 := c.u64()
	if c.err == nil && (hdr < 16 || entry < memoryInfoSize || hdr > len(c.data)) {
		c.fail(fmt.Sprintf("header size %d / entry size %d not understood", hdr, entry))
	}
	if c.err == nil && n64 > uint64(len(c.data)-hdr)/uint64(entry) {
		c.fail(fmt.Sprintf("count %d exceeds the stream", n64))
	}
	if c.err != nil {
		f.finish(c)
		return
	}
	n := int(n64)
	f.HasMemoryInfo = true
	f.MemoryInfo = make([]MemoryInfo, 0, n)
	for i := 0; i < n && c.err == nil; i++ {
		c.seek(hdr + i*entry)
		c.retarget(fmt.Sprintf("memory info entry %d", i))
		m := MemoryInfo{BaseAddress: c.u64(), AllocationBase: c.u64(), AllocationProtect: c.u32()}
		c.u32()
		m.RegionSize = c.u64()
		m.State, m.Protect, m.Type = c.u32(), c.u32(), c.u32()
		if c.err == nil {
			f.MemoryInfo = append(f.MemoryInfo, m)
		}
	}
	f.finish(c)
}

// ProcessID returns the process id, when the dump records one.
func (f *File) ProcessID() (uint32, bool) {
	if f.Misc.HasPID() {
		return f.Misc.ProcessID, true
	}
	return 0, false
}

// ProcessCreateTime returns when the process started, when recorded.
func (f *File) ProcessCreateTime() (time.Time, bool) {
	if f.Misc.HasTimes() && f.Misc.ProcessCreateTime != 0 {
		return time.Unix(int64(f.Misc.ProcessCreateTime), 0).UTC(), true
	}
	return time.Time{}, false
}
