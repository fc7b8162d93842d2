package dump

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Layout holds the TEB and PEB offsets of one bitness (nt-heap.md §1.2: the
// same on Windows 7 SP1 through 11 24H2).
type Layout struct {
	PointerSize int

	TEBStackBase, TEBStackLimit, TEBSelf, TEBClientID, TEBPEB int
	TEBDeallocationStack, TEBWowTebOffset                     int

	PEBImageBase, PEBLdr, PEBProcessParameters, PEBProcessHeap int
	PEBNtGlobalFlag, PEBNumberOfHeaps, PEBMaxNumberOfHeaps     int
	PEBProcessHeaps, PEBOSMajor, PEBOSMinor, PEBOSBuild        int
}

// Layout32 is the x86 (and WOW64 32-bit) layout; Layout64 the x64 one.
var (
	Layout32 = Layout{PointerSize: 4,
		TEBStackBase: 0x04, TEBStackLimit: 0x08, TEBSelf: 0x18, TEBClientID: 0x20, TEBPEB: 0x30,
		TEBDeallocationStack: 0xe0c, TEBWowTebOffset: 0xfdc,
		PEBImageBase: 0x08, PEBLdr: 0x0c, PEBProcessParameters: 0x10, PEBProcessHeap: 0x18,
		PEBNtGlobalFlag: 0x68, PEBNumberOfHeaps: 0x88, PEBMaxNumberOfHeaps: 0x8c,
		PEBProcessHeaps: 0x90, PEBOSMajor: 0xa4, PEBOSMinor: 0xa8, PEBOSBuild: 0xac}
	Layout64 = Layout{PointerSize: 8,
		TEBStackBase: 0x08, TEBStackLimit: 0x10, TEBSelf: 0x30, TEBClientID: 0x40, TEBPEB: 0x60,
		TEBDeallocationStack: 0x1478, TEBWowTebOffset: 0x180c,
		PEBImageBase: 0x10, PEBLdr: 0x18, PEBProcessParameters: 0x20, PEBProcessHeap: 0x30,
		PEBNtGlobalFlag: 0xbc, PEBNumberOfHeaps: 0xe8, PEBMaxNumberOfHeaps: 0xec,
		PEBProcessHeaps: 0xf0, PEBOSMajor: 0x118, PEBOSMinor: 0x11c, PEBOSBuild: 0x120}
)

// Layout returns the layout of the dump's native bitness.
func (f *File) Layout() *Layout {
	if f.Arch().PointerSize() == 4 {
		return &Layout32
	}
	return &Layout64
}

// PointerSize is the dump's native pointer size.
func (f *File) PointerSize() int { return f.Arch().PointerSize() }

// IsWow64 reports whether an AMD64 dump holds a 32-bit process: its module
// list has the WOW64 layer (wow64.dll, wow64cpu.dll).
func (f *File) IsWow64() bool {
	if f.Arch() != ArchAMD64 {
		return false
	}
	for i := range f.Modules {
		switch strings.ToLower(f.Modules[i].BaseName()) {
		case "wow64.dll", "wow64cpu.dll", "wow64win.dll":
			return true
		}
	}
	return false
}

// ReadUint reads a little-endian integer of size 1, 2, 4 or 8 bytes.
func (f *File) ReadUint(addr uint64, size int) (uint64, error) {
	var b [8]byte
	if _, err := f.ReadMemory(addr, b[:size]); err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(b[:])), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b[:])), nil
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// ReadPointer reads a pointer of the given layout's size.
func (f *File) ReadPointer(addr uint64, l *Layout) (uint64, error) {
	return f.ReadUint(addr, l.PointerSize)
}

