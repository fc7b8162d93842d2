package dump

import (
	"fmt"
	"sort"
	"strings"
)

// Usage is what a region holds, as WinDbg's !address classifies it.
type Usage int

const (
	UsageFree Usage = iota
	UsageUnknown
	UsageImage
	UsageStack
	UsageTEB
	UsagePEB
	UsageHeap
	UsageOther
)

var usageNames = [...]string{"Free", "<unknown>", "Image", "Stack", "TEB", "PEB", "Heap", "Other"}

func (u Usage) String() string {
	if int(u) < len(usageNames) {
		return usageNames[u]
	}
	return "<unknown>"
}

// UsageByName maps a usage name (case-insensitive, as in !address -f:) to its value.
func UsageByName(name string) (Usage, bool) {
	for i, n := range usageNames {
		if strings.EqualFold(n, name) {
			return Usage(i), true
		}
	}
	return 0, false
}

// Region is one VirtualQuery-style region of the process address space.
type Region struct {
	Base              uint64
	Size              uint64
	AllocationBase    uint64
	AllocationProtect uint32
	State             uint32
	Protect           uint32
	Type              uint32

	Usage Usage
	// Bits is 32 or 64 in a WOW64 process for usages that exist twice
	// (Stack32/Stack64, Heap32/Heap64, TEB32/TEB64, PEB32/PEB64); else 0.
	Bits   int
	Detail string // the text in brackets after the usage

	Module   *Module // the image, for UsageImage
	Thread   int     // thread index for Stack and TEB; -1 otherwise
	Heap     uint64  // heap handle for UsageHeap
	HeapID   int
	Derived  bool   // made up from captured ranges, modules and stacks: the dump has no MemoryInfoList
	Captured uint64 // bytes of the region held in the dump
}

// End is one past the region's last byte.
func (r *Region) End() uint64 { return r.Base + r.Size }

// UsageName is the usage as !address prints it, with the WOW64 bitness suffix.
func (r *Region) UsageName() string {
	if r.Bits != 0 {
		return fmt.Sprintf("%s%d", r.Usage, r.Bits)
	}
	return r.Usage.String()
}

// UserSpaceEnd is one past the highest user-mode address of the target.
// For 32-bit processes it is 0x7fff0000 unless the process uses memory above
// it (large-address-aware images, and Windows 7 dumps whose PEB and TEB sit
// just below 0x80000000); the regions beyond a 32-bit process's user space
// that some writers record (sign-extended kernel addresses) are dropped.
func (f *File) UserSpaceEnd() uint64 {
	if f.PointerSize() == 8 {
		return 0x7fffffff0000
	}
	hi := uint64(0x7fff0000)
	note := func(end uint64) {
		if end <= 0xffff0000 && end > hi {
			hi = end
		}
	}
	laa := f.largeAddressAware()
	for _, m := range f.MemoryInfo {
		base := uint64(uint32(m.BaseAddress))
		if m.State != MemFree && m.BaseAddress>>32 == 0 && (laa || base+m.RegionSize <= 0x80000000) {
			note(base + m.RegionSize)
		}
	}
	for _, r := range f.mem.ranges {
		if laa || r.End() <= 0x80000000 {
			note(r.End())
		}
	}
	for i := range f.Modules {
		note(f.Modules[i].End())
	}
	return (hi + 0xffff) &^ 0xffff
}

// largeAddressAware reads IMAGE_FILE_LARGE_ADDRESS_AWARE from the header of
// the main image (the first module), when its header is in the dump.
func (f *File) largeAddressAware() bool {
	if len(f.Modules) == 0 {
		return false
	}
	base := f.Modules[0].Base
	lfanew, err := f.ReadUint(base+0x3c, 4)
	if err != nil || lfanew > 0x1000 {
		return false
	}
	ch, err := f.ReadUint(base+lfanew+4+18, 2)
	return err == nil && ch&0x20 != 0
}

// Regions returns every region of the user address space in address order,
// free ones included, each classified by usage. It is computed on first use
// and kept.
func (f *File) Regions() []Region {
	f.regionsOnce.Do(func() { f.regions = f.buildRegions() })
	return f.regions
}

// RegionAt returns the region that contains addr.
func (f *File) RegionAt(addr uint64) (*Region, bool) {
	rs := f.Regions()
	i := sort.Search(len(rs), func(i int) bool { return rs[i].End() > addr })
	if i < len(rs) && rs[i].Base <= addr {
		return &rs[i], true
	}
	return nil, false
}

func (f *File) buildRegions() []Region {
	var rs []Region
	if f.HasMemoryInfo {
		rs = f.regionsFromMemoryInfo()
	} else {
		rs = f.derivedRegions()
	}
	rs = fillFree(rs, f.UserSpaceEnd(), !f.HasMemoryInfo)
	for i := range rs {
		rs[i].Thread = -1
		rs[i].Captured = f.capturedIn(rs[i].Base, rs[i].End())
	}
	f.classify(rs)
	return rs
}

