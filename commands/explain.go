package commands

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// .explain on|off: after each command's output, a short note on how to read
// it — the columns, what stands out in this output, and the usual next
// command — for every command family. Notes are text for people: with
// --json (or .json on) none are printed, so that every line stays one JSON
// object per command; ".explain CMD" returns a family's note as a JSON
// result ({"command","family","lines"}) for tools that want it.
//
// The hooks Session.run calls around every command live here too:
// beforeCommand and afterCommand keep the nesting of commands (scripts and
// !address -c: run commands inside commands), print the note and let a
// running tutorial check what the command did (tutorial.go).

func init() {
	Register(&Command{
		Name:    ".explain",
		Usage:   ".explain [on | off | CMD]",
		Summary: "annotate each command's output: columns, what stands out, what to try next",
		Help: `.explain on     after each command's output, print a short note on how to
                read it: the columns, what stands out, the usual next command
.explain off    stop the notes
.explain        say whether the notes are on
.explain CMD    show the note for CMD's family (!address -summary, s, dqs,
                x, !heap -stat, k, r, ~, !analyze, dt, u ...) without running it
Notes are printed after commands typed at the prompt or read from scripts,
not after the commands !address -c: runs per region. With --json no notes
are printed (each line stays one JSON object); .explain CMD returns the
note as {"command","family","lines"}.`,
		Complete: func(*Session, string) []string { return []string{"on", "off"} },
		Run:      runExplain,
	})
}

// hookState is the per-session state of the hooks Session.run calls
// around every command: the commands running (outermost first) and
// whether .explain is on.
type hookState struct {
	stack   []string
	explain bool
}

func (s *Session) hookStore() *hookState {
	if s.hooks == nil {
		s.hooks = &hookState{}
	}
	return s.hooks
}

// beforeCommand notes that inv starts running.
func (s *Session) beforeCommand(inv *Invocation) {
	h := s.hookStore()
	h.stack = append(h.stack, inv.Name)
}

// afterCommand runs after inv's output (or error) is printed: it prints the
// .explain note and lets an active tutorial check the result.
func (s *Session) afterCommand(inv *Invocation, res Result, err error) {
	h := s.hookStore()
	parent := ""
	if n := len(h.stack); n > 0 {
		h.stack = h.stack[:n-1]
		if n > 1 {
			parent = h.stack[n-2]
		}
	}
	if isMetaTeaching(inv.Name) {
		return
	}
	if h.explain && !s.JSON && res != nil && notesAfter(parent) {
		if c, ok := Lookup(inv.Name); ok {
			if lines := explainLines(s, c, inv, res); len(lines) > 0 {
				writeExplain(s.Out(), lines)
			}
		}
	}
	if s.tutorial != nil && s.tutorial.active {
		s.tutorialCheck(inv, res, err)
	}
}

// isMetaTeaching reports the commands the hooks ignore: the teaching
// commands themselves and comments.
func isMetaTeaching(name string) bool {
	switch name {
	case ".tutorial", ".explain", "$$", "*", ".echo", ".help":
		return true
	}
	return false
}

// notesAfter reports whether commands run inside parent get notes: those
// typed at the prompt (no parent), read from scripts and run by .tutorial
// skip do; those !address -c: runs per region do not.
func notesAfter(parent string) bool {
	switch parent {
	case "", "$<", "$$<", "$><", "$$><", "$$>a<", ".tutorial":
		return true
	}
	return false
}

// writeExplain prints a note: each line prefixed, long lines wrapped.
func writeExplain(w io.Writer, lines []string) {
	for _, l := range lines {
		for i, part := range wrapText(l, 78-len(explainPrefix)-2) {
			if i == 0 {
				fmt.Fprintf(w, "%s%s\n", explainPrefix, part)
			} else {
				fmt.Fprintf(w, "%s  %s\n", explainPrefix, part)
			}
		}
	}
}

// explainPrefix starts every line of a note, so that notes stand apart
// from the command's own output.
const explainPrefix = "[explain] "

// wrapText splits text into lines of at most width characters at spaces.
func wrapText(text string, width int) []string {
	words := strings.Fields(text)
	var out []string
	line := ""
	for _, w := range words {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) > width:
			out = append(out, line)
			line = w
		default:
			line += " " + w
		}
	}
	if line != "" || len(out) == 0 {
		out = append(out, line)
	}
	return out
}

