package commands

import (
	"fmt"
	"io"
	"strings"

	"wdb/disasm"
	"wdb/dump"
	"wdb/symbols"
	"wdb/unwind"
)

// !analyze: a crash summary in the layout of modern WinDbg's "Exception
// Analysis" (windbg-commands.md §15.2). wdb does no bucketing service
// lookups: the problem class and FAILURE_BUCKET_ID follow WinDbg's naming
// (INVALID_POINTER_READ_c0000005_Qt6Core.dll!Unknown) from the exception
// alone, and the fault is charged to the first frame outside the system
// runtime modules.

func init() {
	Register(&Command{
		Name:    "!analyze",
		Usage:   "!analyze [-v] [-f]",
		Summary: "analyze the exception the dump was written for",
		Help: "Shows the exception (code, name, the access and address of a violation), the\n" +
			"exception context and faulting instruction, the stack from the exception\n" +
			"context, the module and symbol the fault is charged to and a bucket line\n" +
			"(PROBLEM_CLASS_code_image!function). -v and -f are accepted (the output is\n" +
			"always the verbose one); -hang is not supported.",
		Run: runAnalyze,
	})
}

// KeyValue is one KEY_VALUES_STRING pair.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Analysis is the result of !analyze.
type Analysis struct {
	HasException  bool             `json:"hasException"`
	KeyValues     []KeyValue       `json:"keyValues"`
	Context       *RegisterDump    `json:"context,omitempty"`
	Exception     *ExceptionRecord `json:"exceptionRecord,omitempty"`
	FaultingIP    uint64           `json:"faultingIP"`
	FaultingSym   string           `json:"faultingSymbol,omitempty"`
	Instruction   string           `json:"faultingInstruction,omitempty"`
	CodeAvailable bool             `json:"codeAvailable"`
	ProcessName   string           `json:"processName,omitempty"`
	Access        string           `json:"access,omitempty"` // Read, Write, Execute
	AccessAddress uint64           `json:"accessAddress,omitempty"`
	ErrorCode     string           `json:"errorCode,omitempty"`
	Stack         *StackTrace      `json:"stack,omitempty"`
	StackCommand  string           `json:"stackCommand"`
	SymbolName    string           `json:"symbolName,omitempty"`
	ModuleName    string           `json:"moduleName,omitempty"`
	ImageName     string           `json:"imageName,omitempty"`
	ImageVersion  string           `json:"imageVersion,omitempty"`
	ProblemClass  string           `json:"problemClass"`
	Bucket        string           `json:"failureBucketID"`
	Platform      string           `json:"osPlatformType,omitempty"`
	OSName        string           `json:"osName,omitempty"`
	// FollowupFrame is the frame the fault is charged to.
	FollowupFrame int `json:"followupFrame"`

	params []uint64
	ptr    int
	code   uint32
}

const analysisBanner = "*******************************************************************************\n" +
	"*                                                                             *\n" +
	"*                        Exception Analysis                                   *\n" +
	"*                                                                             *\n" +
	"*******************************************************************************\n"

