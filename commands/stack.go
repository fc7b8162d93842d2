package commands

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"wdb/dump"
	"wdb/symbols"
	"wdb/symbols/pdb"
	"wdb/symbols/symsrv"
	"wdb/unwind"
)

// The k family (k kb kn kv kp kP kc kf kL and kd), .frame and .kframes:
// stacks walked by package unwind and printed in WinDbg's modern layout
// (windbg-commands.md §11). Every frame records how it was found; kv and
// the JSON output show it.

func init() {
	Register(&Command{
		Name:    "k",
		Usage:   "k[b|p|P|v][c][n][f][L][M] [FrameCount] | = StackPtr [InstructionPtr] [FrameCount]",
		Summary: "display the stack backtrace",
		Help: "k        frames: Child-SP (x86: ChildEBP), return address, call site [source @ line]\n" +
			"kb       adds the first stack words of each frame (x64: the four home slots; x86: three arguments)\n" +
			"kv       kb plus x86 FPO data and how each frame was found (context, unwind info, frame\n" +
			"         data, FPO, frame pointer, scan)\n" +
			"kp, kP   as k: parameters need private type information, which wdb does not read yet\n" +
			"kc       module!function only;  kf  adds the stack distance between frames;  kL  no source lines\n" +
			"kn, kM   frame numbers are always shown; DML is not produced\n" +
			"FrameCount is hex (default: .kframes). k = SP [IP] [count] (x86: k = EBP [ESP EIP] [count])\n" +
			"walks from other registers. kd [count] shows the raw stack with symbols (dps at the stack pointer).\n" +
			"~* k, ~N k: other threads. After .ecxr the stack starts at the exception context.",
		Family: isStackCommand,
		Run:    runStack,
	})
	Register(&Command{
		Name:    ".frame",
		Usage:   ".frame [/r] [/c] [FrameNumber]",
		Summary: "set the local context (scope) to a stack frame",
		Help: ".frame           show the current frame\n" +
			".frame N         make frame N (hex) of the current thread's stack the scope: r, $ip, $csp and\n" +
			"                 register expressions then use that frame's registers (unwound nonvolatile\n" +
			"                 registers; volatile ones carried over from the callee)\n" +
			".frame /r N      also display the frame's registers; /c is accepted and means the same as without",
		Run: runFrame,
	})
	Register(&Command{
		Name:    ".kframes",
		Usage:   ".kframes [FrameCountDefault]",
		Summary: "set the default stack length of k",
		Run:     runKFrames,
	})
}