// PEB returns the address of the native PEB, read from the first thread
// whose TEB is captured.
func (f *File) PEB() (uint64, error) {
	l := f.Layout()
	var firstErr error
	for _, t := range f.Threads {
		if t.TEB == 0 {
			continue
		}
		peb, err := f.ReadPointer(t.TEB+uint64(l.TEBPEB), l)
		if err == nil && peb != 0 {
			return peb, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("no thread has a TEB")
	}
	return 0, fmt.Errorf("PEB not found: %w", firstErr)
}

// TEB32 returns the 32-bit TEB of a WOW64 thread: TEB64 + WowTebOffset, or
// + 0x2000 where the offset is not recorded (Windows 7).
func (f *File) TEB32(t *Thread) (uint64, bool) {
	if !f.IsWow64() || t.TEB == 0 {
		return 0, false
	}
	off, err := f.ReadUint(t.TEB+uint64(Layout64.TEBWowTebOffset), 4)
	d := int64(int32(off))
	if err != nil || d <= 0 || d > 0x10000 {
		d = 0x2000
	}
	teb32 := t.TEB + uint64(d)
	if self, err := f.ReadUint(teb32+uint64(Layout32.TEBSelf), 4); err != nil || self != teb32 {
		return 0, false
	}
	return teb32, true
}

// PEB32 returns the 32-bit PEB of a WOW64 process.
func (f *File) PEB32() (uint64, error) {
	for i := range f.Threads {
		if teb32, ok := f.TEB32(&f.Threads[i]); ok {
			if peb, err := f.ReadUint(teb32+uint64(Layout32.TEBPEB), 4); err == nil && peb != 0 {
				return peb, nil
			}
		}
	}
	return 0, fmt.Errorf("32-bit PEB not found")
}

// ProcessHeaps reads PEB.ProcessHeaps: the heap handles of the process.
func (f *File) ProcessHeaps(peb uint64, l *Layout) ([]uint64, error) {
	n, err := f.ReadUint(peb+uint64(l.PEBNumberOfHeaps), 4)
	if err != nil {
		return nil, fmt.Errorf("PEB.NumberOfHeaps: %w", err)
	}
	if max, err := f.ReadUint(peb+uint64(l.PEBMaxNumberOfHeaps), 4); err == nil && n > max {
		return nil, fmt.Errorf("PEB.NumberOfHeaps %d exceeds MaximumNumberOfHeaps %d", n, max)
	}
	if n > 4096 {
		return nil, fmt.Errorf("PEB.NumberOfHeaps %d is implausible", n)
	}
	arr, err := f.ReadPointer(peb+uint64(l.PEBProcessHeaps), l)
	if err != nil {
		return nil, fmt.Errorf("PEB.ProcessHeaps: %w", err)
	}
	heaps := make([]uint64, 0, n)
	for i := uint64(0); i < n; i++ {
		h, err := f.ReadPointer(arr+i*uint64(l.PointerSize), l)
		if err != nil {
			return heaps, fmt.Errorf("ProcessHeaps[%d] at %#x: %w", i, arr+i*uint64(l.PointerSize), err)
		}
		heaps = append(heaps, h)
	}
	return heaps, nil
}

// HeapSignature values at H+0x10 (x64) / H+0x08 (x86).
const (
	NTHeapSignature      = 0xffeeffee
	SegmentHeapSignature = 0xddeeddee
)

// HeapSegments returns the base addresses of an NT heap's segments by
// following _HEAP.SegmentList, whose offset differs between Windows 7 and
// later; the list that closes back on the heap with valid segment signatures
// decides. A segment heap or an unreadable heap gives just the handle.
func (f *File) HeapSegments(h uint64, l *Layout) []uint64 {
	sigOff, linkOff, baseOff := uint64(0x10), uint64(0x18), uint64(0x30)
	candidates := []uint64{0x120, 0x128}
	if l.PointerSize == 4 {
		sigOff, linkOff, baseOff = 0x08, 0x10, 0x1c
		candidates = []uint64{0xa4, 0xa8}
	}
	if sig, err := f.ReadUint(h+sigOff, 4); err != nil || sig != NTHeapSignature {
		return []uint64{h}
	}
	for _, listOff := range candidates {
		head := h + listOff
		var segs []uint64
		link, err := f.ReadPointer(head, l)
		ok := err == nil
		for steps := 0; ok && link != head; steps++ {
			seg := link - linkOff
			if steps > 1024 {
				ok = false
				break
			}
			sig, err := f.ReadUint(seg+sigOff, 4)
			if err != nil || sig != NTHeapSignature {
				ok = false
				break
			}
			base, err := f.ReadPointer(seg+baseOff, l)
			if err != nil {
				ok = false
				break
			}
			segs = append(segs, base)
			if link, err = f.ReadPointer(link, l); err != nil {
				ok = false
			}
		}
		if ok && len(segs) > 0 {
			return segs
		}
	}
	return []uint64{h}
}
