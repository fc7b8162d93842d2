package dumpbuild

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"

	"wdb/dump"
)

// Fixed record sizes of minidumpapiset.h (all structures there are packed to
// 4 bytes, which is why MINIDUMP_MODULE is 108 and MINIDUMP_THREAD_NAME 12).
const (
	headerSize            = 32
	dirEntrySize          = 12
	systemInfoSize        = 56
	moduleSize            = 108
	unloadedHeaderSize    = 12 // SizeOfHeader, SizeOfEntry, NumberOfEntries
	unloadedModuleSize    = 24
	threadSize            = 48
	threadInfoHeaderSize  = 12 // MINIDUMP_THREAD_INFO_LIST is three ULONGs
	threadInfoSize        = 64
	threadNameSize        = 12
	exceptionStreamSize   = 168
	memoryDescriptorSize  = 16
	memory64HeaderSize    = 16
	memory64DescSize      = 16
	memoryInfoHeaderSize  = 16
	memoryInfoSize        = 48
	handleHeaderSize      = 16
	vsFixedFileInfoSig    = 0xfeef04bd
	vsFixedFileInfoStruct = 0x00010000
	vsFFIFileFlagsMask    = 0x3f
	vosNTWindows32        = 0x00040004
	vftApp                = 1
	vftDLL                = 2
	cvSignatureRSDS       = 0x53445352 // "RSDS"
)

// MINIDUMP_MISC_INFO Flags1 bits.
const (
	misc1ProcessID        = 0x001
	misc1ProcessTimes     = 0x002
	misc1ProcessorPower   = 0x004
	misc3ProcessIntegrity = 0x010
	misc3ExecuteFlags     = 0x020
	misc3TimeZone         = 0x040
	misc3ProtectedProcess = 0x080
	misc4BuildString      = 0x100
	misc5ProcessCookie    = 0x200
)

// miscSizes maps MiscInfo.Level to SizeOfInfo.
var miscSizes = [...]int{0, 24, 44, 232, 832, 1364}

// refKind names a field that a Malformation may rewrite after layout.
type refKind int

const (
	refCount32    refKind = iota // u32 element count of a list
	refCount64                   // u64 element count of a list
	refHeaderSize                // u32 SizeOfHeader
	refEntrySize                 // u32 SizeOfEntry / SizeOfDescriptor
	refStr32                     // u32 RVA of a MINIDUMP_STRING
	refStr64                     // u64 RVA of a MINIDUMP_STRING
	refString                    // a MINIDUMP_STRING (its Length field)
	refMemRVA                    // u32 Rva of a memory or stack descriptor
	refM64Base                   // u64 BaseRva of the Memory64List
	refContext                   // location descriptor of a CONTEXT
	refCodeView                  // location descriptor of a CvRecord
)

type ref struct {
	kind   refKind
	stream dump.StreamType
	off    int
}

type dirEntry struct {
	typ       dump.StreamType
	rva, size uint32
}

// layout is a dump being assembled: everything below the Memory64 data is
// materialized in buf; the Memory64 data follows it, described by m64.
type layout struct {
	buf     []byte
	refs    []ref
	dir     []dirEntry // the streams, in directory order, before malformations
	dirOff  int
	late    []func(m64Base int64)
	m64     []mem64Range
	m64Size int64
	cur     dump.StreamType // stream being filled, tags refs
}

func (l *layout) alloc(n, align int) int {
	for len(l.buf)%align != 0 {
		l.buf = append(l.buf, 0)
	}
	off := len(l.buf)
	l.buf = append(l.buf, make([]byte, n)...)
	return off
}

func (l *layout) u8(off int, v uint8)   { l.buf[off] = v }
func (l *layout) u16(off int, v uint16) { binary.LittleEndian.PutUint16(l.buf[off:], v) }
func (l *layout) u32(off int, v uint32) { binary.LittleEndian.PutUint32(l.buf[off:], v) }
func (l *layout) u64(off int, v uint64) { binary.LittleEndian.PutUint64(l.buf[off:], v) }

func (l *layout) ref(k refKind, off int) { l.refs = append(l.refs, ref{k, l.cur, off}) }

// blob copies p into the file and returns its RVA.
func (l *layout) blob(p []byte, align int) uint32 {
	off := l.alloc(len(p), align)
	copy(l.buf[off:], p)
	return uint32(off)
}

