package commands

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"wdb/dump"
	"wdb/symbols"
)

// .ecxr, .exr and .lastevent: the exception a dump was written for
// (windbg-commands.md §14).

func init() {
	Register(&Command{
		Name:    ".ecxr",
		Aliases: []string{".excr"},
		Usage:   ".ecxr",
		Summary: "display the exception context record and make it the register context",
		Help: "Shows the registers stored with the dump's exception, as r does, and makes them the\n" +
			"register context of the exception thread: k then walks the stack from the faulting\n" +
			"instruction. ~Ns (another thread) ends it.",
		Run: runEcxr,
	})
	Register(&Command{
		Name:    ".exr",
		Usage:   ".exr -1 | .exr <address>",
		Summary: "display an exception record",
		Help: ".exr -1         the dump's exception record, with the access a violation attempted\n" +
			".exr <address>  an EXCEPTION_RECORD in target memory (32- or 64-bit by the target)",
		Run: runExr,
	})
	Register(&Command{
		Name:    ".lastevent",
		Usage:   ".lastevent",
		Summary: "display the last event: the exception the dump was written for",
		Run:     runLastEvent,
	})
}

// errNoExceptionContext is WinDbg's answer to .ecxr on a dump without an
// exception stream (wording UNCONFIRMED in windbg-commands.md §14.1; this is
// the dbgeng string for minidumps).
const errNoExceptionContext = "Minidump doesn't have an exception context"

// exceptionThread is the index of the exception's thread, -1 when the
// thread list does not hold it.
func exceptionThread(f *dump.File) int {
	if f == nil || f.Exception == nil {
		return -1
	}
	for i := range f.Threads {
		if f.Threads[i].ID == f.Exception.ThreadID {
			return i
		}
	}
	return -1
}

func runEcxr(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	e := s.Target.Exception
	if e == nil || e.Context == nil {
		return nil, fmt.Errorf("%s", errNoExceptionContext)
	}
	if e.Context.Arch != dump.ArchAMD64 && e.Context.Arch != dump.ArchX86 {
		return nil, fmt.Errorf("Registers of %s contexts are not supported", e.Context.Arch)
	}
	// The context belongs to the exception's thread: make it current (WinDbg
	// keeps the current thread; a dump opens on the exception thread anyway).
	if i := exceptionThread(s.Target); i >= 0 {
		s.Thread = i
	}
	s.setScope(&stackScope{thread: s.Thread, ecxr: true, base: e.Context, ctx: e.Context})
	return registerDump(s, s.Thread, e.Context), nil
}

// ExceptionRecord is what .exr shows.
type ExceptionRecord struct {
	Address     uint64   `json:"address"`
	Symbol      string   `json:"symbol,omitempty"` // module!symbol+0xoff of Address
	Code        uint32   `json:"code"`
	Description string   `json:"description,omitempty"`
	Flags       uint32   `json:"flags"`
	Nested      uint64   `json:"nestedRecord,omitempty"`
	Parameters  []uint64 `json:"parameters"`
	// Access is "read", "write" or "execute" for an access violation (or
	// in-page error), with the address it touched.
	Access        string `json:"access,omitempty"`
	AccessAddress uint64 `json:"accessAddress,omitempty"`
	// Decoded is the line .exr adds: "Attempt to read from address …",
	// "Subcode: 0x7 FAST_FAIL_FATAL_APP_EXIT".
	Decoded string `json:"decoded,omitempty"`

	ptr int
}

// WriteText prints the record as .exr does (§14.2: labels right-aligned to
// column 17, parameters in pointer width without backtick).
func (r *ExceptionRecord) WriteText(w io.Writer) {
	for _, l := range r.lines() {
		fmt.Fprintln(w, l)
	}
}

