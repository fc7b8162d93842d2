package repl

import (
	"fmt"
	"io"
	"strings"

	"wdb/commands"
	"wdb/dump"
)

// The startup banner follows WinDbg's (windbg-commands.md §1.5) line by line
// so that people who read WinDbg transcripts find everything where they
// expect it; only the debugger's own name and copyright lines are ours.

// dotsPerLine is how many module dots WinDbg prints before wrapping.
const dotsPerLine = 64

// WriteBanner prints the startup banner for f. The symbol and image paths
// come from opts because the symbols package does not own them yet.
func WriteBanner(w io.Writer, f *dump.File, opts Options) {
	version := opts.Version
	if version == "" {
		version = commands.DebuggerVersion
	}
	fmt.Fprintf(w, "wdb %s — WinDbg-style minidump debugger\n\n", version)
	fmt.Fprintf(w, "Loading Dump File [%s]\n", f.Path)
	if f.FullMemory() {
		fmt.Fprintln(w, "User Mini Dump File with Full Memory: Only application data is available")
	} else {
		fmt.Fprintln(w, "User Mini Dump File: Only registers, stack and portions of memory are available")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Symbol search path is: %s\n", opts.SymbolPath)
	fmt.Fprintf(w, "Executable search path is: %s\n", opts.ImagePath)
	for _, l := range targetLines(f) {
		fmt.Fprintln(w, l)
	}
	writeDots(w, len(f.Modules))
	if len(f.UnloadedModules) > 0 {
		fmt.Fprintln(w, "Loading unloaded module list")
		writeDots(w, len(f.UnloadedModules))
	}
	if e := f.Exception; e != nil {
		fmt.Fprintln(w, "This dump file has an exception of interest stored in it.")
		fmt.Fprintln(w, "The stored exception information can be accessed via .ecxr.")
		pid, _ := f.ProcessID()
		fmt.Fprintf(w, "(%x.%x): %s - code %08x (first/second chance not available)\n",
			pid, e.ThreadID, exceptionName(e.Code), e.Code)
	}
	// WinDbg prints the hint whether or not there is an exception (§1.5,
	// first sample: a dump without one).
	fmt.Fprintln(w, "For analysis of this file, run !analyze -v")
	printLocation(w, f)
}

// targetLines is the OS and time block, shared with vertarget so that both
// say the same thing: the OS, product and build lines, the session time and
// the uptimes. The banner leaves out what newer WinDbg banners do not show:
// "Machine Name:" and vertarget's indented Kernel/User time lines.
func targetLines(f *dump.File) []string {
	var out []string
	for _, l := range commands.VertargetInfo(f).Lines() {
		if strings.HasPrefix(l, "Machine Name:") || strings.HasPrefix(l, " ") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// printLocation would print the current instruction of the event thread as
// WinDbg ends its banner: "ntdll!NtWaitForMultipleObjects+0x14:" and then
// "00007ff8`8b7ee0f4 c3              ret".
//
// TODO(disassembly): print the location once the disassembly formatter
// (u's one-line format, windbg-commands.md §10.2) exists; until then the
// banner ends with the !analyze hint.
func printLocation(w io.Writer, f *dump.File) {}

// writeDots prints one dot per module, wrapped at 64 as WinDbg's progress
// line is.
func writeDots(w io.Writer, n int) {
	for n > 0 {
		k := min(n, dotsPerLine)
		fmt.Fprintln(w, strings.Repeat(".", k))
		n -= k
	}
}

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

// exceptionName describes an exception code as WinDbg's event line does,
// "Unknown exception" for codes it has no name for (§1.5, 8898008d).
// .exr and .lastevent need the same table; it belongs in commands once
// they land (repl cannot be imported from there).
func exceptionName(code uint32) string {
	if n, ok := exceptionNames[code]; ok {
		return n
	}
	return "Unknown exception"
}

// writeWarnings prints what the dump reader could not read, one per line.
func writeWarnings(w io.Writer, f *dump.File) {
	for _, err := range f.Warnings {
		fmt.Fprintf(w, "WARNING: %v\n", err)
	}
}