// str writes a MINIDUMP_STRING: byte length (without the terminator), UTF-16LE
// text and a NUL unit, which dbghelp always includes.
func (l *layout) str(s string) uint32 {
	u := utf16le(s)
	off := l.alloc(4+len(u)+2, 4)
	l.u32(off, uint32(len(u)))
	copy(l.buf[off+4:], u)
	l.ref(refString, off)
	return uint32(off)
}

// loc writes a MINIDUMP_LOCATION_DESCRIPTOR at off.
func (l *layout) loc(off int, size, rva uint32) {
	l.u32(off, size)
	l.u32(off+4, rva)
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(out[2*i:], c)
	}
	return out
}

// putWchars writes s into a fixed WCHAR[n] field, NUL-padded.
func (l *layout) putWchars(off, n int, s string) error {
	u := utf16le(s)
	if len(u) > 2*(n-1) {
		return fmt.Errorf("dumpbuild: %q does not fit WCHAR[%d]", s, n)
	}
	copy(l.buf[off:], u)
	return nil
}

// stream is one directory entry's worth of data: its fixed size is known
// before layout so all bodies can be placed first, then fill writes them.
type stream struct {
	typ  dump.StreamType
	size int
	fill func(l *layout, off int) error
}

// memItem is one MemoryList range and, after layout, the RVA of its bytes.
type memItem struct {
	addr uint64
	data []byte
	rva  uint32
}

// writer turns a Builder into a layout; it holds working copies of the lists
// that pre-layout malformations may extend.
type writer struct {
	b         *Builder
	memList   []memItem
	m64       []mem64Range
	regions   []Region
	stackMem  []int   // per thread: index into memList, or -1
	stack64   []int64 // per thread: offset within the Memory64 data, or -1
	threadCtx map[uint32][2]uint32
	m64Size   int64 // bytes of Memory64 data so far
}

func newWriter(b *Builder) *writer {
	w := &writer{b: b, threadCtx: map[uint32][2]uint32{}}
	for _, t := range b.threads {
		idx, off := -1, int64(-1)
		if len(t.Stack) > 0 {
			if t.StackInMemory64 {
				off = w.addM64(mem64Range{addr: t.StackStart, data: t.Stack})
			} else {
				idx = len(w.memList)
				w.memList = append(w.memList, memItem{addr: t.StackStart, data: t.Stack})
			}
		}
		w.stackMem = append(w.stackMem, idx)
		w.stack64 = append(w.stack64, off)
	}
	for _, m := range b.mem {
		w.memList = append(w.memList, memItem{addr: m.addr, data: m.data})
	}
	for _, m := range b.mem64 {
		w.addM64(m)
	}
	w.regions = append([]Region(nil), b.regions...)
	return w
}

// addM64 appends a Memory64 range and returns its offset within the data.
func (w *writer) addM64(m mem64Range) int64 {
	off := w.m64Size
	w.m64 = append(w.m64, m)
	w.m64Size += m.len()
	return off
}

func (m mem64Range) len() int64 {
	if m.data != nil {
		return int64(len(m.data))
	}
	return int64(m.zeros)
}

func (w *writer) streams() []stream {
	b := w.b
	var ss []stream
	add := func(t dump.StreamType, size int, fill func(*layout, int) error) {
		ss = append(ss, stream{t, size, fill})
	}
	add(dump.StreamThreadList, 4+threadSize*len(b.threads), w.threadList)
	if len(b.threadInfos) > 0 {
		add(dump.StreamThreadInfoList, threadInfoHeaderSize+threadInfoSize*len(b.threadInfos), w.threadInfoList)
	}
	add(dump.StreamModuleList, 4+moduleSize*len(b.modules), w.moduleList)
	if len(b.unloaded) > 0 {
		add(dump.StreamUnloadedModuleList, unloadedHeaderSize+unloadedModuleSize*len(b.unloaded), w.unloadedList)
	}
	if len(w.memList) > 0 {
		add(dump.StreamMemoryList, 4+memoryDescriptorSize*len(w.memList), w.memoryList)
	}
	if len(w.m64) > 0 {
		add(dump.StreamMemory64List, memory64HeaderSize+memory64DescSize*len(w.m64), w.memory64List)
	}
	if b.exc != nil {
		add(dump.StreamException, exceptionStreamSize, w.exception)
	}
	add(dump.StreamSystemInfo, systemInfoSize, w.systemInfo)
	if b.misc != nil {
		add(dump.StreamMiscInfo, miscSizes[b.misc.Level], w.miscInfo)
	}
	if len(b.handles) > 0 {
		add(dump.StreamHandleData, handleHeaderSize+b.handleDescSize*len(b.handles), w.handleData)
	}
	if len(w.regions) > 0 {
		add(dump.StreamMemoryInfoList, memoryInfoHeaderSize+memoryInfoSize*len(w.regions), w.memoryInfoList)
	}
	if n := w.namedThreads(); n > 0 {
		add(dump.StreamThreadNames, 4+threadNameSize*n, w.threadNames)
	}
	for _, x := range b.extra {
		data := x.data
		add(x.typ, len(data), func(l *layout, off int) error {
			copy(l.buf[off:], data)
			return nil
		})
	}
	return ss
}