func (r *ExceptionRecord) lines() []string {
	hex := func(v uint64) string {
		if r.ptr == 4 {
			return fmt.Sprintf("%08x", uint32(v))
		}
		return fmt.Sprintf("%016x", v)
	}
	addr := "ExceptionAddress: " + hex(r.Address)
	if r.Symbol != "" {
		addr += " (" + r.Symbol + ")"
	}
	code := fmt.Sprintf("   ExceptionCode: %08x", r.Code)
	if r.Description != "" {
		code += " (" + r.Description + ")"
	}
	out := []string{addr, code, fmt.Sprintf("  ExceptionFlags: %08x", r.Flags), fmt.Sprintf("NumberParameters: %d", len(r.Parameters))}
	for i, p := range r.Parameters {
		out = append(out, fmt.Sprintf("   Parameter[%d]: %s", i, hex(p)))
	}
	if r.Decoded != "" {
		out = append(out, r.Decoded)
	}
	return out
}

// exceptionRecord builds the .exr view of a record.
func (s *Session) exceptionRecord(code, flags uint32, nested, addr uint64, params []uint64) *ExceptionRecord {
	ptr := s.PointerSize()
	r := &ExceptionRecord{Address: addr, Code: code, Flags: flags, Nested: nested, Parameters: params, ptr: ptr}
	if d := dump.ExceptionName(code); d != "Unknown exception" {
		r.Description = d
	}
	r.Symbol = exrSymbol(s, addr, ptr)
	hex := func(v uint64) string {
		if ptr == 4 {
			return fmt.Sprintf("%08x", uint32(v))
		}
		return fmt.Sprintf("%016x", v)
	}
	switch code {
	case 0xc0000005, 0xc0000006: // access violation, in-page I/O error
		if len(params) >= 2 {
			r.AccessAddress = params[1]
			switch params[0] {
			case 0:
				r.Access, r.Decoded = "read", "Attempt to read from address "+hex(params[1])
			case 1:
				r.Access, r.Decoded = "write", "Attempt to write to address "+hex(params[1])
			case 8:
				r.Access, r.Decoded = "execute", "Attempt to execute non-executable address "+hex(params[1])
			}
		}
	case 0xc0000409: // __fastfail
		if len(params) >= 1 {
			r.Decoded = fmt.Sprintf("Subcode: 0x%x", params[0])
			if n, ok := fastFailNames[params[0]]; ok {
				r.Decoded += " FAST_FAIL_" + n
			}
		}
	}
	return r
}

// exrSymbol is .exr's "module!symbol+0x<offset>" with the offset padded to
// the pointer width (§14.2), "" outside every module.
func exrSymbol(s *Session, addr uint64, ptr int) string {
	if s.Symbols == nil {
		return ""
	}
	sym, _, ok := s.Symbols.Nearest(addr)
	if !ok {
		return ""
	}
	base := sym.Addr
	if sym.Name == "" {
		if m, ok := s.Symbols.ModuleAt(addr); ok {
			base = m.Module.Base
		}
	}
	return fmt.Sprintf("%s+0x%0*x", sym.FullName(), 2*ptr, addr-base)
}