// isStackCommand claims k variants: k followed by option letters
// (kb, kvn, kcn, kpL, kP …) and kd.
func isStackCommand(name string) bool {
	if len(name) < 2 || name[0] != 'k' {
		return false
	}
	if name == "kd" {
		return true
	}
	for _, c := range name[1:] {
		if !strings.ContainsRune("bpvcnflm", c) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Per-session stack state: the scope that .ecxr and .frame set, .kframes.

// stackScope is the register context commands use instead of the current
// thread's own: the exception context after .ecxr, a frame's registers after
// .frame N. It belongs to one thread; switching threads ends it.
type stackScope struct {
	thread int
	ecxr   bool          // base is the exception context (k prints the "last set context" line)
	base   *dump.Context // where k walks from
	frame  int           // .frame number; 0 = base itself
	ctx    *dump.Context // registers of the frame
}

// stackState is what the stack commands keep per session.
type stackState struct {
	mu        sync.Mutex
	scope     *stackScope
	kframes   int
	eventTime time.Time // .lastevent's debugger time, fixed at first use
}

// stateOf returns the session's stack state, made on first use.
func stateOf(s *Session) *stackState {
	if s.stackState == nil {
		s.stackState = &stackState{kframes: unwind.DefaultMaxFrames}
	}
	return s.stackState
}

// currentScope is the session's scope when it belongs to the current
// thread. Other threads do not see it, and "~* cmd" (which makes each
// thread current in turn) leaves it in place; ~Ns, .thread and .cxr end it
// through ResetScope.
func (s *Session) currentScope() *stackScope {
	st := stateOf(s)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.scope == nil || st.scope.thread != s.Thread {
		return nil
	}
	return st.scope
}

func (s *Session) setScope(sc *stackScope) {
	st := stateOf(s)
	st.mu.Lock()
	st.scope = sc
	st.mu.Unlock()
}

// ScopeContext is the register context set by .ecxr or .frame N for the
// current thread, if any. Session.Context should return it when ok, so that
// r, @reg and $ip/$csp see the frame's registers (hook for session.go).
func (s *Session) ScopeContext() (*dump.Context, bool) {
	if s.Target == nil {
		return nil, false
	}
	if sc := s.currentScope(); sc != nil {
		return sc.ctx, true
	}
	return nil, false
}

// ResetScope ends an .ecxr/.frame scope: ~Ns, .thread and .cxr call it,
// as WinDbg resets the register context when the thread changes.
func (s *Session) ResetScope() { s.setScope(nil) }

// stackBase is the context k walks from: the scope's base (.ecxr) or the
// current thread's own context.
func (s *Session) stackBase() (*dump.Thread, *dump.Context, bool, error) {
	if s.Target == nil {
		return nil, nil, false, errNoTarget
	}
	t, ok := s.CurrentThread()
	if !ok {
		return nil, nil, false, fmt.Errorf("Illegal thread error: the dump has no thread %d", s.Thread)
	}
	if sc := s.currentScope(); sc != nil {
		return t, sc.base, sc.ecxr, nil
	}
	if t.Context == nil {
		return nil, nil, false, fmt.Errorf("Unable to get thread context: thread %d has no register context in the dump", s.Thread)
	}
	if s.x86View() && t.Context.Arch == dump.ArchAMD64 {
		// .effmach x86: the 32-bit registers wow64cpu saved for the thread.
		c, err := (&unwind.Walker{File: s.Target}).Wow64Context(t)
		if err != nil {
			return nil, nil, false, fmt.Errorf("No x86 context for thread %d: %v", s.Thread, err)
		}
		return t, c, false, nil
	}
	return t, t.Context, false, nil
}

// ---------------------------------------------------------------------------
// Stack frames as commands show them.

// StackFrame is one frame of a backtrace.
type StackFrame struct {
	Index int `json:"index"`
	// IP is the frame's instruction pointer (a return address above frame 0).
	IP uint64 `json:"ip"`
	// ChildSP is k's Child-SP (x64) or ChildEBP (x86).
	ChildSP uint64 `json:"childSP"`
	SP      uint64 `json:"sp"`
	FP      uint64 `json:"fp"`
	RetAddr uint64 `json:"retAddr"`
	// Args are kb's "Args to Child" (4 on x64, 3 on x86).
	Args     []uint64 `json:"args"`
	Module   string   `json:"module,omitempty"`
	Function string   `json:"function,omitempty"`
	// Offset is the displacement of IP from Function, or from the module base.
	Offset   uint64 `json:"offset"`
	CallSite string `json:"callSite"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	// FoundBy says how the frame was recovered from its callee: context,
	// unwind info, leaf, frame data, FPO, frame pointer or scan.
	FoundBy string `json:"foundBy"`
	Trust   string `json:"trust"`
	FPO     string `json:"fpo,omitempty"`  // kv's FPO column (x86)
	Note    string `json:"note,omitempty"` // what the walker had to assume
	Stop    string `json:"stop,omitempty"` // on the last frame: why the walk ended
	// Warning is a line k prints before this frame ("WARNING: Stack unwind
	// information not available. Following frames may be wrong.").
	Warning string `json:"warning,omitempty"`

	clean string // kc's call site
}

// kOptions are the letters after k.
type kOptions struct {
	args    bool // b, v, p (p/P print like k: see help)
	verbose bool // v
	clean   bool // c
	numbers bool // n (always on in modern engines; only kcn's header differs)
	dist    bool // f
	noLines bool // L
	params  bool // p, P
}

func parseKOptions(raw string) kOptions {
	var o kOptions
	for _, c := range raw[1:] {
		switch c {
		case 'b':
			o.args = true
		case 'v':
			o.args, o.verbose = true, true
		case 'p', 'P':
			o.params = true
		case 'c', 'C':
			o.clean = true
		case 'n', 'N':
			o.numbers = true
		case 'f', 'F':
			o.dist = true
		case 'L', 'l':
			o.noLines = true
		}
	}
	return o
}

// StackTrace is the result of k and its variants.
type StackTrace struct {
	Thread  int          `json:"thread"`
	Arch    string       `json:"arch"`
	Context string       `json:"context"` // "thread", "exception" (.ecxr) or "explicit" (k = …)
	Frames  []StackFrame `json:"frames"`

	opts     kOptions
	ptr      int
	lastCtx  bool // print "  *** Stack trace for last set context - .thread/.cxr resets it"
	noHeader bool // STACK_TEXT and .frame: rows only
	noNumber bool // STACK_TEXT: no frame numbers
}

// MarshalJSON writes the exported fields.
func (t *StackTrace) MarshalJSON() ([]byte, error) {
	type plain StackTrace
	return json.Marshal((*plain)(t))
}

// WriteText prints the trace in WinDbg's layout.
func (t *StackTrace) WriteText(w io.Writer) {
	for _, l := range t.lines() {
		fmt.Fprintln(w, l)
	}
}

func (t *StackTrace) addr(v uint64) string { return FormatAddr(t.ptr, v) }

// header is the column line (§11.2 samples; modern engines follow RetAddr
// with 5 spaces; x86 headers end in spaces and have no "Call Site").
func (t *StackTrace) header() string {
	o := t.opts
	if o.clean {
		if o.numbers {
			return " # " // "~* kcn" sample
		}
		return " # Call Site"
	}
	h := " # "
	if o.dist {
		h += "  Memory "
	}
	if t.ptr == 8 {
		h += "Child-SP          RetAddr               "
		if o.args {
			return h + ": " + fmt.Sprintf("%-72s", "Args to Child") + ": Call Site"
		}
		return h + "Call Site"
	}
	h += "ChildEBP RetAddr      "
	if o.args {
		h += "Args to Child              "
	}
	return h
}

func (t *StackTrace) lines() []string {
	var out []string
	if t.lastCtx {
		out = append(out, "  *** Stack trace for last set context - .thread/.cxr resets it")
	}
	if !t.noHeader {
		out = append(out, t.header())
	}
	for i := range t.Frames {
		fr := &t.Frames[i]
		if fr.Warning != "" {
			out = append(out, fr.Warning)
		}
		var prevSP uint64
		if i > 0 {
			prevSP = t.Frames[i-1].ChildSP
		}
		out = append(out, t.row(fr, prevSP, i > 0))
	}
	return out
}

// row is one frame line.
func (t *StackTrace) row(fr *StackFrame, prevSP uint64, hasPrev bool) string {
	var b strings.Builder
	o := t.opts
	if !t.noNumber {
		fmt.Fprintf(&b, "%02x ", fr.Index)
	}
	if o.clean {
		b.WriteString(fr.clean)
		return b.String()
	}
	if o.dist {
		if hasPrev && fr.ChildSP >= prevSP {
			fmt.Fprintf(&b, "%8x ", fr.ChildSP-prevSP)
		} else {
			b.WriteString("         ")
		}
	}
	b.WriteString(t.addr(fr.ChildSP))
	b.WriteByte(' ')
	b.WriteString(t.addr(fr.RetAddr))
	b.WriteString("     ")
	if o.args {
		if t.ptr == 8 {
			b.WriteString(": ")
		}
		for _, a := range fr.Args {
			b.WriteString(t.addr(a))
			b.WriteByte(' ')
		}
		if t.ptr == 8 {
			b.WriteString(": ")
		}
	}
	b.WriteString(fr.CallSite)
	if o.verbose {
		if fr.FPO != "" {
			b.WriteString(" (FPO: " + fr.FPO + ")")
		}
		b.WriteString(" (Found by: " + fr.FoundBy + ")")
	}
	if fr.File != "" && !o.noLines {
		fmt.Fprintf(&b, " [%s @ %d]", fr.File, fr.Line)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Running k.

func runStack(s *Session, inv *Invocation) (Result, error) {
	if inv.Name == "kd" {
		return runStackWords(s, inv)
	}
	t, base, ecxr, err := s.stackBase()
	if err != nil {
		return nil, err
	}
	opts := parseKOptions(inv.Raw)
	count := stateOf(s).kframesValue()
	args := strings.TrimSpace(inv.Args)
	how := "thread"
	if ecxr {
		how = "exception"
	}
	if strings.HasPrefix(args, "=") {
		c, n, err := explicitStackContext(s, base, strings.TrimSpace(args[1:]))
		if err != nil {
			return nil, err
		}
		base, how, ecxr = c, "explicit", false
		if n > 0 {
			count = n
		}
	} else if args != "" {
		v, err := s.Eval(args)
		if err != nil {
			return nil, exprError(s, inv, args, err)
		}
		if v == 0 || v > 0xffff {
			return nil, fmt.Errorf("Invalid frame count %#x", v)
		}
		count = int(v)
	}
	env := newWalkEnv(s)
	defer env.close()
	frames, err := env.walk(t, base, count)
	if err != nil {
		return nil, err
	}
	ptr := framesPtr(frames, base)
	tr := &StackTrace{Thread: s.Thread, Arch: frames[0].Context.Arch.String(), Context: how, opts: opts, ptr: ptr, lastCtx: ecxr}
	tr.Frames = s.stackFrames(frames, ptr)
	return tr, nil
}

// ptrOf is the pointer size of a context's architecture.
func ptrOf(c *dump.Context) int {
	if c != nil && c.Arch == dump.ArchX86 {
		return 4
	}
	return 8
}

// framesPtr is the pointer size the frames were walked with: an x64
// context stopped in 32-bit code (cs 0x23, WOW64) is walked, and printed,
// as x86.
func framesPtr(frames []unwind.Frame, base *dump.Context) int {
	if len(frames) > 0 && frames[0].Context != nil {
		return ptrOf(frames[0].Context)
	}
	return ptrOf(base)
}

// explicitStackContext builds the start context of "k = …": x64 takes
// StackPtr [InstructionPtr] [FrameCount]; x86 BasePtr [FrameCount] or
// BasePtr StackPtr InstructionPtr [FrameCount] (MS docs syntax).
func explicitStackContext(s *Session, base *dump.Context, args string) (*dump.Context, int, error) {
	var vals []uint64
	rest := args
	for rest != "" {
		v, r, err := s.ParseExpr(rest)
		if err != nil {
			return nil, 0, fmt.Errorf("Syntax error at '%s'", rest)
		}
		vals = append(vals, v)
		rest = strings.TrimSpace(r)
	}
	if len(vals) == 0 || len(vals) > 4 {
		return nil, 0, fmt.Errorf("Syntax error at '= %s'", args)
	}
	c := *base
	count := 0
	if c.Arch == dump.ArchX86 {
		c.Rbp = vals[0]
		switch len(vals) {
		case 2:
			count = int(vals[1])
		case 3, 4:
			c.Rsp, c.Rip = vals[1], vals[2]
			if len(vals) == 4 {
				count = int(vals[3])
			}
		}
	} else {
		c.Rsp = vals[0]
		switch len(vals) {
		case 2:
			count = int(vals[1])
		case 3:
			c.Rip, count = vals[1], int(vals[2])
		case 4:
			return nil, 0, fmt.Errorf("Syntax error at '= %s'", args)
		}
	}
	if count < 0 || count > 0xffff {
		return nil, 0, fmt.Errorf("Invalid frame count %#x", count)
	}
	return &c, count, nil
}

// runStackWords is kd: the raw stack from the stack pointer, with symbols.
func runStackWords(s *Session, inv *Invocation) (Result, error) {
	_, base, _, err := s.stackBase()
	if err != nil {
		return nil, err
	}
	if sc := s.currentScope(); sc != nil && sc.ctx != nil {
		base = sc.ctx
	}
	args := fmt.Sprintf("%x", base.Rsp)
	if a := strings.TrimSpace(inv.Args); a != "" {
		args += " L" + a
	}
	name := "dqs"
	if ptrOf(base) == 4 {
		name = "dds"
	}
	return runDisplay(s, &Invocation{Name: name, Raw: name, Args: args, Line: inv.Line})
}

// stackFrames turns walked frames into StackFrames: call sites, source
// lines, FPO text and the warnings k prints.
func (s *Session) stackFrames(frames []unwind.Frame, ptr int) []StackFrame {
	out := make([]StackFrame, len(frames))
	warnedUnwind, warnedIP := false, false
	for i := range frames {
		fr := &frames[i]
		sf := StackFrame{Index: fr.Index, IP: fr.IP, SP: fr.SP, FP: fr.FP, RetAddr: fr.RetAddr,
			FoundBy: fr.How.String(), Trust: fr.Trust, Note: fr.Note, Stop: fr.Stop}
		sf.ChildSP = fr.SP
		n := 4
		if ptr == 4 {
			sf.ChildSP = fr.FP
			n = 3
		}
		sf.Args = append([]uint64(nil), fr.Args[:n]...)
		site := s.frameSite(fr.IP, fr.LookupPC(), ptr)
		sf.Module, sf.Function, sf.Offset, sf.CallSite, sf.clean = site.module, site.function, site.offset, site.text, site.clean
		if s.Symbols != nil {
			if file, line, ok := s.Symbols.LineAt(fr.LookupPC()); ok {
				sf.File, sf.Line = file, line
			}
		}
		if fr.FrameData != nil {
			sf.FPO = fpoText(fr.FrameData)
		}
		switch {
		case sf.Module == "" && !warnedIP:
			sf.Warning, warnedIP = "WARNING: Frame IP not in any known module. Following frames may be wrong.", true
		case !warnedUnwind && i+1 < len(frames) && guessed(&frames[i+1], ptr):
			sf.Warning, warnedUnwind = "WARNING: Stack unwind information not available. Following frames may be wrong.", true
		}
		out[i] = sf
	}
	return out
}

// guessed reports whether a frame's caller-side recovery was a guess: a
// scan, or on x64 a frame pointer chain used for want of unwind data.
func guessed(next *unwind.Frame, ptr int) bool {
	return next.How == unwind.FoundByScan || (ptr == 8 && next.How == unwind.FoundByFramePointer)
}

// site is a frame's address as k names it.
type site struct {
	module, function string
	offset           uint64
	text, clean      string
}

// frameSite names ip as k does: the function holding lookup (ip-1 for a
// return address, so a call at a function's end still names its function)
// plus the displacement of ip itself; "module+0xoff" without symbols; the
// raw address outside every module.
func (s *Session) frameSite(ip, lookup uint64, ptr int) site {
	var sym symbols.Symbol
	ok := false
	if s.Symbols != nil {
		sym, _, ok = s.Symbols.Nearest(lookup)
	}
	if !ok {
		return site{text: rawAddr(ip, ptr), clean: rawAddr(ip, ptr)}
	}
	st := site{module: sym.Module, function: sym.Name}
	base := sym.Addr
	if sym.Name == "" {
		if m, ok := s.Symbols.ModuleAt(lookup); ok {
			base = m.Module.Base
		}
	}
	st.offset = ip - base
	st.text = sym.FullName()
	if st.offset != 0 {
		st.text += fmt.Sprintf("+0x%x", st.offset)
	}
	st.clean = sym.FullName()
	if sym.Name == "" {
		st.clean = st.text
	}
	return st
}

// rawAddr is a call site outside every module: "0x5f31", "0x37684236`68423568".
func rawAddr(v uint64, ptr int) string {
	if ptr == 8 && v>>32 != 0 {
		return fmt.Sprintf("0x%x`%08x", v>>32, uint32(v))
	}
	return fmt.Sprintf("0x%x", v)
}

// fpoText is kv's FPO column: [params,locals,registers] in dwords for FPO
// records and frame-pointer-less FRAMEDATA, Non-Fpo for EBP frames.
func fpoText(d *unwind.FrameData) string {
	nums := fmt.Sprintf("[%d,%d,%d]", d.ParamsSize/4, d.LocalsSize/4, d.SavedRegsSize/4)
	switch d.Type {
	case unwind.FrameFPO:
		return nums
	case unwind.FrameNonFPO:
		return "[Non-Fpo]"
	case unwind.FrameTrap:
		return fmt.Sprintf("[%d,%d] TrapFrame", d.ParamsSize/4, d.LocalsSize/4)
	case unwind.FrameTSS:
		return "TaskGate Segment:0"
	case unwind.FrameFrameData:
		if strings.HasPrefix(d.Program, "$T0 $ebp =") || strings.Contains(d.Program, "$ebp $T0 ^ =") {
			return "[Non-Fpo]"
		}
		return nums
	}
	return ""
}

// ---------------------------------------------------------------------------
// .frame and .kframes

// FrameScope is the result of .frame: the frame line and, with /r, its registers.
type FrameScope struct {
	Frame     StackFrame    `json:"frame"`
	Registers *RegisterDump `json:"registers,omitempty"`
	trace     *StackTrace
}

// WriteText prints the frame as kn does, then the registers.
func (f *FrameScope) WriteText(w io.Writer) {
	f.trace.WriteText(w)
	if f.Registers != nil {
		f.Registers.WriteText(w)
	}
}

func runFrame(s *Session, inv *Invocation) (Result, error) {
	args := strings.TrimSpace(inv.Args)
	showRegs := false
	for strings.HasPrefix(args, "/") || strings.HasPrefix(args, "-") {
		opt, rest, _ := strings.Cut(args, " ")
		switch strings.ToLower(opt[1:]) {
		case "r":
			showRegs = true
		case "c":
		case "rc", "cr":
			showRegs = true
		default:
			return nil, fmt.Errorf("Unknown option '%s'", opt)
		}
		args = strings.TrimSpace(rest)
	}
	t, base, ecxr, err := s.stackBase()
	if err != nil {
		return nil, err
	}
	n := 0
	if sc := s.currentScope(); sc != nil {
		n = sc.frame
	}
	if args != "" {
		v, err := s.Eval(args)
		if err != nil {
			return nil, exprError(s, inv, args, err)
		}
		if v > 0xffff {
			return nil, fmt.Errorf("Cannot find frame 0x%x, previous scope unchanged", v)
		}
		n = int(v)
	}
	env := newWalkEnv(s)
	defer env.close()
	frames, err := env.walk(t, base, max(n+1, stateOf(s).kframesValue()))
	if err != nil {
		return nil, err
	}
	if n >= len(frames) {
		return nil, fmt.Errorf("Cannot find frame 0x%x, previous scope unchanged", n)
	}
	ptr := framesPtr(frames, base)
	sfs := s.stackFrames(frames, ptr)
	sf := sfs[n]
	sf.Warning = ""
	ctx := frames[n].Context
	s.setScope(&stackScope{thread: s.Thread, ecxr: ecxr, base: base, frame: n, ctx: ctx})
	res := &FrameScope{Frame: sf, trace: &StackTrace{Frames: []StackFrame{sf}, ptr: ptr, noHeader: true}}
	if showRegs {
		res.Registers = registerDump(s, s.Thread, ctx)
	}
	return res, nil
}

func (st *stackState) kframesValue() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.kframes
}

func runKFrames(s *Session, inv *Invocation) (Result, error) {
	st := stateOf(s)
	if args := strings.TrimSpace(inv.Args); args != "" {
		v, err := s.Eval(args)
		if err != nil {
			return nil, exprError(s, inv, args, err)
		}
		if v == 0 || v > 0xffff {
			return nil, fmt.Errorf("Invalid stack trace depth %#x", v)
		}
		st.mu.Lock()
		st.kframes = int(v)
		st.mu.Unlock()
	}
	return kframesResult{Depth: st.kframesValue()}, nil
}

// kframesResult is .kframes' answer.
type kframesResult struct {
	Depth int `json:"depth"`
}

func (k kframesResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Default stack trace depth is 0n%d frames\n", k.Depth)
}

// ---------------------------------------------------------------------------
// The walker of one command.

// walkEnv is one command's stack walker. Module bytes come from the dump,
// then from the module's image file (image path, local symbol stores), then
// from PE headers rebuilt from the PDB's section table (so scans only take
// return addresses in code sections); x86 frame data comes from the PDBs'
// FPO and FRAMEDATA streams. Files it opens are closed by close.
type walkEnv struct {
	s       *Session
	mu      sync.Mutex
	closers []io.Closer
	pdbs    map[uint64]*pdb.File
	tables  map[uint64]*unwind.FrameTable
}

func newWalkEnv(s *Session) *walkEnv {
	return &walkEnv{s: s, pdbs: map[uint64]*pdb.File{}, tables: map[uint64]*unwind.FrameTable{}}
}

func (e *walkEnv) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.closers {
		c.Close()
	}
	for _, p := range e.pdbs {
		if p != nil {
			p.Close()
		}
	}
	e.closers, e.pdbs = nil, nil
}

// walk walks thread t from ctx, at most max frames.
func (e *walkEnv) walk(t *dump.Thread, ctx *dump.Context, max int) ([]unwind.Frame, error) {
	w := &unwind.Walker{File: e.s.Target, Modules: &unwind.Modules{File: e.s.Target, Image: e.image}, FrameData: e, MaxFrames: max}
	frames, err := w.Walk(t, ctx)
	if err != nil {
		return nil, fmt.Errorf("Unable to walk the stack: %v", strings.TrimPrefix(err.Error(), "unwind: "))
	}
	return frames, nil
}

// pdbOf opens the PDB the symbol table loaded for the module at base; nil
// when the module has no PDB symbols.
// TODO(symbols): a ModuleSymbols accessor for the open pdb.File would save
// this second handle.
func (e *walkEnv) pdbOf(base uint64) *pdb.File {
	e.mu.Lock()
	p, seen := e.pdbs[base]
	e.mu.Unlock()
	if seen {
		return p
	}
	if e.s.Symbols != nil {
		if ms, ok := e.s.Symbols.ModuleAt(base); ok {
			e.s.Symbols.Load(ms)
			if ms.Status() == symbols.PDBSymbols {
				p, _ = pdb.Open(ms.SymbolFile())
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pdbs == nil { // closed meanwhile
		if p != nil {
			p.Close()
		}
		return nil
	}
	e.pdbs[base] = p
	return p
}

// FrameData implements unwind.FrameDataSource from the module's PDB.
func (e *walkEnv) FrameData(base uint64, rva uint32) (unwind.FrameData, bool) {
	e.mu.Lock()
	tab, seen := e.tables[base]
	e.mu.Unlock()
	if !seen {
		if p := e.pdbOf(base); p != nil {
			tab = pdbFrameTable(p)
		}
		e.mu.Lock()
		e.tables[base] = tab
		e.mu.Unlock()
	}
	if tab == nil {
		return unwind.FrameData{}, false
	}
	return tab.Lookup(rva)
}

// image supplies the bytes of module m the dump lacks.
func (e *walkEnv) image(m *dump.Module) unwind.RVAReader {
	if rd := e.imageFile(m); rd != nil {
		return rd
	}
	if p := e.pdbOf(m.Base); p != nil {
		return pdbHeaders(p, m, e.s.Target.Arch())
	}
	return nil
}

// imageFile finds m's image file in the image path (-i, .exepath) and in the
// local stores of the symbol path. Symbol servers reached over HTTP are not
// asked here: a walk would otherwise download an image for every module a
// stack word points into; their local caches are searched.
// TODO(symbols): share the session finder (Table.ImageFile) instead.
func (e *walkEnv) imageFile(m *dump.Module) unwind.RVAReader {
	tab := e.s.Symbols
	if tab == nil {
		return nil
	}
	open := func(path string) unwind.RVAReader {
		rd, c, err := unwind.OpenImageFile(path, m)
		if err != nil {
			return nil
		}
		e.mu.Lock()
		e.closers = append(e.closers, c)
		e.mu.Unlock()
		return rd
	}
	name := m.BaseName()
	for _, dir := range tab.ImagePath() {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			if rd := open(p); rd != nil {
				return rd
			}
		}
	}
	if m.TimeDateStamp == 0 || m.Size == 0 {
		return nil
	}
	var local symsrv.Path
	for _, el := range tab.Path().Elements {
		if !el.IsHTTP() {
			local.Elements = append(local.Elements, el)
			continue
		}
		for _, c := range el.Caches {
			local.Elements = append(local.Elements, symsrv.Element{Kind: symsrv.Cache, Dir: c})
		}
	}
	if len(local.Elements) == 0 {
		return nil
	}
	f := &symsrv.Finder{Path: local, DefaultCache: tab.DefaultCache()}
	p, err := f.Find(e.s.Ctx, symsrv.ImageKey(name, m.TimeDateStamp, m.Size), func(path string) error {
		_, c, err := unwind.OpenImageFile(path, m)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return nil
	}
	return open(p)
}

// pdbHeaders rebuilds a module's PE headers from the section table its PDB
// keeps, so that the walker knows the code sections (and, on x64, where
// .pdata lies) when the dump holds neither headers nor image file. The
// bytes of the sections themselves stay unavailable.
func pdbHeaders(p *pdb.File, m *dump.Module, arch dump.Arch) unwind.RVAReader {
	secs := p.Sections()
	if len(secs) == 0 || len(secs) > 96 {
		return nil
	}
	is64 := arch == dump.ArchAMD64
	machine := uint16(0x14c)
	if h, ok := p.DBI(); ok && h.Machine != 0 {
		machine = h.Machine
		is64 = machine == 0x8664
	} else if is64 {
		machine = 0x8664
	}
	var pdata pdb.SectionHeader
	for _, sec := range secs {
		if sec.Name == ".pdata" {
			pdata = sec
		}
	}
	if is64 && pdata.VirtualAddress == 0 {
		// Without a .pdata directory the walker would take every function
		// for a leaf; better to leave the module unknown.
		return nil
	}
	le := binary.LittleEndian
	optSize := 224
	if is64 {
		optSize = 240
	}
	hdrLen := 0x40 + 24 + optSize + 40*len(secs)
	b := make([]byte, hdrLen)
	b[0], b[1] = 'M', 'Z'
	le.PutUint32(b[0x3c:], 0x40)
	copy(b[0x40:], "PE\x00\x00")
	fh := b[0x44:]
	le.PutUint16(fh[0:], machine)
	le.PutUint16(fh[2:], uint16(len(secs)))
	le.PutUint32(fh[4:], m.TimeDateStamp)
	le.PutUint16(fh[16:], uint16(optSize))
	opt := b[0x58:]
	dirs, count := 96, 92
	if is64 {
		le.PutUint16(opt, 0x20b)
		dirs, count = 112, 108
	} else {
		le.PutUint16(opt, 0x10b)
	}
	le.PutUint32(opt[56:], m.Size)
	le.PutUint32(opt[60:], uint32(hdrLen))
	le.PutUint32(opt[count:], 16)
	if pdata.VirtualAddress != 0 {
		size := pdata.VirtualSize
		if size == 0 {
			size = pdata.SizeOfRawData
		}
		le.PutUint32(opt[dirs+3*8:], pdata.VirtualAddress)
		le.PutUint32(opt[dirs+3*8+4:], size)
	}
	st := b[0x58+optSize:]
	for i, sec := range secs {
		h := st[40*i:]
		copy(h[:8], sec.Name)
		le.PutUint32(h[8:], sec.VirtualSize)
		le.PutUint32(h[12:], sec.VirtualAddress)
		le.PutUint32(h[16:], sec.SizeOfRawData)
		le.PutUint32(h[20:], sec.PointerToRawData)
		le.PutUint32(h[36:], sec.Characteristics)
	}
	return func(rva uint32, out []byte) (int, error) {
		if uint64(rva) >= uint64(len(b)) {
			return 0, fmt.Errorf("RVA %#x: only the headers are known (rebuilt from the PDB's section table)", rva)
		}
		n := copy(out, b[rva:])
		if n < len(out) {
			return n, fmt.Errorf("RVA %#x: only the headers are known (rebuilt from the PDB's section table)", rva+uint32(n))
		}
		return n, nil
	}
}

// pdbFrameTable reads a PDB's x86 frame records: the FPO stream and the
// FRAMEDATA ("new FPO") stream named by the DBI optional debug header, with
// program strings from /names.
// TODO(symbols/pdb): use the pdb.File FPO accessor once it exists.
func pdbFrameTable(p *pdb.File) *unwind.FrameTable {
	read := func(i int) []byte {
		if i < 0 || i >= p.NumStreams() {
			return nil
		}
		st, err := p.Stream(i)
		if err != nil || st.Size() <= 0 || st.Size() > 1<<30 {
			return nil
		}
		b := make([]byte, st.Size())
		if n, _ := st.ReadAt(b, 0); int64(n) != st.Size() {
			return nil
		}
		return b
	}
	dbi := read(3)
	if len(dbi) < 64 {
		return nil
	}
	le := binary.LittleEndian
	off := uint64(64)
	for _, field := range []int{24, 28, 32, 36, 40, 52} {
		off += uint64(le.Uint32(dbi[field:]))
	}
	dbgLen := uint64(le.Uint32(dbi[48:]))
	if off+dbgLen > uint64(len(dbi)) {
		return nil
	}
	dbg := dbi[off : off+dbgLen]
	slot := func(i int) int {
		if 2*i+2 > len(dbg) {
			return -1
		}
		v := le.Uint16(dbg[2*i:])
		if v == 0xffff {
			return -1
		}
		return int(v)
	}
	var strs []byte
	if names, err := p.NamedStream("/names"); err == nil && names.Size() >= 12 && names.Size() < 1<<30 {
		nb := make([]byte, names.Size())
		if n, _ := names.ReadAt(nb, 0); n == len(nb) {
			if l := uint64(le.Uint32(nb[8:])); 12+l <= uint64(len(nb)) {
				strs = nb[12 : 12+l]
			}
		}
	}
	str := func(o uint32) (string, bool) {
		if int(o) >= len(strs) {
			return "", false
		}
		s := strs[o:]
		if i := strings.IndexByte(string(s), 0); i >= 0 {
			s = s[:i]
		}
		return string(s), true
	}
	tab := &unwind.FrameTable{}
	for _, d := range unwind.ParseFPO(read(slot(0))) {
		tab.Add(d)
	}
	for _, d := range unwind.ParseFrameData(read(slot(9)), str) {
		tab.Add(d)
	}
	if tab.Len() == 0 {
		return nil
	}
	return tab
}