func (f *File) regionsFromMemoryInfo() []Region {
	rs := make([]Region, 0, len(f.MemoryInfo))
	var end uint64
	limit := f.UserSpaceEnd()
	for _, m := range f.MemoryInfo {
		if m.RegionSize == 0 || m.BaseAddress+m.RegionSize < m.BaseAddress || m.BaseAddress >= limit {
			continue
		}
		if m.BaseAddress+m.RegionSize > limit {
			m.RegionSize = limit - m.BaseAddress
		}
		base := m.BaseAddress
		if base < end { // overlapping entries: keep the earlier one's bytes
			if m.BaseAddress+m.RegionSize <= end {
				continue
			}
			base = end
		}
		r := Region{Base: base, Size: m.BaseAddress + m.RegionSize - base, AllocationBase: m.AllocationBase,
			AllocationProtect: m.AllocationProtect, State: m.State, Protect: m.Protect, Type: m.Type}
		if r.State == MemFree {
			r.Type, r.AllocationBase, r.AllocationProtect = 0, 0, 0
		}
		rs = append(rs, r)
		end = r.End()
	}
	return rs
}

// derivedRegions builds regions for dumps without a MemoryInfoList (Wine,
// Breakpad, Crashpad minidumps): module images, then the captured ranges
// outside them. States are committed; types other than image are unknown.
func (f *File) derivedRegions() []Region {
	var rs []Region
	mods := make([]*Module, 0, len(f.Modules))
	for i := range f.Modules {
		if f.Modules[i].Size > 0 {
			mods = append(mods, &f.Modules[i])
		}
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Base < mods[j].Base })
	var end uint64
	for _, m := range mods {
		if m.Base < end {
			continue
		}
		rs = append(rs, Region{Base: m.Base, Size: uint64(m.Size), AllocationBase: m.Base, State: MemCommit, Type: MemImage, Derived: true})
		end = m.End()
	}
	// Captured ranges that lie outside images, split around them.
	var extra []Region
	for _, r := range f.mem.raw {
		start, stop := r.Start, r.End()
		for _, img := range rs {
			if img.End() <= start || img.Base >= stop {
				continue
			}
			if img.Base > start {
				extra = append(extra, Region{Base: start, Size: img.Base - start, AllocationBase: start, State: MemCommit, Derived: true})
			}
			start = max(start, img.End())
		}
		if start < stop {
			extra = append(extra, Region{Base: start, Size: stop - start, AllocationBase: start, State: MemCommit, Derived: true})
		}
	}
	rs = append(rs, extra...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Base < rs[j].Base })
	return rs
}

// fillFree inserts free regions into the gaps, up to the end of user space.
func fillFree(rs []Region, limit uint64, derived bool) []Region {
	out := make([]Region, 0, 2*len(rs)+1)
	var at uint64
	for _, r := range rs {
		if r.Base > at {
			out = append(out, Region{Base: at, Size: r.Base - at, State: MemFree, Protect: PageNoAccess, Derived: derived})
		}
		out = append(out, r)
		at = max(at, r.End())
	}
	if at < limit {
		out = append(out, Region{Base: at, Size: limit - at, State: MemFree, Protect: PageNoAccess, Derived: true})
	}
	return out
}

func (f *File) capturedIn(start, end uint64) uint64 {
	var n uint64
	rs := f.mem.ranges
	i := sort.Search(len(rs), func(i int) bool { return rs[i].End() > start })
	for ; i < len(rs) && rs[i].Start < end; i++ {
		n += min(rs[i].End(), end) - max(rs[i].Start, start)
	}
	return n
}

