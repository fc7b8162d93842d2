package sample

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"unicode/utf16"

	"wdb/dump"
	"wdb/dump/dumpbuild"
)

const (
	kb = 1 << 10
	mb = 1 << 20

	seedViews    = 2300
	seedViews512 = 500
	seedMapped   = 934*mb + 256*kb // 934.250 MB
	seedPrivate  = 805*mb + 192*kb // 805.188 MB
	defaultViews = 300

	// The x86 variant's largest free region and failing request.
	largestFreeX86 = 0x180000
	failedX86      = 4 * mb
	failedX64      = 512 * kb

	allocGranularity = 0x10000
	page             = 0x1000

	statusNoMemory       = 0xC0000017
	errorNotEnoughMemory = 8
	processID            = 0x1d3c
	build                = 19045
)

// Page protections and region states/types, from package dump.
const (
	pageReadOnly         = dump.PageReadOnly
	pageReadWrite        = dump.PageReadWrite
	pageWriteCopy        = dump.PageWriteCopy
	pageExecuteRead      = dump.PageExecuteRead
	pageExecuteWriteCopy = dump.PageExecuteWriteCopy
	pageGuard            = dump.PageGuard
	memCommit            = dump.MemCommit
	memReserve           = dump.MemReserve
	memPrivate           = dump.MemPrivate
	memMapped            = dump.MemMapped
	memImage             = dump.MemImage
)

// defaultSeedValue seeds the pseudo-random choices when Options.Seed is 0.
const defaultSeedValue = 0x5eed_0f_3a4d_2301

// gen holds the state of one generation.
type gen struct {
	o     Options
	x64   bool
	ptr   int
	arch  dump.Arch
	app   appFacts
	rng   *rand.Rand
	b     *dumpbuild.Builder
	truth Truth

	nViews int
	scale  float64 // the sample's size relative to the seed (x64); 1 for x86

	images map[string]*builtImage
	appMem []byte
	appSec []section
	syms   map[string]uint64

	chunks  []*chunk // memory with data (or zeros), not yet emitted
	regions []dumpbuild.Region
	sorted  bool

	peb      uint64
	threads  []threadPlan
	heap     *heapPlan
	ldrData  uint64 // PEB_LDR_DATA
	kuser    uint64
	handles  []dumpbuild.Handle
	viewPlan []viewPlan
}

// chunk is target memory the dump captures: data, or zeros bytes of zeros
// when data is nil.
type chunk struct {
	addr   uint64
	data   []byte
	zeros  uint64
	sparse bool // emit zero pages of data as zero ranges
}

func (c *chunk) end() uint64 {
	if c.data != nil {
		return c.addr + uint64(len(c.data))
	}
	return c.addr + c.zeros
}

func newGen(o Options) (*gen, error) {
	g := &gen{o: o}
	switch o.Arch {
	case "", "x64", "amd64", "X64":
		g.x64, g.ptr, g.arch, g.app = true, 8, dumpbuild.X64, appX64
	case "x86", "i386", "X86":
		g.x64, g.ptr, g.arch, g.app = false, 4, dumpbuild.X86, appX86
	default:
		return nil, fmt.Errorf("sample: unknown architecture %q (x64 or x86)", o.Arch)
	}
	scale := o.Scale
	switch scale {
	case "", ScaleDefault:
		scale = ScaleDefault
		g.nViews = defaultViews
		if !g.x64 {
			g.nViews = seedViews
		}
	case ScaleSeed:
		g.nViews = seedViews
	default:
		return nil, fmt.Errorf("sample: unknown scale %q (default or seed)", o.Scale)
	}
	if o.Views != 0 {
		if o.Views < 1 || o.Views > 20000 {
			return nil, fmt.Errorf("sample: %d views is not in 1..20000", o.Views)
		}
		g.nViews = o.Views
	}
	g.scale = float64(g.nViews) / seedViews
	if !g.x64 {
		g.scale = 1
	}
	seed := o.Seed
	if seed == 0 {
		seed = defaultSeedValue
	}
	g.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g.b = dumpbuild.New(g.arch)
	g.truth = Truth{Arch: g.app.arch, PointerSize: g.ptr, Scale: scale, Build: build, ProcessID: processID}
	return g, nil
}

