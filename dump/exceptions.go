package dump

// exceptionNames are the descriptions the debugger engine gives exception
// codes in event lines (the sx event filter names; windbg-commands.md §14).
var exceptionNames = map[uint32]string{
	0xc0000005: "Access violation",
	0x80000003: "Break instruction exception",
	0x80000004: "Single step exception",
	0x80000001: "Guard page violation",
	0x80000002: "Data misaligned",
	0x80000007: "Wake debugger",
	0xe06d7363: "C++ EH exception",
	0xe0434f4d: "CLR exception",
	0xe0434352: "CLR exception",
	0xe0444143: "CLR notification exception",
	0xc0000094: "Integer divide-by-zero",
	0xc0000095: "Integer overflow",
	0xc00000fd: "Stack overflow",
	0xc0000409: "Security check failure or stack buffer overrun",
	0xc000001d: "Illegal instruction",
	0xc0000006: "In-page I/O error",
	0xc0000008: "Invalid handle",
	0xc000001c: "Invalid system call",
	0xc000001e: "Invalid lock sequence",
	0xc0000037: "Port disconnected",
	0xc0000420: "Assertion failure",
	0xc0000421: "Verifier stop",
	0x40010005: "Control-C exception",
	0x40010008: "Control-Break exception",
	0x40010009: "Debugger command exception",
	0x406d1388: "Visual C++ exception",
	0x40080201: "Windows Runtime Originate Error",
	0x40080202: "Windows Runtime Transform Error",
	0x4000001f: "WOW64 breakpoint",
	0x4000001e: "WOW64 single step exception",
	0xcfffffff: "Application hang",
}

// ExceptionName describes an exception code as WinDbg's event line does,
// "Unknown exception" for codes it has no name for (§1.5, 8898008d).
func ExceptionName(code uint32) string {
	if n, ok := exceptionNames[code]; ok {
		return n
	}
	return "Unknown exception"
}