func (w *writer) namedThreads() int {
	n := 0
	for _, t := range w.b.threads {
		if t.Name != "" {
			n++
		}
	}
	return n
}

// layout places header, directory, stream bodies, MemoryList bytes, then the
// strings, contexts and records each fill writes, then the Memory64 data.
// Directory entries are written later, by finish, so that malformations can
// reshape the directory.
func (w *writer) layout() (*layout, error) {
	l := &layout{}
	ss := w.streams()
	l.alloc(headerSize, 1)
	ndir := w.b.dirCount(ss)
	l.dirOff = l.alloc(dirEntrySize*ndir, 4)
	offs := make([]int, len(ss))
	for i, s := range ss {
		offs[i] = l.alloc(s.size, 8)
	}
	for i := range w.memList {
		w.memList[i].rva = l.blob(w.memList[i].data, 8)
	}
	for i, s := range ss {
		l.cur = s.typ
		if err := s.fill(l, offs[i]); err != nil {
			return nil, err
		}
		l.dir = append(l.dir, dirEntry{s.typ, uint32(offs[i]), uint32(s.size)})
	}
	l.cur = 0
	l.alloc(0, 8)
	if len(l.buf) > math.MaxUint32 {
		return nil, fmt.Errorf("dumpbuild: %d bytes before the Memory64 data do not fit 32-bit RVAs", len(l.buf))
	}
	l.m64 = w.m64
	for _, m := range w.m64 {
		l.m64Size += m.len()
	}
	base := int64(len(l.buf))
	for _, f := range l.late {
		f(base)
	}
	return l, nil
}

func (w *writer) threadList(l *layout, off int) error {
	b := w.b
	l.u32(off, uint32(len(b.threads)))
	l.ref(refCount32, off)
	for i, t := range b.threads {
		e := off + 4 + threadSize*i
		l.u32(e, t.ID)
		l.u32(e+4, t.SuspendCount)
		l.u32(e+8, t.PriorityClass)
		l.u32(e+12, t.Priority)
		l.u64(e+16, t.TEB)
		l.u64(e+24, t.StackStart)
		switch {
		case w.stackMem[i] >= 0:
			m := w.memList[w.stackMem[i]]
			l.loc(e+32, uint32(len(m.data)), m.rva)
			l.ref(refMemRVA, e+36)
		case w.stack64[i] >= 0:
			rel, size := w.stack64[i], len(t.Stack)
			l.u32(e+32, uint32(size))
			l.ref(refMemRVA, e+36)
			l.late = append(l.late, func(base int64) {
				if rva := base + rel; rva <= math.MaxUint32 {
					l.u32(e+36, uint32(rva))
				}
			})
		}
		ctx := t.Context
		if ctx == nil {
			ctx, _ = Context(b.arch, t.ContextFlags, t.Regs)
		}
		rva := l.blob(ctx, 16)
		l.loc(e+40, uint32(len(ctx)), rva)
		l.ref(refContext, e+40)
		if _, ok := w.threadCtx[t.ID]; !ok {
			w.threadCtx[t.ID] = [2]uint32{uint32(len(ctx)), rva}
		}
	}
	return nil
}

func (w *writer) threadInfoList(l *layout, off int) error {
	tis := w.b.threadInfos
	l.u32(off, threadInfoHeaderSize)
	l.ref(refHeaderSize, off)
	l.u32(off+4, threadInfoSize)
	l.ref(refEntrySize, off+4)
	l.u32(off+8, uint32(len(tis)))
	l.ref(refCount32, off+8)
	for i, ti := range tis {
		e := off + threadInfoHeaderSize + threadInfoSize*i
		l.u32(e, ti.ThreadID)
		l.u32(e+4, ti.DumpFlags)
		l.u32(e+8, ti.DumpError)
		l.u32(e+12, ti.ExitStatus)
		l.u64(e+16, ti.CreateTime)
		l.u64(e+24, ti.ExitTime)
		l.u64(e+32, ti.KernelTime)
		l.u64(e+40, ti.UserTime)
		l.u64(e+48, ti.StartAddress)
		l.u64(e+56, ti.Affinity)
	}
	return nil
}