// WriteText prints the analysis: banner, fields separated by blank lines,
// and the Followup trailer.
func (a *Analysis) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	hex := func(v uint64) string { return strings.ReplaceAll(FormatAddr(a.ptr, v), "`", "") }
	p("\n%s\n", analysisBanner)
	if len(a.KeyValues) > 0 {
		p("KEY_VALUES_STRING: 1\n\n")
		for _, kv := range a.KeyValues {
			p("    Key  : %s\n    Value: %s\n\n", kv.Key, kv.Value)
		}
		p("\n")
	}
	if !a.HasException {
		p("NO_EXCEPTION: the dump has no exception stream; the stack below is the current thread's.\n\n")
	}
	if a.Context != nil {
		if a.HasException {
			p("CONTEXT:  (.ecxr)\n")
		} else {
			p("CONTEXT:  (r)\n")
		}
		a.Context.WriteText(w)
		p("Resetting default scope\n\n")
	}
	if a.Exception != nil {
		p("EXCEPTION_RECORD:  (.exr -1)\n")
		a.Exception.WriteText(w)
		p("\n")
	}
	if a.ProcessName != "" {
		p("PROCESS_NAME:  %s\n\n", a.ProcessName)
	}
	switch a.Access {
	case "Read":
		p("READ_ADDRESS:  %s \n\n", hex(a.AccessAddress))
	case "Write":
		p("WRITE_ADDRESS:  %s \n\n", hex(a.AccessAddress))
	}
	if a.HasException {
		p("ERROR_CODE: (NTSTATUS) 0x%x - %s\n\n", a.code, a.ErrorCode)
		p("EXCEPTION_CODE_STR:  %x\n\n", a.code)
		for i, v := range a.params {
			if i >= 4 {
				break
			}
			p("EXCEPTION_PARAMETER%d:  %s\n\n", i+1, hex(v))
		}
	}
	if a.Stack != nil {
		p("STACK_TEXT:  \n")
		a.Stack.WriteText(w)
		p("\n\n")
	}
	p("STACK_COMMAND: %s\n\n", a.StackCommand)
	if a.FaultingSym != "" || a.Instruction != "" {
		if a.CodeAvailable {
			p("FAULTING_IP: \n")
		} else {
			p("IP_IN_PAGED_CODE: \n")
		}
		if a.FaultingSym != "" {
			p("%s\n", a.FaultingSym)
		}
		p("%s\n\n", a.Instruction)
	}
	if a.SymbolName != "" {
		p("SYMBOL_NAME:  %s\n\n", a.SymbolName)
	}
	if a.ModuleName != "" {
		p("MODULE_NAME: %s\n\n", a.ModuleName)
	}
	if a.ImageName != "" {
		p("IMAGE_NAME:  %s\n\n", a.ImageName)
	}
	p("FAILURE_BUCKET_ID:  %s\n\n", a.Bucket)
	if a.Platform != "" {
		p("OSPLATFORM_TYPE:  %s\n\n", a.Platform)
	}
	if a.OSName != "" {
		p("OSNAME:  %s\n\n", a.OSName)
	}
	if a.ImageVersion != "" {
		p("IMAGE_VERSION:  %s\n\n", a.ImageVersion)
	}
	p("Followup:     MachineOwner\n---------\n\n")
}

func runAnalyze(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	for _, a := range strings.Fields(inv.Args) {
		switch {
		case strings.HasPrefix(strings.ToLower(a), "-v"), strings.EqualFold(a, "-f"):
		case strings.EqualFold(a, "-hang"):
			return nil, fmt.Errorf("!analyze -hang is not supported: use ~* k to look for blocked threads")
		default:
			return nil, fmt.Errorf("!analyze: unknown option '%s' (use -v or -f)", a)
		}
	}
	a, err := s.analyze()
	if err != nil {
		return nil, err
	}
	return a, nil
}