// ExplainStatus is the result of .explain, .explain on and .explain off.
type ExplainStatus struct {
	On bool `json:"on"`
}

// WriteText says whether the notes are on.
func (e *ExplainStatus) WriteText(w io.Writer) {
	if e.On {
		fmt.Fprintln(w, "Explain is on: each command's output is followed by a note on how to read it (.explain off stops them).")
		return
	}
	fmt.Fprintln(w, "Explain is off (.explain on annotates each command's output).")
}

// ExplainNote is the result of .explain CMD: the note of CMD's family.
type ExplainNote struct {
	Command string   `json:"command"`
	Family  string   `json:"family"`
	Lines   []string `json:"lines"`
}

// WriteText prints the note as .explain prints it after an output.
func (e *ExplainNote) WriteText(w io.Writer) { writeExplain(w, e.Lines) }

func runExplain(s *Session, inv *Invocation) (Result, error) {
	h := s.hookStore()
	arg := strings.TrimSpace(inv.Args)
	switch strings.ToLower(arg) {
	case "":
	case "on", "1", "true":
		h.explain = true
	case "off", "0", "false":
		h.explain = false
	default:
		name, args := splitName(arg)
		c, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("No command %s: .explain CMD takes a command such as !address -summary, s, dqs, x, !heap -stat, k", name)
		}
		sub := &Invocation{Name: strings.ToLower(name), Raw: name, Args: args, Line: arg}
		lines := explainLines(s, c, sub, nil)
		if len(lines) == 0 {
			return nil, fmt.Errorf("No note for %s yet: .explain covers !address, s, d*, x, ln, lm, !heap, k, r, ~, !analyze, dt, u and more", c.Name)
		}
		return &ExplainNote{Command: arg, Family: explainFamily(c.Name), Lines: lines}, nil
	}
	return &ExplainStatus{On: h.explain}, nil
}

// explainFamily names the family of a command (its registered name).
func explainFamily(name string) string {
	switch name {
	case "!address", ".memmap":
		return "address"
	case "s":
		return "search"
	case "d", "db", "dw", "dd", "dc", "dq", "dp", "dyb", "da", "du", "dds", "dqs", "dps":
		return "display"
	case "x", "ln", "lm", "!lmi", ".reload", ".sympath", ".symfix", "!sym":
		return "symbols"
	case "!heap":
		return "heap"
	case "k", ".frame", ".kframes":
		return "stack"
	case "r", ".ecxr":
		return "registers"
	case "~", "|":
		return "threads"
	case "!analyze":
		return "analyze"
	case ".exr", ".lastevent":
		return "exception"
	case "dt":
		return "dt"
	case "u", "ub", "uf":
		return "u"
	case "!teb", "!peb", "!handle":
		return "process"
	case "?", ".formats":
		return "expressions"
	case "vertarget", "version", ".time", ".dumpdebug":
		return "target"
	}
	return ""
}