// run builds everything into g.b.
func (g *gen) run() error {
	steps := []func() error{g.buildImages, g.planViews, g.buildHeap, g.planThreads, g.layout, g.writeProcess, g.writeObjects, g.writeThreads, g.emit}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// buildImages maps app.exe and synthesizes the system DLLs.
func (g *gen) buildImages() error {
	specs := dllsX64()
	if !g.x64 {
		specs = dllsX86()
	}
	ims, err := buildImages(specs, g.x64)
	if err != nil {
		return err
	}
	g.images = ims
	g.syms = map[string]uint64{}
	for _, im := range ims {
		for k, v := range im.symbols {
			g.syms[k] = v
		}
	}
	mem, secs, err := mapImage(asset(g.app.arch, "app.exe"))
	if err != nil {
		return fmt.Errorf("sample: app.exe: %w", err)
	}
	if uint32(len(mem)) != g.app.size {
		return fmt.Errorf("sample: app.exe SizeOfImage %#x, expected %#x", len(mem), g.app.size)
	}
	g.appMem, g.appSec = mem, secs
	// Bind the imports: KERNEL32's stubs, HeapAlloc/HeapFree forwarded to
	// ntdll.
	for name, slot := range g.app.iat {
		target := "KERNEL32!" + name
		switch name {
		case "HeapAlloc":
			target = "ntdll!RtlAllocateHeap"
		case "HeapFree":
			target = "ntdll!RtlFreeHeap"
		}
		addr, ok := g.syms[target]
		if !ok {
			return fmt.Errorf("sample: no %s for the import of %s", target, name)
		}
		putPtr(mem, uint64(slot), addr, g.ptr)
	}
	a := g.app.base
	g.truth.AppBase = a
	g.truth.SerializerVftable = a + uint64(g.app.vftSerializer)
	g.truth.CommunicatorVftable = a + uint64(g.app.vftCommunicator)
	g.truth.BufferVftable = a + uint64(g.app.vftBuffer)
	g.truth.OpenFunction = a + uint64(g.app.open)
	g.truth.MapViewOfFile = g.syms["KERNELBASE!MapViewOfFile"]
	return nil
}

// viewPlan is one view before placement.
type viewPlan struct {
	size    uint64
	records int
	id      int
}

// planViews decides the size and message count of every view.
func (g *gen) planViews() error {
	n := g.nViews
	n512 := (n*seedViews512 + seedViews/2) / seedViews
	g.viewPlan = make([]viewPlan, n)
	for i := range g.viewPlan {
		size := uint64(256 * kb)
		if (i*n512)/n != ((i+1)*n512)/n {
			size = 512 * kb
		}
		g.viewPlan[i] = viewPlan{size: size, records: 6 + g.rng.IntN(4), id: i + 1}
	}
	return nil
}

// addData records captured memory holding data (not copied).
func (g *gen) addData(addr uint64, data []byte) {
	g.chunks = append(g.chunks, &chunk{addr: addr, data: data})
	g.sorted = false
}

// addZeros records captured memory that is all zero.
func (g *gen) addZeros(addr, size uint64) {
	g.chunks = append(g.chunks, &chunk{addr: addr, zeros: size})
	g.sorted = false
}

// addSparse adds data whose runs of zero pages are emitted as zero ranges
// (images: mostly zero).
func (g *gen) addSparse(addr uint64, data []byte) {
	g.chunks = append(g.chunks, &chunk{addr: addr, data: data, sparse: true})
	g.sorted = false
}

// emitSparse emits data as Memory64 ranges, zero pages as zero ranges.
func (g *gen) emitSparse(addr uint64, data []byte) {
	n := uint64(len(data))
	for off := uint64(0); off < n; {
		end := min(off+page, n)
		zero := allZero(data[off:end])
		run := end
		for run < n {
			e := min(run+page, n)
			if allZero(data[run:e]) != zero {
				break
			}
			run = e
		}
		if zero {
			g.b.Memory64Zero(addr+off, run-off)
		} else {
			g.b.Memory64(addr+off, data[off:run])
		}
		off = run
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// at returns n writable bytes of captured data at addr.
func (g *gen) at(addr uint64, n int) []byte {
	if !g.sorted {
		sort.Slice(g.chunks, func(i, j int) bool { return g.chunks[i].addr < g.chunks[j].addr })
		g.sorted = true
	}
	i := sort.Search(len(g.chunks), func(i int) bool { return g.chunks[i].end() > addr })
	if i < len(g.chunks) {
		c := g.chunks[i]
		if c.data != nil && addr >= c.addr && addr+uint64(n) <= c.end() {
			return c.data[addr-c.addr : addr-c.addr+uint64(n)]
		}
	}
	panic(fmt.Sprintf("sample: write of %d bytes at %#x outside captured data", n, addr))
}

func (g *gen) u16(addr uint64, v uint16) { binary.LittleEndian.PutUint16(g.at(addr, 2), v) }
func (g *gen) u32(addr uint64, v uint32) { binary.LittleEndian.PutUint32(g.at(addr, 4), v) }
func (g *gen) u64(addr uint64, v uint64) { binary.LittleEndian.PutUint64(g.at(addr, 8), v) }
func (g *gen) p(addr uint64, v uint64) {
	if g.ptr == 4 {
		g.u32(addr, uint32(v))
	} else {
		g.u64(addr, v)
	}
}
func (g *gen) bytes(addr uint64, b []byte) { copy(g.at(addr, len(b)), b) }

// ustr writes a UNICODE_STRING at addr describing the NUL-terminated
// UTF-16 text at buf, and the text itself; it returns the bytes used at buf.
func (g *gen) ustr(addr, buf uint64, s string) uint64 {
	u := utf16le(s)
	g.bytes(buf, u)
	g.u16(buf+uint64(len(u)), 0)
	g.u16(addr, uint16(len(u)))
	g.u16(addr+2, uint16(len(u)+2))
	if g.ptr == 8 {
		g.u64(addr+8, buf)
	} else {
		g.u32(addr+4, uint32(buf))
	}
	return uint64(len(u)+2+7) &^ 7
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// region adds a MemoryInfoList entry.
func (g *gen) region(base, size, allocBase uint64, allocProt, state, prot, typ uint32) {
	if state == memReserve {
		prot = 0
	}
	g.regions = append(g.regions, dumpbuild.Region{Base: base, AllocBase: allocBase, AllocProtect: allocProt,
		Size: size, State: state, Protect: prot, Type: typ})
}

func buildString(x64 bool) string {
	if x64 {
		return "19041.1.amd64fre.vb_release.191206-1406"
	}
	return "19041.1.x86fre.vb_release.191206-1406"
}

// emit hands memory, regions and streams to the builder.
func (g *gen) emit() error {
	b := g.b
	sort.Slice(g.chunks, func(i, j int) bool { return g.chunks[i].addr < g.chunks[j].addr })
	var last uint64
	for _, c := range g.chunks {
		if c.addr < last {
			return fmt.Errorf("sample: captured memory overlaps at %#x", c.addr)
		}
		last = c.end()
		if c.sparse {
			g.emitSparse(c.addr, c.data)
		} else if c.data != nil {
			b.Memory64(c.addr, c.data)
		} else {
			b.Memory64Zero(c.addr, c.zeros)
		}
	}
	sort.Slice(g.regions, func(i, j int) bool { return g.regions[i].Base < g.regions[j].Base })
	last = 0
	for _, r := range g.regions {
		if r.Base < last {
			return fmt.Errorf("sample: region %#x overlaps the one before it (ends %#x)", r.Base, last)
		}
		last = r.Base + r.Size
		b.Region(r)
		switch r.Type {
		case memMapped:
			g.truth.MappedBytes += r.Size
		case memPrivate:
			g.truth.PrivateBytes += r.Size
		case memImage:
			g.truth.ImageBytes += r.Size
		}
	}
	// Free regions, as !address computes them.
	limit := uint64(0x7fffffff0000)
	if !g.x64 {
		limit = 0x7fff0000
	}
	at := uint64(0)
	free := func(base, end uint64) {
		if end > base && end-base > g.truth.LargestFree {
			g.truth.LargestFree, g.truth.LargestFreeBase = end-base, base
		}
	}
	for _, r := range g.regions {
		free(at, r.Base)
		at = max(at, r.Base+r.Size)
	}
	free(at, limit)
	for _, h := range g.handles {
		b.Handle(h)
	}
	// Modules: the app with its CodeView record, then the system DLLs.
	b.Module(dumpbuild.Module{Name: `C:\src\wdb\app.exe`, Base: g.app.base, Size: g.app.size, TimeDateStamp: g.app.timestamp,
		PDBName: PDBName, GUID: dumpbuild.MustGUID(g.app.guid), Age: 1})
	for _, name := range []string{"ntdll", "KERNEL32", "KERNELBASE"} {
		s := g.images[name].spec
		b.Module(dumpbuild.Module{Name: s.path, Base: s.base, Size: s.size, TimeDateStamp: s.stamp, Version: s.version,
			Checksum: s.stamp ^ 0x5a5a1234&0xffffff})
	}
	b.Misc(dumpbuild.MiscInfo{Level: 4, PID: processID, CreateTime: dumpbuild.DefaultTimeDateStamp - 13800,
		UserTime: 1520, KernelTime: 310, ProcessorMaxMhz: 3600, ProcessorCurrentMhz: 3600, ProcessorMhzLimit: 3600,
		IntegrityLevel: 0x2000, ExecuteFlags: 0x4d,
		TimeZone:    dumpbuild.TimeZone{Bias: 0, StandardName: "Coordinated Universal Time", DaylightName: "Coordinated Universal Time"},
		BuildString: buildString(g.x64), DbgBldStr: "dbghelp.amd64fre.vb_release.191206-1406"})
	b.Flags(dump.FlagWithFullMemory | dump.FlagWithHandleData | dump.FlagWithFullMemoryInfo | dump.FlagWithThreadInfo |
		0x1 /* DataSegs */ | 0x100 /* ProcessThreadData */ | 0x4000 /* IgnoreInaccessibleMemory */)
	g.truth.Heaps = g.heap.handles
	g.truth.ProcessHeap = g.heap.handles[0]
	return nil
}