// fastFailNames are the FAST_FAIL_* codes of winnt.h (subcodes of c0000409).
var fastFailNames = map[uint64]string{
	0: "LEGACY_GS_VIOLATION", 1: "VTGUARD_CHECK_FAILURE", 2: "STACK_COOKIE_CHECK_FAILURE", 3: "CORRUPT_LIST_ENTRY",
	4: "INCORRECT_STACK", 5: "INVALID_ARG", 6: "GS_COOKIE_INIT", 7: "FATAL_APP_EXIT", 8: "RANGE_CHECK_FAILURE",
	9: "UNSAFE_REGISTRY_ACCESS", 10: "GUARD_ICALL_CHECK_FAILURE", 11: "GUARD_WRITE_CHECK_FAILURE",
	12: "INVALID_FIBER_SWITCH", 13: "INVALID_SET_OF_CONTEXT", 14: "INVALID_REFERENCE_COUNT",
	18: "INVALID_JUMP_BUFFER", 19: "MRDATA_MODIFIED", 20: "CERTIFICATION_FAILURE", 21: "INVALID_EXCEPTION_CHAIN",
	22: "CRYPTO_LIBRARY", 23: "INVALID_CALL_IN_DLL_CALLOUT", 24: "CFG_RESTRICTED", 25: "INVALID_IMAGE_BASE",
	26: "DLOAD_PROTECTION_FAILURE", 27: "UNSAFE_EXTENSION_CALL", 28: "DEPRECATED_SERVICE_INVOKED",
	29: "INVALID_BUFFER_ACCESS", 30: "INVALID_BALANCED_TREE", 31: "INVALID_NEXT_THREAD",
	32: "GUARD_ICALL_CHECK_SUPPRESSED", 33: "APCS_DISABLED", 34: "INVALID_IDLE_STATE",
	35: "MRDATA_PROTECTION_FAILURE", 36: "UNEXPECTED_HEAP_EXCEPTION", 37: "INVALID_LOCK_STATE",
	38: "GUARD_JUMPTABLE", 39: "INVALID_LONGJUMP_TARGET", 40: "INVALID_DISPATCH_CONTEXT", 41: "INVALID_THREAD",
	42: "INVALID_SYSCALL_NUMBER", 43: "INVALID_FILE_OPERATION", 44: "LPAC_ACCESS_DENIED", 45: "GUARD_SS_FAILURE",
	46: "LOADER_CONTINUITY_FAILURE", 47: "GUARD_EXPORT_SUPPRESSION_FAILURE", 48: "INVALID_CONTROL_STACK",
	49: "SET_CONTEXT_DENIED", 50: "INVALID_IAT", 51: "HEAP_METADATA_CORRUPTION", 52: "PAYLOAD_RESTRICTION_VIOLATION",
	53: "LOW_LABEL_ACCESS_DENIED", 54: "ENCLAVE_CALL_FAILURE", 55: "UNHANDLED_LSS_EXCEPTON", 56: "ADMINLESS_ACCESS_DENIED",
	57: "UNEXPECTED_CALL", 58: "CONTROL_INVALID_RETURN_ADDRESS", 59: "UNEXPECTED_HOST_BEHAVIOR",
	60: "FLAGS_CORRUPTION", 61: "VEH_CORRUPTION", 62: "ETW_CORRUPTION", 63: "RIO_ABORT", 64: "INVALID_PFN",
}

// dumpExceptionRecord is the dump's own record (.exr -1).
func (s *Session) dumpExceptionRecord() (*ExceptionRecord, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	e := s.Target.Exception
	if e == nil {
		return nil, fmt.Errorf("No exception record: the dump has no exception stream")
	}
	n := int(min(e.NumberParameters, uint32(len(e.Parameters))))
	params := append([]uint64(nil), e.Parameters[:n]...)
	if s.PointerSize() == 4 {
		for i := range params {
			params[i] = uint64(uint32(params[i]))
		}
	}
	return s.exceptionRecord(e.Code, e.Flags, e.RecordAddress, e.Address, params), nil
}

func runExr(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	args := strings.TrimSpace(inv.Args)
	if args == "" {
		return nil, fmt.Errorf("Usage: .exr -1 | .exr <address>")
	}
	if args == "-1" || strings.EqualFold(args, "0xffffffffffffffff") || strings.EqualFold(args, "ffffffffffffffff") {
		return asResult(s.dumpExceptionRecord())
	}
	addr, err := s.Eval(args)
	if err != nil {
		return nil, exprError(s, inv, args, err)
	}
	if addr == ^uint64(0) || (s.PointerSize() == 4 && addr == 0xffffffff) {
		return asResult(s.dumpExceptionRecord())
	}
	return asResult(s.memoryExceptionRecord(addr))
}