// explainLines is the note for one command and its result (nil for
// .explain CMD: the general part only). Lines are sentences; writeExplain
// wraps them.
func explainLines(s *Session, c *Command, inv *Invocation, res Result) []string {
	ex := explainer{s: s, inv: inv}
	switch explainFamily(c.Name) {
	case "address":
		return ex.address(c.Name, res)
	case "search":
		return ex.search(res)
	case "display":
		return ex.display(res)
	case "symbols":
		return ex.symbols(c.Name, res)
	case "heap":
		return ex.heap(res)
	case "stack":
		return ex.stack(res)
	case "registers":
		return []string{
			"Each register's value in hex; " + ex.reg("ip") + " is the next instruction, " + ex.reg("sp") + " the stack pointer; the flags follow (zr = zero, cy = carry ...).",
			"The last lines name the current instruction (module!function+offset) and disassemble it.",
			"After .ecxr these are the registers at the moment of the exception, and k walks from there.",
			"Next: k for the stack, u @" + ex.reg("ip") + " for the code, dqs @" + ex.reg("sp") + " for raw stack memory.",
		}
	case "threads":
		return []string{
			"One line per thread: '.' marks the current thread, '#' the thread of the event (the crash); then the index, process.thread ids (hex), suspend count, Teb address, and a name when the dump has one.",
			"Next: ~Ns makes thread N current (the prompt shows it), ~*k shows every thread's stack.",
		}
	case "analyze":
		return ex.analyze(res)
	case "exception":
		return ex.exception(res)
	case "dt":
		return []string{
			"One line per field: +offset (hex, from the start of the object), the field name, then its type or, with an address, its value.",
			"Pointers show the address they hold; embedded structures are indented; -r recurses into them.",
			"Next: dt TYPE ADDR for an object in memory, dqs ADDR to see its raw pointers and their symbols.",
		}
	case "u":
		return []string{
			"Each line: address, instruction bytes, mnemonic and operands; a symbol line (module!function+offset:) appears where a function starts.",
			"Call and jump targets are named when they resolve to symbols; [__imp_...] calls go through the import table.",
			"Next: Enter continues; ub ADDR shows the instructions before a return address (the call), uf disassembles the whole function.",
		}
	case "process":
		return []string{
			"The fields of an operating-system structure: !teb is the thread's environment (stack limits, LastErrorValue), !peb the process's (image, heaps, command line, loaded modules); !handle lists handles and their types.",
			"LastErrorValue in !teb is the last Win32 error of that thread, often the reason an API failed.",
			"Next: !heap lists the heaps the PEB points at; lm lists the modules.",
		}
	case "expressions":
		return []string{
			"The value of the expression: Evaluate expression shows it in hex and decimal (.formats in every base, as time, as characters).",
			"Expressions take symbols (app!name), registers (@rsp), poi(ADDR) (the pointer at ADDR) and MASM operators.",
		}
	case "target":
		return []string{
			"Facts about the dump: the operating system and build, when the dump was taken, how long the process and system had run.",
			"Next: .lastevent or !analyze -v for what happened, ~ for the threads, lm for the modules.",
		}
	}
	return nil
}

// explainer builds notes; its helpers adapt command names to the target.
type explainer struct {
	s   *Session
	inv *Invocation
}

func (e explainer) ptr() int { return e.s.PointerSize() }

// searchCmd is the pointer search of the target: s -q on 64-bit, s -d on 32-bit.
func (e explainer) searchCmd(what string) string {
	if e.ptr() == 4 {
		return "s -d 0 L?7fffffff " + what
	}
	return "s -q 0 L?7fffffffffff " + what
}

// dps is dqs on 64-bit targets, dds on 32-bit ones.
func (e explainer) dps() string {
	if e.ptr() == 4 {
		return "dds"
	}
	return "dqs"
}

// reg names the instruction or stack pointer register.
func (e explainer) reg(which string) string {
	wide := e.ptr() == 8
	switch which {
	case "ip":
		if wide {
			return "rip"
		}
		return "eip"
	}
	if wide {
		return "rsp"
	}
	return "esp"
}

func (e explainer) addr(v uint64) string { return e.s.Addr(v) }

func (e explainer) address(name string, res Result) []string {
	args := ""
	if e.inv != nil {
		args = strings.ToLower(strings.TrimSpace(e.inv.Args))
	}
	switch r := res.(type) {
	case *AddressSummary:
		return e.addressSummary(r)
	case *regionList:
		return e.regionList(r)
	case *RegionDetail:
		return e.regionDetail(r.Region.Base)
	case *MemoryMap:
		return e.memoryMap()
	}
	switch {
	case name == ".memmap":
		return e.memoryMap()
	case strings.Contains(args, "summary"):
		return e.addressSummary(nil)
	case args != "" && args[0] != '-' && args[0] != '/':
		return e.regionDetail(0)
	}
	return e.regionList(nil)
}

func (e explainer) regionDetail(base uint64) []string {
	what := "BASE"
	if base != 0 {
		what = FormatShortAddr(e.ptr(), base)
	}
	return []string{
		"One region: Base Address and Region Size, State (MEM_COMMIT = backed by memory, MEM_RESERVE = address space only), Protect and Type; Allocation Base is where the VirtualAlloc or MapViewOfFile allocation that contains it starts.",
		"The 'More info' lines are commands that tell more about this kind of memory.",
		"Next: " + e.searchCmd(what) + " finds what points at the region's base; !heap -x ADDR explains heap memory.",
	}
}

func (e explainer) memoryMap() []string {
	return []string{
		"Each bar is one memory type's share of the busy (allocated) address space; the strip below lays the busy memory out in address order, each cell a fixed number of bytes.",
		"A type that fills most of the strip is where the memory went: for MEM_MAPPED, !address -f:MEM_MAPPED lists the views.",
		"Next: .memmap FILE.svg writes the full map (every region, sizes on a log scale) to open in a browser.",
	}
}