// analyze builds the analysis of the dump's exception, or of the current
// thread when the dump has none.
func (s *Session) analyze() (*Analysis, error) {
	f := s.Target
	a := &Analysis{ptr: s.PointerSize()}
	e := f.Exception
	thread := s.Thread
	var ctx *dump.Context
	if e != nil && e.Context != nil {
		a.HasException = true
		if i := exceptionThread(f); i >= 0 {
			thread = i
		}
		ctx = e.Context
	} else if t, ok := s.CurrentThread(); ok {
		ctx = t.Context
	}
	if len(f.Modules) > 0 {
		a.ProcessName = f.Modules[0].BaseName()
	}
	if f.System != nil {
		a.OSName = windowsName(f.System.MajorVersion, f.System.MinorVersion)
	}
	switch f.Arch() {
	case dump.ArchX86:
		a.Platform = "x86"
	case dump.ArchAMD64:
		a.Platform = "x64"
	}
	if e != nil {
		rec, err := s.dumpExceptionRecord()
		if err != nil {
			return nil, err
		}
		a.Exception, a.code, a.params = rec, e.Code, rec.Parameters
		a.ErrorCode = ntstatusText(e.Code)
		if rec.Access != "" {
			a.Access = strings.ToUpper(rec.Access[:1]) + rec.Access[1:]
			a.AccessAddress = rec.AccessAddress
		}
	}
	a.StackCommand = fmt.Sprintf("~%ds; .ecxr ; kb", thread)
	if !a.HasException {
		a.StackCommand = fmt.Sprintf("~%ds ; kb", thread)
	}

	var frames []unwind.Frame
	if ctx != nil && (ctx.Arch == dump.ArchAMD64 || ctx.Arch == dump.ArchX86) {
		a.Context = registerDump(s, thread, ctx)
		var t *dump.Thread
		if thread >= 0 && thread < len(f.Threads) {
			t = &f.Threads[thread]
		}
		env := newWalkEnv(s)
		frames, _ = env.walk(t, ctx, stateOf(s).kframesValue())
		env.close()
		if len(frames) > 0 {
			ptr := framesPtr(frames, ctx)
			st := &StackTrace{Thread: thread, Arch: frames[0].Context.Arch.String(), Context: "exception", opts: kOptions{args: true}, ptr: ptr, noHeader: true, noNumber: true}
			st.Frames = s.stackFrames(frames, ptr)
			for i := range st.Frames {
				st.Frames[i].Warning, st.Frames[i].File = "", ""
			}
			a.Stack = st
		}
	}

	// The faulting instruction.
	ip := uint64(0)
	switch {
	case e != nil:
		ip = e.Address
	case ctx != nil:
		ip = ctx.PC()
	}
	a.FaultingIP = ip
	a.FaultingSym = strings.Replace(symbols.Format(s.Symbols, ip), "+0x", "+", 1)
	mode := 64
	if a.ptr == 4 || (ctx != nil && (ctx.Arch == dump.ArchX86 || ctx.Cs == 0x23)) {
		mode = 32
	}
	line := disasm.DecodeLine(f, s.symbolizer(), ip, mode)
	a.CodeAvailable = !line.Unreadable
	insPtr := a.ptr
	if mode == 32 {
		insPtr = 4 // a WOW64 fault in 32-bit code prints as x86
	}
	a.Instruction = disasm.FormatLine(line, insPtr)

	// The frame the fault is charged to.
	a.FollowupFrame = followupFrame(s, frames)
	chargeIP := ip
	if a.FollowupFrame > 0 {
		chargeIP = frames[a.FollowupFrame].IP
	}
	function := "Unknown"
	if ms, ok := s.Symbols.ModuleAt(chargeIP); ok {
		a.ModuleName = ms.Name
		a.ImageName = ms.Module.BaseName()
		if v := ms.Module.Version; v.Signature == 0xfeef04bd {
			a.ImageVersion = v.FileVersion()
		}
		if ms.Status() == symbols.PDBSymbols {
			lookup := chargeIP
			if a.FollowupFrame > 0 {
				lookup = frames[a.FollowupFrame].LookupPC()
			}
			if sym, _, ok := s.Symbols.Nearest(lookup); ok && sym.Name != "" {
				function = sym.Name
				d := chargeIP - sym.Addr
				a.SymbolName = sym.FullName()
				if d != 0 {
					a.SymbolName += fmt.Sprintf("+%x", d)
				}
			}
		}
		if a.SymbolName == "" {
			a.SymbolName = fmt.Sprintf("%s+%x", ms.Name, chargeIP-ms.Module.Base)
		}
	}
	image := a.ImageName
	if image == "" {
		image = "Unknown_Module"
	}
	code := uint32(0x80000003)
	if e != nil {
		code = e.Code
	}
	a.ProblemClass = problemClass(a, code)
	a.Bucket = fmt.Sprintf("%s_%08x_%s!%s", a.ProblemClass, code, image, function)
	if !a.HasException {
		a.Bucket = fmt.Sprintf("NO_EXCEPTION_%s!%s", image, function)
		a.ProblemClass = "NO_EXCEPTION"
	}

	if a.HasException {
		if a.Access != "" {
			a.KeyValues = append(a.KeyValues, KeyValue{"AV.Type", a.Access})
		}
		a.KeyValues = append(a.KeyValues,
			KeyValue{"Failure.Bucket", a.Bucket},
			KeyValue{"Failure.Exception.Code", fmt.Sprintf("0x%x", code)},
			KeyValue{"Failure.Exception.IP.Address", fmt.Sprintf("0x%x", ip)})
		if ms, ok := s.Symbols.ModuleAt(ip); ok {
			a.KeyValues = append(a.KeyValues,
				KeyValue{"Failure.Exception.IP.Module", ms.Name},
				KeyValue{"Failure.Exception.IP.Offset", fmt.Sprintf("0x%x", ip-ms.Module.Base)})
		}
		a.KeyValues = append(a.KeyValues, KeyValue{"Failure.ProblemClass.Primary", a.ProblemClass})
	}
	return a, nil
}

