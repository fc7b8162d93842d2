package commands

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"

	"wdb/dump"
)

// !teb and !peb: the thread and process environment blocks, read from the
// dump's memory with the field offsets of Windows 7 through 11 (the same for
// every field shown), in the layout of windbg-commands.md §17.

func init() {
	Register(&Command{
		Name:    "!teb",
		Usage:   "!teb [TEB-address]",
		Summary: "display the thread environment block",
		Help: "Without an address: the current thread's TEB. In a WOW64 process the 32-bit TEB\n" +
			"(Wow64 TEB32) is shown before the 64-bit one.",
		Run: runTEB,
	})
	Register(&Command{
		Name:    "!peb",
		Usage:   "!peb [PEB-address]",
		Summary: "display the process environment block",
		Help: "Without an address: the process's PEB: flags, image base, loader lists and the\n" +
			"loaded modules, heap, process parameters (directory, image, command line) and the\n" +
			"environment. In a WOW64 process the 32-bit PEB (Wow64 PEB32) comes first.",
		Run: runPEB,
	})
}

// tebOffsets are the TEB fields !teb shows, for 4- and 8-byte pointers.
type tebOffsets struct {
	exceptionList, stackBase, stackLimit, subSystemTib, fiberData, arbitrary, self, env,
	clientID, rpc, tls, peb, lastError, ownedLocks, lastStatus, hardErrorMode uint64
}

var (
	teb32 = tebOffsets{0, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x28, 0x2c, 0x30, 0x34, 0x38, 0xbf4, 0xf28}
	teb64 = tebOffsets{0, 8, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x50, 0x58, 0x60, 0x68, 0x6c, 0x1250, 0x16b0}
)

// memReader reads little-endian values of one bitness.
type memReader struct {
	f   *dump.File
	ptr int
	err error // the first failed read
}

func (m *memReader) bytes(addr uint64, n int) []byte {
	b := make([]byte, n)
	if k, err := m.f.ReadMemory(addr, b); k < n {
		if m.err == nil {
			m.err = err
			if err == nil {
				m.err = fmt.Errorf("memory at %#x is not in the dump", addr)
			}
		}
		return nil
	}
	return b
}

func (m *memReader) u8(addr uint64) uint64 {
	if b := m.bytes(addr, 1); b != nil {
		return uint64(b[0])
	}
	return 0
}

func (m *memReader) u16(addr uint64) uint64 {
	if b := m.bytes(addr, 2); b != nil {
		return uint64(binary.LittleEndian.Uint16(b))
	}
	return 0
}