func (e explainer) addressSummary(r *AddressSummary) []string {
	out := []string{
		"Usage Summary: what the regions hold — Image (modules), Stack, Heap, TEB/PEB, and <unknown> for memory wdb cannot attribute (VirtualAlloc'd or mapped).",
		"Type Summary: MEM_IMAGE = loaded modules, MEM_MAPPED = views of file mappings (MapViewOfFile), MEM_PRIVATE = heaps, stacks and VirtualAlloc. %ofBusy is the share of all allocated memory.",
	}
	if r != nil && len(r.Type) > 0 {
		top := r.Type[0]
		out = append(out, fmt.Sprintf("Stands out: %s holds %.1f%% of the busy memory (%s in %d regions).", top.Name, top.PctBusy, HumanSize(top.Size), top.Count))
		for _, u := range r.Usage {
			if u.Name == "Free" && r.Busy > 0 && e.ptr() == 4 {
				out = append(out, fmt.Sprintf("The largest free region is %s: an allocation larger than that fails even with free memory left (fragmentation).", HumanSize(u.LargestLen)))
			}
		}
		out = append(out, fmt.Sprintf("Next: !address -f:%s lists those regions; .memmap draws the address space.", top.Name))
		return out
	}
	return append(out, "Next: !address -f:MEM_MAPPED (or MEM_PRIVATE, Heap, Stack ...) lists the regions of one kind; .memmap draws the address space.")
}

func (e explainer) regionList(r *regionList) []string {
	out := []string{
		"Columns: BaseAddress, EndAddress+1 and RegionSize (hex), Type, State (MEM_COMMIT = backed, MEM_RESERVE = address space only), Protect, Usage, and a preview of the first bytes in brackets; '+' marks the first region of an allocation.",
	}
	if r != nil && len(r.Regions) > 0 {
		sizes := map[uint64]int{}
		for _, row := range r.Regions {
			if row.State != "MEM_FREE" {
				sizes[row.Size]++
			}
		}
		type sc struct {
			size uint64
			n    int
		}
		var all []sc
		for k, v := range sizes {
			all = append(all, sc{k, v})
		}
		sort.Slice(all, func(i, j int) bool {
			if all[i].n != all[j].n {
				return all[i].n > all[j].n
			}
			return all[i].size < all[j].size
		})
		if len(all) > 0 && all[0].n >= 10 {
			out = append(out, fmt.Sprintf("Stands out: %d of the %d regions are exactly %s (%s): the same allocation repeated, the signature of a leak.",
				all[0].n, len(r.Regions), roundSize(all[0].size), FormatShortAddr(e.ptr(), all[0].size)))
		} else {
			out = append(out, fmt.Sprintf("%d regions listed.", len(r.Regions)))
		}
	}
	return append(out, "Next: !address ADDR shows one region; "+e.searchCmd("BASE")+" finds who holds a region's base address.")
}

func (e explainer) search(res Result) []string {
	r, _ := res.(*SearchResult)
	out := []string{
		"Each line is one hit: its address, then the memory there as dq/dc/db would show it (the value found comes first). -q and -d hits are aligned to 8 and 4 bytes.",
	}
	if r != nil {
		switch n := len(r.Hits); {
		case n == 0:
			out = append(out, "No hits: the value is nowhere in the memory the dump captured (only captured memory is searched).")
		case r.Type == "q" || r.Type == "d":
			out = append(out, fmt.Sprintf("%d hits: each is a place that holds the value — a field, a variable, a stack slot.", n))
		default:
			out = append(out, fmt.Sprintf("%d hits.", n))
		}
	}
	return append(out, "Next: "+e.dps()+" HIT-8 shows the object around a hit (its first value may name its class: `vftable'); !heap -x HIT says whether the hit is inside a heap block.")
}