// systemModules are the runtime modules a fault is not charged to when a
// caller outside them is on the stack (WinDbg's triage does the same with
// its own, longer list).
var systemModules = map[string]bool{
	"ntdll": true, "kernelbase": true, "kernel32": true, "msvcrt": true, "ucrtbase": true, "ucrtbased": true,
	"vcruntime140": true, "vcruntime140d": true, "vcruntime140_1": true, "msvcp140": true, "msvcp140d": true,
	"win32u": true, "user32": true, "wow64": true, "wow64cpu": true, "wow64win": true,
}

// followupFrame is the first frame in a module outside systemModules; 0
// when frame 0 is such a module or every frame is a system one.
func followupFrame(s *Session, frames []unwind.Frame) int {
	for i := range frames {
		ms, ok := s.Symbols.ModuleAt(frames[i].LookupPC())
		if !ok {
			if i == 0 {
				return 0
			}
			continue
		}
		name := strings.ToLower(ms.Module.ModuleName())
		if !systemModules[name] {
			return i
		}
	}
	return 0
}

// problemClass names the failure as WinDbg's buckets do: NULL_POINTER_READ
// (address 0), NULL_CLASS_PTR_WRITE (below 64 KB), INVALID_POINTER_READ,
// BAD_INSTRUCTION_PTR (execute), INTEGER_DIVIDE_BY_ZERO, FAIL_FAST_<code>…
func problemClass(a *Analysis, code uint32) string {
	switch code {
	case 0xc0000005, 0xc0000006:
		switch a.Access {
		case "Execute":
			return "BAD_INSTRUCTION_PTR"
		case "Read", "Write":
			rw := strings.ToUpper(a.Access)
			switch {
			case a.AccessAddress == 0:
				return "NULL_POINTER_" + rw
			case a.AccessAddress < 0x10000:
				return "NULL_CLASS_PTR_" + rw
			}
			return "INVALID_POINTER_" + rw
		}
		return "ACCESS_VIOLATION"
	case 0xc0000094:
		return "INTEGER_DIVIDE_BY_ZERO"
	case 0xc0000095:
		return "INTEGER_OVERFLOW"
	case 0x80000003, 0x4000001f:
		return "BREAKPOINT"
	case 0xc00000fd:
		return "STACK_OVERFLOW"
	case 0xc000001d:
		return "ILLEGAL_INSTRUCTION"
	case 0xc000000d:
		return "INVALID_PARAMETER"
	case 0xc0000374:
		return "HEAP_CORRUPTION"
	case 0xe06d7363:
		return "CPP_EXCEPTION"
	case 0xe0434352, 0xe0434f4d:
		return "CLR_EXCEPTION"
	case 0xc0000409:
		if len(a.params) > 0 {
			if n, ok := fastFailNames[a.params[0]]; ok {
				return "FAIL_FAST_" + n
			}
		}
		return "STACK_BUFFER_OVERRUN"
	}
	return "APPLICATION_FAULT"
}

// ntstatusText is the NTSTATUS message ERROR_CODE prints (templates left
// unformatted, as WinDbg prints them).
func ntstatusText(code uint32) string {
	switch code {
	case 0xc0000005:
		return "The instruction at 0x%p referenced memory at 0x%p. The memory could not be %s."
	case 0xc0000006:
		return "The instruction at 0x%p referenced memory at 0x%p. The required data was not placed into memory because of an I/O error status of 0x%x."
	case 0x80000003:
		return "{EXCEPTION}  Breakpoint  A breakpoint has been reached."
	case 0x80000004:
		return "{EXCEPTION}  Single Step  A single step or trace operation has just been completed."
	case 0xc0000094:
		return "{EXCEPTION}  Integer division by zero."
	case 0xc0000095:
		return "{EXCEPTION}  Integer overflow."
	case 0xc00000fd:
		return "A new guard page for the stack cannot be created."
	case 0xc000001d:
		return "{EXCEPTION}  Illegal Instruction  An attempt was made to execute an illegal instruction."
	case 0xc000000d:
		return "An invalid parameter was passed to a service or function."
	case 0xc0000409:
		return "The system detected an overrun of a stack-based buffer in this application. This overrun could potentially allow a malicious user to gain control of this application."
	case 0xc0000374:
		return "A heap has been corrupted."
	case 0xc0000008:
		return "An invalid HANDLE was specified."
	}
	return "<Unable to get error code text>"
}