func (m *memReader) u32(addr uint64) uint64 {
	if b := m.bytes(addr, 4); b != nil {
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return 0
}

func (m *memReader) p(addr uint64) uint64 {
	if m.ptr == 4 {
		return m.u32(addr)
	}
	if b := m.bytes(addr, 8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// unicodeString reads a UNICODE_STRING at addr; ok is false when it or its
// buffer is not in the dump.
func (m *memReader) unicodeString(addr uint64) (string, bool) {
	sub := &memReader{f: m.f, ptr: m.ptr}
	n := sub.u16(addr)
	buf := sub.p(addr + uint64(m.ptr))
	if sub.err != nil {
		return "", false
	}
	if n == 0 {
		return "", true
	}
	b := sub.bytes(buf, int(n&^1))
	if b == nil {
		return "", false
	}
	return decodeUTF16LE(b), true
}

func decodeUTF16LE(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// hexPtr is a pointer-width value without backtick, as !teb/!peb print them.
func hexPtr(ptr int, v uint64) string {
	if ptr == 4 {
		return fmt.Sprintf("%08x", uint32(v))
	}
	return fmt.Sprintf("%016x", v)
}

// TEBInfo is one !teb block.
type TEBInfo struct {
	Title                string `json:"title"` // "TEB", "Wow64 TEB32", "Wow64 TEB"
	Address              uint64 `json:"address"`
	Readable             bool   `json:"readable"`
	ExceptionList        uint64 `json:"exceptionList"`
	StackBase            uint64 `json:"stackBase"`
	StackLimit           uint64 `json:"stackLimit"`
	SubSystemTib         uint64 `json:"subSystemTib"`
	FiberData            uint64 `json:"fiberData"`
	ArbitraryUserPointer uint64 `json:"arbitraryUserPointer"`
	Self                 uint64 `json:"self"`
	EnvironmentPointer   uint64 `json:"environmentPointer"`
	ProcessID            uint64 `json:"processId"`
	ThreadID             uint64 `json:"threadId"`
	RpcHandle            uint64 `json:"rpcHandle"`
	TLSStorage           uint64 `json:"tlsStorage"`
	PEB                  uint64 `json:"peb"`
	LastErrorValue       uint32 `json:"lastErrorValue"`
	LastStatusValue      uint32 `json:"lastStatusValue"`
	CountOwnedLocks      uint32 `json:"countOwnedLocks"`
	HardErrorMode        uint32 `json:"hardErrorMode"`
	ptr                  int
}

// TEBDisplay is the result of !teb.
type TEBDisplay struct {
	Blocks []*TEBInfo `json:"blocks"`
}

// WriteText prints each block as §17.1 shows it.
func (d *TEBDisplay) WriteText(w io.Writer) {
	for _, t := range d.Blocks {
		h := func(v uint64) string { return hexPtr(t.ptr, v) }
		fmt.Fprintf(w, "%s at %s\n", t.Title, h(t.Address))
		if !t.Readable {
			fmt.Fprintf(w, "error InitTypeRead( TEB )...\n")
			continue
		}
		row := func(label, value string) { fmt.Fprintf(w, "    %-22s%s\n", label+":", value) }
		row("ExceptionList", h(t.ExceptionList))
		row("StackBase", h(t.StackBase))
		row("StackLimit", h(t.StackLimit))
		row("SubSystemTib", h(t.SubSystemTib))
		row("FiberData", h(t.FiberData))
		row("ArbitraryUserPointer", h(t.ArbitraryUserPointer))
		row("Self", h(t.Self))
		row("EnvironmentPointer", h(t.EnvironmentPointer))
		row("ClientId", h(t.ProcessID)+" . "+h(t.ThreadID))
		row("RpcHandle", h(t.RpcHandle))
		row("Tls Storage", h(t.TLSStorage))
		row("PEB Address", h(t.PEB))
		row("LastErrorValue", fmt.Sprintf("%d", t.LastErrorValue))
		row("LastStatusValue", fmt.Sprintf("%x", t.LastStatusValue))
		row("Count Owned Locks", fmt.Sprintf("%d", t.CountOwnedLocks))
		row("HardErrorMode", fmt.Sprintf("%d", t.HardErrorMode))
	}
}

// readTEB reads the TEB at addr with the layout of ptr-byte pointers.
func readTEB(f *dump.File, title string, addr uint64, ptr int) *TEBInfo {
	o := teb64
	if ptr == 4 {
		o = teb32
	}
	m := &memReader{f: f, ptr: ptr}
	t := &TEBInfo{Title: title, Address: addr, ptr: ptr}
	t.ExceptionList = m.p(addr + o.exceptionList)
	t.StackBase = m.p(addr + o.stackBase)
	t.StackLimit = m.p(addr + o.stackLimit)
	t.SubSystemTib = m.p(addr + o.subSystemTib)
	t.FiberData = m.p(addr + o.fiberData)
	t.ArbitraryUserPointer = m.p(addr + o.arbitrary)
	t.Self = m.p(addr + o.self)
	t.EnvironmentPointer = m.p(addr + o.env)
	t.ProcessID = m.p(addr + o.clientID)
	t.ThreadID = m.p(addr + o.clientID + uint64(ptr))
	t.RpcHandle = m.p(addr + o.rpc)
	t.TLSStorage = m.p(addr + o.tls)
	t.PEB = m.p(addr + o.peb)
	t.LastErrorValue = uint32(m.u32(addr + o.lastError))
	t.CountOwnedLocks = uint32(m.u32(addr + o.ownedLocks))
	t.Readable = m.err == nil
	// Fields beyond the first page may be missing from small dumps that
	// captured only the TIB: they then print as 0.
	tail := &memReader{f: f, ptr: ptr}
	t.LastStatusValue = uint32(tail.u32(addr + o.lastStatus))
	t.HardErrorMode = uint32(tail.u32(addr + o.hardErrorMode))
	return t
}

func runTEB(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	f := s.Target
	ptr := s.PointerSize()
	if args := strings.TrimSpace(inv.Args); args != "" {
		addr, err := s.Eval(args)
		if err != nil {
			return nil, exprError(s, inv, args, err)
		}
		if s.x86View() {
			return &TEBDisplay{Blocks: []*TEBInfo{readTEB(f, "Wow64 TEB32", addr, 4)}}, nil
		}
		return &TEBDisplay{Blocks: []*TEBInfo{readTEB(f, "TEB", addr, ptr)}}, nil
	}
	t, ok := s.CurrentThread()
	if !ok {
		return nil, fmt.Errorf("Illegal thread error: the dump has no thread %d", s.Thread)
	}
	if t.TEB == 0 {
		return nil, fmt.Errorf("The dump records no TEB address for thread %d", s.Thread)
	}
	if f.IsWow64() {
		d := &TEBDisplay{}
		if t32, ok := f.TEB32(t); ok {
			d.Blocks = append(d.Blocks, readTEB(f, "Wow64 TEB32", t32, 4))
		}
		d.Blocks = append(d.Blocks, readTEB(f, "Wow64 TEB", t.TEB, 8))
		return d, nil
	}
	return &TEBDisplay{Blocks: []*TEBInfo{readTEB(f, "TEB", t.TEB, ptr)}}, nil
}

// ---------------------------------------------------------------------------
// !peb

// pebOffsets are the PEB, PEB_LDR_DATA, LDR_DATA_TABLE_ENTRY and
// RTL_USER_PROCESS_PARAMETERS fields !peb shows.
type pebOffsets struct {
	imageBase, ldr, params, subSystemData, processHeap, ntGlobalFlag uint64
	ldrInit, ldrLoad, ldrMem, ldrInitOrder                           uint64
	entBase, entSize, entName, entTimeStamp                          uint64
	curDir, dllPath, imageFile, cmdLine, env, title, envSize         uint64
}

var (
	peb32 = pebOffsets{8, 0xc, 0x10, 0x14, 0x18, 0x68, 4, 0xc, 0x14, 0x1c, 0x18, 0x20, 0x24, 0x44, 0x24, 0x30, 0x38, 0x40, 0x48, 0x70, 0x290}
	peb64 = pebOffsets{0x10, 0x18, 0x20, 0x28, 0x30, 0xbc, 4, 0x10, 0x20, 0x30, 0x30, 0x40, 0x48, 0x80, 0x38, 0x50, 0x60, 0x70, 0x80, 0xb0, 0x3f0}
)

// PEBModule is one entry of the loader's module list.
type PEBModule struct {
	Base      uint64 `json:"base"`
	TimeStamp uint32 `json:"timeStamp,omitempty"`
	Path      string `json:"path"`
}

// PEBInfo is one !peb block.
type PEBInfo struct {
	Title                    string      `json:"title"` // "PEB", "Wow64 PEB32", "Wow64 PEB"
	Address                  uint64      `json:"address"`
	Readable                 bool        `json:"readable"`
	InheritedAddressSpace    bool        `json:"inheritedAddressSpace"`
	ReadImageFileExecOptions bool        `json:"readImageFileExecOptions"`
	BeingDebugged            bool        `json:"beingDebugged"`
	ImageBaseAddress         uint64      `json:"imageBaseAddress"`
	NtGlobalFlag             uint32      `json:"ntGlobalFlag"`
	Ldr                      uint64      `json:"ldr"`
	LdrReadable              bool        `json:"ldrReadable"`
	LdrInitialized           bool        `json:"ldrInitialized"`
	InitOrder                [2]uint64   `json:"inInitializationOrderModuleList"`
	LoadOrder                [2]uint64   `json:"inLoadOrderModuleList"`
	MemoryOrder              [2]uint64   `json:"inMemoryOrderModuleList"`
	Modules                  []PEBModule `json:"modules"`
	SubSystemData            uint64      `json:"subSystemData"`
	ProcessHeap              uint64      `json:"processHeap"`
	ProcessParameters        uint64      `json:"processParameters"`
	ParamsReadable           bool        `json:"processParametersReadable"`
	CurrentDirectory         *string     `json:"currentDirectory"`
	WindowTitle              *string     `json:"windowTitle"`
	ImageFile                *string     `json:"imageFile"`
	CommandLine              *string     `json:"commandLine"`
	DllPath                  *string     `json:"dllPath"`
	Environment              uint64      `json:"environment"`
	EnvironmentStrings       []string    `json:"environmentStrings"`
	ptr                      int
}

// PEBDisplay is the result of !peb.
type PEBDisplay struct {
	Blocks []*PEBInfo `json:"blocks"`
}

// WriteText prints each block as §17.2 shows it.
func (d *PEBDisplay) WriteText(w io.Writer) {
	for _, p := range d.Blocks {
		p.write(w)
	}
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func (p *PEBInfo) write(w io.Writer) {
	h := func(v uint64) string { return hexPtr(p.ptr, v) }
	fmt.Fprintf(w, "%s at %s\n", p.Title, h(p.Address))
	if !p.Readable {
		fmt.Fprintf(w, "error InitTypeRead( PEB )...\n")
		return
	}
	row := func(label, value string) { fmt.Fprintf(w, "    %-26s%s\n", label, value) }
	row("InheritedAddressSpace:", yesNo(p.InheritedAddressSpace))
	row("ReadImageFileExecOptions:", yesNo(p.ReadImageFileExecOptions))
	row("BeingDebugged:", yesNo(p.BeingDebugged))
	row("ImageBaseAddress:", h(p.ImageBaseAddress))
	row("NtGlobalFlag:", fmt.Sprintf("%x", p.NtGlobalFlag))
	row("Ldr", h(p.Ldr))
	if !p.LdrReadable {
		fmt.Fprintf(w, "    *** unable to read Ldr table at %s\n", h(p.Ldr))
	} else {
		row("Ldr.Initialized:", yesNo(p.LdrInitialized))
		list := func(label string, v [2]uint64) { fmt.Fprintf(w, "    %-37s%s . %s\n", label, h(v[0]), h(v[1])) }
		list("Ldr.InInitializationOrderModuleList:", p.InitOrder)
		list("Ldr.InLoadOrderModuleList:", p.LoadOrder)
		list("Ldr.InMemoryOrderModuleList:", p.MemoryOrder)
		width := 16
		if p.ptr == 8 {
			width = 24
		}
		fmt.Fprintf(w, "%*s TimeStamp                     Module\n", width, "Base")
		for _, m := range p.Modules {
			if m.TimeStamp == 0 {
				fmt.Fprintf(w, "%*x %s\n", width, m.Base, m.Path)
				continue
			}
			ts := time.Unix(int64(m.TimeStamp), 0).UTC().Format("Jan 02 15:04:05 2006")
			fmt.Fprintf(w, "%*x %08x %s %s\n", width, m.Base, m.TimeStamp, ts, m.Path)
		}
	}
	row2 := func(label, value string) { fmt.Fprintf(w, "    %-19s%s\n", label, value) }
	row2("SubSystemData:", h(p.SubSystemData))
	row2("ProcessHeap:", h(p.ProcessHeap))
	row2("ProcessParameters:", h(p.ProcessParameters))
	if !p.ParamsReadable {
		fmt.Fprintf(w, "    *** unable to read process parameters at %s\n", h(p.ProcessParameters))
		return
	}
	str := func(s *string) string {
		if s == nil {
			return "'< Name not readable >'"
		}
		return "'" + *s + "'"
	}
	row2("CurrentDirectory:", str(p.CurrentDirectory))
	row3 := func(label, value string) { fmt.Fprintf(w, "    %-14s%s\n", label, value) }
	row3("WindowTitle:", str(p.WindowTitle))
	row3("ImageFile:", str(p.ImageFile))
	row3("CommandLine:", str(p.CommandLine))
	row3("DllPath:", str(p.DllPath))
	row3("Environment:", h(p.Environment))
	for _, e := range p.EnvironmentStrings {
		fmt.Fprintf(w, "        %s\n", e)
	}
}

// maxLdrEntries bounds the module list walk (the list may be cyclic or
// damaged in a dump).
const maxLdrEntries = 4096

// readPEB reads the PEB at addr with the layout of ptr-byte pointers.
func readPEB(f *dump.File, title string, addr uint64, ptr int) *PEBInfo {
	o := peb64
	if ptr == 4 {
		o = peb32
	}
	m := &memReader{f: f, ptr: ptr}
	p := &PEBInfo{Title: title, Address: addr, ptr: ptr}
	p.InheritedAddressSpace = m.u8(addr) != 0
	p.ReadImageFileExecOptions = m.u8(addr+1) != 0
	p.BeingDebugged = m.u8(addr+2) != 0
	p.ImageBaseAddress = m.p(addr + o.imageBase)
	p.Ldr = m.p(addr + o.ldr)
	p.ProcessParameters = m.p(addr + o.params)
	p.SubSystemData = m.p(addr + o.subSystemData)
	p.ProcessHeap = m.p(addr + o.processHeap)
	p.NtGlobalFlag = uint32(m.u32(addr + o.ntGlobalFlag))
	p.Readable = m.err == nil
	if !p.Readable {
		return p
	}

	// The loader data and its module list.
	l := &memReader{f: f, ptr: ptr}
	ps := uint64(ptr)
	if p.Ldr != 0 {
		p.LdrInitialized = l.u8(p.Ldr+o.ldrInit) != 0
		p.LoadOrder = [2]uint64{l.p(p.Ldr + o.ldrLoad), l.p(p.Ldr + o.ldrLoad + ps)}
		p.MemoryOrder = [2]uint64{l.p(p.Ldr + o.ldrMem), l.p(p.Ldr + o.ldrMem + ps)}
		p.InitOrder = [2]uint64{l.p(p.Ldr + o.ldrInitOrder), l.p(p.Ldr + o.ldrInitOrder + ps)}
		p.LdrReadable = l.err == nil
	}
	if p.LdrReadable {
		head := p.Ldr + o.ldrLoad
		seen := map[uint64]bool{}
		for e := p.LoadOrder[0]; e != head && e != 0 && !seen[e] && len(seen) < maxLdrEntries; {
			seen[e] = true
			r := &memReader{f: f, ptr: ptr}
			mod := PEBModule{Base: r.p(e + o.entBase), TimeStamp: uint32(r.u32(e + o.entTimeStamp))}
			if r.err != nil {
				break
			}
			if name, ok := r.unicodeString(e + o.entName); ok {
				mod.Path = name
			} else {
				mod.Path = "< Name not readable >"
			}
			p.Modules = append(p.Modules, mod)
			next := r.p(e)
			if r.err != nil {
				break
			}
			e = next
		}
	}

	// The process parameters.
	if p.ProcessParameters != 0 {
		pp := p.ProcessParameters
		r := &memReader{f: f, ptr: ptr}
		r.u32(pp)
		p.ParamsReadable = r.err == nil
		str := func(off uint64) *string {
			if s, ok := r.unicodeString(pp + off); ok {
				return &s
			}
			return nil
		}
		if p.ParamsReadable {
			p.CurrentDirectory = str(o.curDir)
			p.WindowTitle = str(o.title)
			p.ImageFile = str(o.imageFile)
			p.CommandLine = str(o.cmdLine)
			p.DllPath = str(o.dllPath)
			p.Environment = r.p(pp + o.env)
			p.EnvironmentStrings = readEnvironment(f, p.Environment, r.p(pp+o.envSize))
		}
	}
	return p
}

// readEnvironment splits the environment block into its strings: UTF-16,
// NUL-terminated, ending with an empty string; at most size bytes (64 KB
// when the size is not recorded), as far as the dump holds it.
func readEnvironment(f *dump.File, addr, size uint64) []string {
	if addr == 0 {
		return nil
	}
	if size == 0 || size > 1<<20 {
		size = 64 << 10
	}
	b := make([]byte, size&^1)
	n, _ := f.ReadMemory(addr, b)
	b = b[:n&^1]
	var out []string
	start := 0
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			if i == start {
				break
			}
			out = append(out, decodeUTF16LE(b[start:i]))
			start = i + 2
		}
	}
	return out
}

func runPEB(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	f := s.Target
	ptr := s.PointerSize()
	if args := strings.TrimSpace(inv.Args); args != "" {
		addr, err := s.Eval(args)
		if err != nil {
			return nil, exprError(s, inv, args, err)
		}
		if s.x86View() {
			return &PEBDisplay{Blocks: []*PEBInfo{readPEB(f, "Wow64 PEB32", addr, 4)}}, nil
		}
		return &PEBDisplay{Blocks: []*PEBInfo{readPEB(f, "PEB", addr, ptr)}}, nil
	}
	peb, err := f.PEB()
	if err != nil {
		return nil, fmt.Errorf("Unable to find the PEB: %v", err)
	}
	if f.IsWow64() {
		d := &PEBDisplay{}
		if p32, err := f.PEB32(); err == nil {
			d.Blocks = append(d.Blocks, readPEB(f, "Wow64 PEB32", p32, 4))
		}
		d.Blocks = append(d.Blocks, readPEB(f, "Wow64 PEB", peb, 8))
		return d, nil
	}
	return &PEBDisplay{Blocks: []*PEBInfo{readPEB(f, "PEB", peb, ptr)}}, nil
}