func (e explainer) display(res Result) []string {
	name := ""
	if e.inv != nil {
		name = e.inv.Name
	}
	var md *MemoryDisplay
	switch r := res.(type) {
	case *StringDisplay:
		name = r.Format
	case *MemoryDisplay:
		md, name = r, r.Format
	}
	switch {
	case name == "da" || name == "du":
		return []string{
			"The string at the address, in quotes; it ends at the terminator or after 256 characters. Bytes the dump did not capture print as ?.",
			"Next: du for UTF-16 strings, db for the raw bytes.",
		}
	case name == "dds" || name == "dqs" || name == "dps":
		out := []string{
			"Left: the address; middle: the value stored there; right: the symbol the value points at, when it points into a module.",
			"A `vftable' symbol as an object's first value names its C++ class; module!function+0x.. values on a stack are return addresses.",
		}
		if md != nil && md.Count <= 4096 {
			for _, row := range md.Rows() {
				if strings.Contains(row.Symbol, "`vftable'") {
					out = append(out, fmt.Sprintf("Stands out: %s holds %s — an object of that class starts there.", e.addr(row.Address), row.Symbol))
					break
				}
			}
		}
		return append(out, "Next: x module!Class::* lists the class's symbols; ln VALUE names any address; Enter shows the next lines.")
	}
	return []string{
		"Address, then the values in hex (db bytes, dw words, dd dwords, dq qwords, dp pointers); db, dc and dW add the characters ('.' for unprintable ones).",
		"???????? means the dump did not capture that memory. Enter continues where the display stopped.",
		"Next: " + e.dps() + " ADDR shows the same memory as pointers with the symbols they point at.",
	}
}

func (e explainer) symbols(name string, res Result) []string {
	switch name {
	case "x":
		out := []string{
			"Each line: the address and module!name. Functions show (<no parameter info>) without type information; data shows = <no type information>.",
			"`vftable' is the table of virtual functions: every object of the class starts with a pointer to it.",
		}
		if r, ok := res.(*SymbolList); ok {
			for _, sym := range r.Symbols {
				if strings.HasSuffix(sym.Name, "`vftable'") {
					out = append(out, fmt.Sprintf("Stands out: %s!%s at %s.", sym.Module, sym.Name, e.addr(sym.Address)))
					break
				}
			}
		}
		return append(out, "Next: "+e.searchCmd("ADDR")+" finds every pointer to a symbol (every object, for a vftable); u ADDR disassembles a function.")
	case "ln":
		return []string{
			"(address) module!symbol+offset: the nearest symbol at or below the address, and the next one above it; 'Exact matches' when it is exactly on a symbol.",
			"Next: u ADDR for code, " + e.dps() + " ADDR for data.",
		}
	case "lm", "!lmi":
		return []string{
			"start and end address, module name, and the symbol status: deferred (not loaded yet), pdb symbols (a PDB was found), export symbols (only the exports).",
			"Next: lmv m NAME for the version and timestamp; x NAME!* for the module's symbols; .reload /f to load them now.",
		}
	}
	return []string{
		"Symbol settings: where wdb looks for PDB files (.sympath) and which modules have symbols loaded (.reload, lm).",
	}
}

// heapVariant is the !heap form of a result, or of the arguments when
// there is no result (.explain CMD).
func (e explainer) heapVariant(res Result) string {
	switch res.(type) {
	case *HeapStatResult:
		return "stat"
	case *HeapFilterResult:
		return "flt"
	case *HeapFindResult:
		return "x"
	case *HeapSearchResult:
		return "srch"
	case *HeapSummaryResult:
		return "s"
	case *HeapListResult:
		return "list"
	}
	if res != nil || e.inv == nil {
		return ""
	}
	f := strings.Fields(strings.ToLower(e.inv.Args))
	if len(f) == 0 {
		return "list"
	}
	switch f[0] {
	case "-stat":
		return "stat"
	case "-flt":
		return "flt"
	case "-x", "-p":
		return "x"
	case "-srch", "-search":
		return "srch"
	case "-s":
		return "s"
	}
	return ""
}