func (w *writer) moduleList(l *layout, off int) error {
	mods := w.b.modules
	l.u32(off, uint32(len(mods)))
	l.ref(refCount32, off)
	for i, m := range mods {
		e := off + 4 + moduleSize*i
		l.u64(e, m.Base)
		l.u32(e+8, m.Size)
		l.u32(e+12, m.Checksum)
		l.u32(e+16, m.TimeDateStamp)
		l.u32(e+20, l.str(m.Name))
		l.ref(refStr32, e+20)
		writeVersionInfo(l, e+24, m)
		cv := m.CodeView
		if cv == nil && m.PDBName != "" {
			cv = rsds(m.GUID, m.Age, m.PDBName)
		}
		if cv != nil {
			l.loc(e+76, uint32(len(cv)), l.blob(cv, 4))
			l.ref(refCodeView, e+76)
		}
		if m.MiscRecord != nil {
			l.loc(e+84, uint32(len(m.MiscRecord)), l.blob(m.MiscRecord, 4))
		}
		// Reserved0 and Reserved1 (e+92, e+100) stay zero.
	}
	return nil
}

// writeVersionInfo writes VS_FIXEDFILEINFO (13 DWORDs, 52 bytes) at off.
func writeVersionInfo(l *layout, off int, m Module) {
	if m.Version == [4]uint16{} && m.ProductVersion == [4]uint16{} {
		return
	}
	pv := m.ProductVersion
	if pv == [4]uint16{} {
		pv = m.Version
	}
	ft := m.FileType
	if ft == 0 {
		ft = vftDLL
		if strings.HasSuffix(strings.ToLower(m.Name), ".exe") {
			ft = vftApp
		}
	}
	v := m.Version
	fields := [13]uint32{
		vsFixedFileInfoSig, vsFixedFileInfoStruct,
		uint32(v[0])<<16 | uint32(v[1]), uint32(v[2])<<16 | uint32(v[3]),
		uint32(pv[0])<<16 | uint32(pv[1]), uint32(pv[2])<<16 | uint32(pv[3]),
		vsFFIFileFlagsMask, m.FileFlags, vosNTWindows32, ft, 0, 0, 0,
	}
	for i, f := range fields {
		l.u32(off+4*i, f)
	}
}

// rsds builds a CV_INFO_PDB70 record: "RSDS", GUID, Age, NUL-terminated
// UTF-8 PDB path.
func rsds(guid [16]byte, age uint32, pdb string) []byte {
	out := make([]byte, 24, 24+len(pdb)+1)
	binary.LittleEndian.PutUint32(out, cvSignatureRSDS)
	copy(out[4:], guid[:])
	binary.LittleEndian.PutUint32(out[20:], age)
	out = append(out, pdb...)
	return append(out, 0)
}

func (w *writer) unloadedList(l *layout, off int) error {
	us := w.b.unloaded
	l.u32(off, unloadedHeaderSize)
	l.ref(refHeaderSize, off)
	l.u32(off+4, unloadedModuleSize)
	l.ref(refEntrySize, off+4)
	l.u32(off+8, uint32(len(us)))
	l.ref(refCount32, off+8)
	for i, u := range us {
		e := off + unloadedHeaderSize + unloadedModuleSize*i
		l.u64(e, u.Base)
		l.u32(e+8, u.Size)
		l.u32(e+12, u.Checksum)
		l.u32(e+16, u.TimeDateStamp)
		l.u32(e+20, l.str(u.Name))
		l.ref(refStr32, e+20)
	}
	return nil
}

func (w *writer) memoryList(l *layout, off int) error {
	l.u32(off, uint32(len(w.memList)))
	l.ref(refCount32, off)
	for i, m := range w.memList {
		e := off + 4 + memoryDescriptorSize*i
		l.u64(e, m.addr)
		l.loc(e+8, uint32(len(m.data)), m.rva)
		l.ref(refMemRVA, e+12)
	}
	return nil
}

func (w *writer) memory64List(l *layout, off int) error {
	l.u64(off, uint64(len(w.m64)))
	l.ref(refCount64, off)
	l.ref(refM64Base, off+8)
	l.late = append(l.late, func(base int64) { l.u64(off+8, uint64(base)) })
	for i, m := range w.m64 {
		e := off + memory64HeaderSize + memory64DescSize*i
		l.u64(e, m.addr)
		l.u64(e+8, uint64(m.len()))
	}
	return nil
}