// memoryExceptionRecord reads an EXCEPTION_RECORD (x86) or the 64-bit one
// (x64: 8-byte pointers, 4 bytes of alignment before the parameters).
func (s *Session) memoryExceptionRecord(addr uint64) (*ExceptionRecord, error) {
	ptr := s.PointerSize()
	size := 20 + 15*4
	if ptr == 8 {
		size = 32 + 15*8
	}
	b := make([]byte, size)
	if n, _ := s.Target.ReadMemory(addr, b); n < size {
		return nil, fmt.Errorf("Cannot read Exception record @ %s", s.Addr(addr))
	}
	le := binary.LittleEndian
	code, flags := le.Uint32(b), le.Uint32(b[4:])
	var nested, at uint64
	var count uint32
	param := func(i int) uint64 { return uint64(le.Uint32(b[20+4*i:])) }
	if ptr == 8 {
		nested, at, count = le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint32(b[24:])
		param = func(i int) uint64 { return le.Uint64(b[32+8*i:]) }
	} else {
		nested, at, count = uint64(le.Uint32(b[8:])), uint64(le.Uint32(b[12:])), le.Uint32(b[16:])
	}
	if count > 15 {
		return nil, fmt.Errorf("Exception record @ %s has %d parameters: not an exception record", s.Addr(addr), count)
	}
	params := make([]uint64, count)
	for i := range params {
		params[i] = param(i)
	}
	return s.exceptionRecord(code, flags, nested, at, params), nil
}

// asResult returns a record as a Result, and no Result (not a typed nil)
// with an error.
func asResult(r *ExceptionRecord, err error) (Result, error) {
	if err != nil {
		return nil, err
	}
	return r, nil
}

// eventClock gives the "debugger time" of .lastevent: when the session
// processed the dump's event (the host's clock and zone). Tests fix it.
var eventClock = time.Now

// LastEvent is the answer of .lastevent.
type LastEvent struct {
	PID         uint32    `json:"pid"`
	TID         uint32    `json:"tid"`
	Description string    `json:"description"`
	Code        uint32    `json:"code"`
	Chance      string    `json:"chance"`
	Time        time.Time `json:"debuggerTime"`
	// Synthesized is true for a dump without an exception stream: the
	// event is then described as a break-in (UNCONFIRMED wording, §14.3).
	Synthesized bool `json:"synthesized,omitempty"`
}

// WriteText prints the two .lastevent lines (§14.3).
func (e *LastEvent) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Last event: %x.%x: %s - code %08x (%s)\n", e.PID, e.TID, e.Description, e.Code, e.Chance)
	_, off := e.Time.Zone()
	fmt.Fprintf(w, "  debugger time: %s (%s)\n", e.Time.Format("Mon Jan _2 15:04:05.000 2006"), utcOffset(off/60))
}

// lastEvent is the dump's event: its exception, or a break-in on the
// current thread for dumps written without one.
func (s *Session) lastEvent() *LastEvent {
	f := s.Target
	pid, _ := f.ProcessID()
	ev := &LastEvent{PID: pid, Chance: "first/second chance not available", Time: s.eventTime()}
	if e := f.Exception; e != nil {
		ev.TID, ev.Code, ev.Description = e.ThreadID, e.Code, dump.ExceptionName(e.Code)
		return ev
	}
	ev.Code, ev.Description, ev.Synthesized = 0x80000003, dump.ExceptionName(0x80000003), true
	if t, ok := s.CurrentThread(); ok {
		ev.TID = t.ID
	}
	return ev
}

// eventTime is when this session first needed the event's time.
func (s *Session) eventTime() time.Time {
	st := stateOf(s)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.eventTime.IsZero() {
		st.eventTime = eventClock()
	}
	return st.eventTime
}

func runLastEvent(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	return s.lastEvent(), nil
}

// symbolName is SYMBOL_NAME's form of an address: "module!name+hex" (no 0x)
// with a PDB symbol, else "module+rva" (export names are not trusted for
// bucketing, as in the §15.2 sample "Qt6Core+1869a2").
func symbolName(s *Session, addr uint64) string {
	if s.Symbols == nil {
		return ""
	}
	m, ok := s.Symbols.ModuleAt(addr)
	if !ok {
		return ""
	}
	if m.Status() == symbols.PDBSymbols {
		if sym, d, ok := s.Symbols.Nearest(addr); ok && sym.Name != "" {
			if d == 0 {
				return sym.FullName()
			}
			return fmt.Sprintf("%s+%x", sym.FullName(), d)
		}
	}
	return fmt.Sprintf("%s+%x", m.Name, addr-m.Module.Base)
}