func (e explainer) heap(res Result) []string {
	switch e.heapVariant(res) {
	case "stat":
		out := []string{
			"-stat: busy blocks grouped by user size (hex): size, #blocks, total bytes and the share of the heap's busy bytes, largest total first.",
		}
		if r, ok := res.(*HeapStatResult); ok {
			var top HeapStatRow
			for _, h := range r.Heaps {
				for _, row := range h.Rows {
					if row.Count > top.Count {
						top = row
					}
				}
			}
			if top.Count > 0 {
				out = append(out, fmt.Sprintf("Stands out: 0x%x blocks (%d) of user size 0x%x.", top.Count, top.Count, top.Size))
			}
		}
		return append(out, "A size with a great many blocks is often a leak: !heap -flt s SIZE lists them; "+e.dps()+" on a UserPtr shows what one holds.")
	case "flt":
		out := []string{
			"-flt: every block of that user size: HEAP_ENTRY (the block's header), Size and Prev in heap granules, UserPtr (the pointer the program got from new/HeapAlloc), UserSize and state.",
		}
		if r, ok := res.(*HeapFilterResult); ok {
			n := 0
			for _, h := range r.Heaps {
				n += len(h.Blocks)
			}
			out = append(out, fmt.Sprintf("%d blocks listed; busy ones are allocated and were never freed.", n))
		}
		return append(out, "Next: "+e.dps()+" USERPTR shows one; its first value names the C++ class when it has a `vftable'.")
	case "x":
		return []string{
			"-x: the block that contains the address: Entry (its header), User (the pointer the program got), Heap, Segment, Size (with the header), Unused, Flags (busy or free; LFH = low-fragmentation front end).",
			"busy means allocated and not freed when the dump was taken.",
			"Next: " + e.dps() + " USER shows the object; !heap -srch USER finds the blocks that point at it (its owners).",
		}
	case "srch":
		return []string{
			"-srch: the busy blocks whose data holds the value: HEAP_ENTRY, Size, Prev, Flags, UserPtr, (UserSize) and state.",
			"Those blocks reference the value — for an object's address, usually the objects that own it.",
			"Next: " + e.dps() + " USERPTR shows an owner; !heap -flt s USERSIZE counts the blocks of its size.",
		}
	case "s":
		return []string{
			"-s: one line per heap: flags, reserved and committed KB, free KB, free-list length, uncommitted ranges, virtual blocks, lock contention; the LFH column says whether the low-fragmentation heap is on.",
			"A heap much larger than the others is where the memory went. Next: !heap -stat -h HEAP.",
		}
	case "list":
		return []string{
			"The heaps of the process: index, address (the handle GetProcessHeap/HeapCreate returned) and type (NT heap or segment heap).",
			"Next: !heap -s for their sizes, !heap -stat for the busy blocks by size.",
		}
	}
	return []string{
		"!heap walks the process's heaps: -s sizes, -stat blocks by size, -flt s SIZE blocks of one size, -x ADDR the block holding ADDR, -srch VALUE the blocks holding VALUE.",
		"Sizes and counts are hex. busy blocks are allocated; free ones can be reused.",
	}
}

func (e explainer) stack(res Result) []string {
	out := []string{
		"One line per frame, innermost first: # frame number, Child-SP (the stack pointer in that frame), RetAddr (where it returns to) and Call Site (module!function+offset [source @ line]).",
		"Read it bottom-up: the thread starts at the bottom, the app's functions call upward, the failing call is at the top.",
	}
	if r, ok := res.(*StackTrace); ok && r.Context != "exception" && e.s.Target != nil && e.s.Target.Exception != nil {
		out = append(out, "This dump has an exception: .ecxr, then k, shows the stack at the moment it was raised.")
	}
	return append(out, "Next: ub RETADDR shows the call instruction; .frame N selects a frame; kv adds frame details.")
}

func (e explainer) exception(res Result) []string {
	out := []string{
		"ExceptionAddress is where the exception was raised, ExceptionCode why (c0000005 access violation, c0000017 no memory, c0000374 heap corruption, e06d7363 a C++ throw), and the Parameters give details (for an access violation: read or write, and the address).",
	}
	code := uint32(0)
	switch r := res.(type) {
	case *ExceptionRecord:
		code = r.Code
	case *LastEvent:
		code = r.Code
	}
	if code == 0xc0000017 {
		out = append(out, "c0000017 is STATUS_NO_MEMORY: an allocation failed; !address -summary shows where the memory went.")
	}
	return append(out, "Next: .ecxr then k for the stack at the exception; !analyze -v for a summary.")
}

func (e explainer) analyze(res Result) []string {
	out := []string{
		"The crash summary: EXCEPTION_CODE and ERROR_CODE say why, FAULTING_IP and the faulting module/symbol say where, STACK_TEXT shows how the thread got there.",
	}
	if r, ok := res.(*Analysis); ok && r.code == 0xc0000017 {
		out = append(out, "c0000017 is STATUS_NO_MEMORY: an allocation failed. The stack shows which; !address -summary shows where the memory went.")
	}
	return append(out, "Next: .ecxr and k for the exception's stack, !address -summary for memory, ~ for the other threads.")
}

// roundSize prints a size the way people say it: "256 KB", "4 MB", else
// as !address does.
func roundSize(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n < 1<<20 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return strings.TrimSpace(HumanSize(n))
}