func (w *writer) exception(l *layout, off int) error {
	e := w.b.exc
	l.u32(off, e.ThreadID)
	l.u32(off+8, e.Code)
	l.u32(off+12, e.Flags)
	l.u64(off+16, e.Record)
	l.u64(off+24, e.Address)
	l.u32(off+32, uint32(len(e.Params)))
	l.ref(refCount32, off+32)
	for i, p := range e.Params {
		l.u64(off+40+8*i, p)
	}
	ctxLoc, shared := w.threadCtx[e.ThreadID]
	if e.Context != nil || e.Regs != nil || e.ContextFlags != 0 || !shared {
		ctx := e.Context
		if ctx == nil {
			ctx, _ = Context(w.b.arch, e.ContextFlags, e.Regs)
		}
		ctxLoc = [2]uint32{uint32(len(ctx)), l.blob(ctx, 16)}
	}
	l.loc(off+160, ctxLoc[0], ctxLoc[1])
	l.ref(refContext, off+160)
	return nil
}

func (w *writer) systemInfo(l *layout, off int) error {
	s := w.b.sys
	pa := s.ProcessorArchitecture
	if pa == 0 && w.b.arch == X64 {
		pa = dump.ProcessorAMD64
	}
	l.u16(off, pa)
	l.u16(off+2, s.ProcessorLevel)
	l.u16(off+4, s.ProcessorRevision)
	l.u8(off+6, s.NumberOfProcessors)
	l.u8(off+7, s.ProductType)
	l.u32(off+8, s.Major)
	l.u32(off+12, s.Minor)
	l.u32(off+16, s.Build)
	l.u32(off+20, s.PlatformID)
	l.u32(off+24, l.str(s.CSD))
	l.ref(refStr32, off+24)
	l.u16(off+28, s.SuiteMask)
	if s.VendorID != "" {
		copy(l.buf[off+32:off+44], s.VendorID)
		l.u32(off+44, s.VersionInformation)
		l.u32(off+48, s.FeatureInformation)
		l.u32(off+52, s.AMDExtendedCPUFeatures)
	} else {
		l.u64(off+32, s.ProcessorFeatures[0])
		l.u64(off+40, s.ProcessorFeatures[1])
	}
	return nil
}

func (w *writer) miscInfo(l *layout, off int) error {
	m := w.b.misc
	flags := m.Flags1
	if flags == 0 {
		flags = misc1ProcessID | misc1ProcessTimes
		if m.Level >= 2 {
			flags |= misc1ProcessorPower
		}
		if m.Level >= 3 {
			flags |= misc3ProcessIntegrity | misc3ExecuteFlags | misc3TimeZone
			if m.ProtectedProcess != 0 {
				flags |= misc3ProtectedProcess
			}
		}
		if m.Level >= 4 {
			flags |= misc4BuildString
		}
		if m.Level >= 5 {
			flags |= misc5ProcessCookie
		}
	}
	l.u32(off, uint32(miscSizes[m.Level]))
	l.u32(off+4, flags)
	l.u32(off+8, m.PID)
	l.u32(off+12, m.CreateTime)
	l.u32(off+16, m.UserTime)
	l.u32(off+20, m.KernelTime)
	if m.Level < 2 {
		return nil
	}
	l.u32(off+24, m.ProcessorMaxMhz)
	l.u32(off+28, m.ProcessorCurrentMhz)
	l.u32(off+32, m.ProcessorMhzLimit)
	l.u32(off+36, m.ProcessorMaxIdleState)
	l.u32(off+40, m.ProcessorCurIdleState)
	if m.Level < 3 {
		return nil
	}
	l.u32(off+44, m.IntegrityLevel)
	l.u32(off+48, m.ExecuteFlags)
	l.u32(off+52, m.ProtectedProcess)
	l.u32(off+56, m.TimeZoneID)
	if err := writeTimeZone(l, off+60, m.TimeZone); err != nil {
		return err
	}
	if m.Level < 4 {
		return nil
	}
	if err := l.putWchars(off+232, 260, m.BuildString); err != nil {
		return err
	}
	if err := l.putWchars(off+752, 40, m.DbgBldStr); err != nil {
		return err
	}
	if m.Level < 5 {
		return nil
	}
	// XSTATE_CONFIG_FEATURE_MSC_INFO occupies off+832..off+1360, left zero.
	l.u32(off+1360, m.ProcessCookie)
	return nil
}