// classify sets Usage and Detail on every region.
func (f *File) classify(rs []Region) {
	find := func(addr uint64) int {
		i := sort.Search(len(rs), func(i int) bool { return rs[i].End() > addr })
		if i < len(rs) && rs[i].Base <= addr {
			return i
		}
		return -1
	}
	// markAllocation labels every region of the allocation that holds addr.
	markAllocation := func(addr uint64, set func(r *Region)) {
		i := find(addr)
		if i < 0 || rs[i].State == MemFree {
			return
		}
		ab := rs[i].AllocationBase
		if rs[i].Derived {
			set(&rs[i])
			return
		}
		for j := i; j >= 0 && rs[j].AllocationBase == ab && rs[j].State != MemFree; j-- {
			set(&rs[j])
		}
		for j := i + 1; j < len(rs) && rs[j].AllocationBase == ab && rs[j].State != MemFree; j++ {
			set(&rs[j])
		}
	}
	wow := f.IsWow64()
	bits := func(b int) int {
		if wow {
			return b
		}
		return 0
	}
	native := f.PointerSize() * 8

	for i := range rs {
		r := &rs[i]
		switch {
		case r.State == MemFree:
			r.Usage = UsageFree
		case r.Type == MemImage:
			r.Usage = UsageImage
		default:
			r.Usage = UsageUnknown
		}
	}
	// Images: name the module that contains each image region.
	for i := range f.Modules {
		m := &f.Modules[i]
		j := find(m.Base)
		for ; j >= 0 && j < len(rs) && rs[j].Base < m.End(); j++ {
			if rs[j].State == MemFree {
				continue
			}
			if rs[j].Type == MemImage || rs[j].Derived {
				rs[j].Usage, rs[j].Module = UsageImage, m
				rs[j].Detail = m.ModuleName() + `; "` + m.Name + `"`
			}
		}
	}
	pid, _ := f.ProcessID()
	l := f.Layout()
	for ti := range f.Threads {
		t := &f.Threads[ti]
		tag := fmt.Sprintf("~%d; %x.%x", ti, pid, t.ID)
		stack := func(b int) func(r *Region) {
			return func(r *Region) { r.Usage, r.Bits, r.Thread, r.Detail = UsageStack, bits(b), ti, tag }
		}
		// The native stack: the allocation that holds the stack pointer
		// (or the captured stack range).
		sp := t.Stack.Start
		if t.Context != nil && t.Context.SP() != 0 && (f.Arch() != ArchAMD64 || t.Context.Arch == ArchAMD64) {
			sp = t.Context.SP()
		}
		if base, err := f.ReadPointer(t.TEB+uint64(l.TEBStackBase), l); err == nil && base > 0 {
			if limit, err := f.ReadPointer(t.TEB+uint64(l.TEBStackLimit), l); err == nil && limit < base {
				sp = base - 1
			}
		}
		if sp != 0 {
			markAllocation(sp, stack(native))
		}
		teb := func(b int) func(r *Region) {
			return func(r *Region) {
				if r.Usage != UsageStack {
					r.Usage, r.Bits, r.Thread, r.Detail = UsageTEB, bits(b), ti, tag
				}
			}
		}
		if j := find(t.TEB); j >= 0 && t.TEB != 0 && rs[j].State != MemFree {
			teb(native)(&rs[j])
		}
		if teb32, ok := f.TEB32(t); ok {
			if base, err := f.ReadUint(teb32+uint64(Layout32.TEBStackBase), 4); err == nil && base > 0 {
				markAllocation(base-1, stack(32))
			}
			if j := find(teb32); j >= 0 && rs[j].Usage != UsageTEB {
				teb(32)(&rs[j])
			}
		}
	}
	pebs := []struct {
		addr uint64
		l    *Layout
		bits int
	}{}
	if peb, err := f.PEB(); err == nil {
		pebs = append(pebs, struct {
			addr uint64
			l    *Layout
			bits int
		}{peb, l, native})
	}
	if wow {
		if peb32, err := f.PEB32(); err == nil {
			pebs = append(pebs, struct {
				addr uint64
				l    *Layout
				bits int
			}{peb32, &Layout32, 32})
		}
	}
	for _, p := range pebs {
		if j := find(p.addr); j >= 0 && rs[j].State != MemFree {
			rs[j].Usage, rs[j].Bits, rs[j].Detail = UsagePEB, bits(p.bits), fmt.Sprintf("%x", pid)
		}
		heaps, _ := f.ProcessHeaps(p.addr, p.l)
		for id, h := range heaps {
			kind := "Segment"
			for _, seg := range f.HeapSegments(h, p.l) {
				detail := fmt.Sprintf("ID: %d; Handle: %0*x; Type: %s", id, p.l.PointerSize*2, h, kind)
				markAllocation(seg, func(r *Region) {
					if r.Usage == UsageUnknown {
						r.Usage, r.Bits, r.Heap, r.HeapID, r.Detail = UsageHeap, bits(p.bits), h, id, detail
					}
				})
			}
		}
	}
	// KUSER_SHARED_DATA sits at the same address in every process.
	if j := find(0x7ffe0000); j >= 0 && rs[j].Base == 0x7ffe0000 && rs[j].Usage == UsageUnknown {
		rs[j].Usage, rs[j].Detail = UsageOther, "User Shared Data"
	}
}

// Preview is the text !address shows for a committed <unknown> region: its
// first 16 bytes with non-printable bytes as dots, or "" when they are not
// captured. It is computed on demand: touching the first page of every region
// would make a summary of 100 000 regions slow.
func (f *File) Preview(r *Region) string {
	if r.Usage != UsageUnknown || r.State != MemCommit || r.Size < 16 {
		return ""
	}
	var b [16]byte
	if n, _ := f.ReadMemory(r.Base, b[:]); n == 16 {
		return previewBytes(b[:])
	}
	return ""
}

func previewBytes(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c < 0x7f {
			out[i] = c
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}