// writeTimeZone writes TIME_ZONE_INFORMATION (172 bytes) at off.
func writeTimeZone(l *layout, off int, tz TimeZone) error {
	l.u32(off, uint32(tz.Bias))
	if err := l.putWchars(off+4, 32, tz.StandardName); err != nil {
		return err
	}
	writeSystemTime(l, off+68, tz.StandardDate)
	l.u32(off+84, uint32(tz.StandardBias))
	if err := l.putWchars(off+88, 32, tz.DaylightName); err != nil {
		return err
	}
	writeSystemTime(l, off+152, tz.DaylightDate)
	l.u32(off+168, uint32(tz.DaylightBias))
	return nil
}

func writeSystemTime(l *layout, off int, t SystemTime) {
	for i, v := range [8]uint16{t.Year, t.Month, t.DayOfWeek, t.Day, t.Hour, t.Minute, t.Second, t.Milliseconds} {
		l.u16(off+2*i, v)
	}
}

func (w *writer) handleData(l *layout, off int) error {
	hs, size := w.b.handles, w.b.handleDescSize
	l.u32(off, handleHeaderSize)
	l.ref(refHeaderSize, off)
	l.u32(off+4, uint32(size))
	l.ref(refEntrySize, off+4)
	l.u32(off+8, uint32(len(hs)))
	l.ref(refCount32, off+8)
	for i, h := range hs {
		e := off + handleHeaderSize + size*i
		l.u64(e, h.Handle)
		if h.TypeName != "" {
			l.u32(e+8, l.str(h.TypeName))
			l.ref(refStr32, e+8)
		}
		if h.ObjectName != "" {
			l.u32(e+12, l.str(h.ObjectName))
			l.ref(refStr32, e+12)
		}
		l.u32(e+16, h.Attributes)
		l.u32(e+20, h.GrantedAccess)
		l.u32(e+24, h.HandleCount)
		l.u32(e+28, h.PointerCount)
	}
	return nil
}

func (w *writer) memoryInfoList(l *layout, off int) error {
	l.u32(off, memoryInfoHeaderSize)
	l.ref(refHeaderSize, off)
	l.u32(off+4, memoryInfoSize)
	l.ref(refEntrySize, off+4)
	l.u64(off+8, uint64(len(w.regions)))
	l.ref(refCount64, off+8)
	for i, r := range w.regions {
		e := off + memoryInfoHeaderSize + memoryInfoSize*i
		l.u64(e, r.Base)
		l.u64(e+8, r.AllocBase)
		l.u32(e+16, r.AllocProtect)
		l.u64(e+24, r.Size)
		l.u32(e+32, r.State)
		l.u32(e+36, r.Protect)
		l.u32(e+40, r.Type)
	}
	return nil
}

func (w *writer) threadNames(l *layout, off int) error {
	l.u32(off, uint32(w.namedThreads()))
	l.ref(refCount32, off)
	e := off + 4
	for _, t := range w.b.threads {
		if t.Name == "" {
			continue
		}
		l.u32(e, t.ID)
		l.u64(e+4, uint64(l.str(t.Name)))
		l.ref(refStr64, e+4)
		e += threadNameSize
	}
	return nil
}

// finish writes the header and directory once malformations have shaped it.
func (l *layout) finish(b *Builder, dir []dirEntry) {
	flags := b.flags
	if !b.flagsSet {
		flags = b.derivedFlags()
	}
	l.u32(0, dump.Signature)
	l.u32(4, b.version)
	l.u32(8, uint32(len(dir)))
	l.u32(12, uint32(l.dirOff))
	l.u32(16, 0) // CheckSum: dbghelp writes 0
	l.u32(20, b.timeDateStamp)
	l.u64(24, flags)
	for i, d := range dir {
		e := l.dirOff + dirEntrySize*i
		l.u32(e, uint32(d.typ))
		l.loc(e+4, d.size, d.rva)
	}
}

func (b *Builder) derivedFlags() uint64 {
	var f uint64
	if len(b.mem64) > 0 {
		f |= dump.FlagWithFullMemory
	}
	if len(b.handles) > 0 {
		f |= dump.FlagWithHandleData
	}
	if len(b.unloaded) > 0 {
		f |= dump.FlagWithUnloadedModules
	}
	if len(b.regions) > 0 {
		f |= dump.FlagWithFullMemoryInfo
	}
	if len(b.threadInfos) > 0 {
		f |= dump.FlagWithThreadInfo
	}
	return f
}
