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
func WriteBanner(w io.Writer, s *commands.Session, opts Options) {
	f := s.Target
	version := opts.Version
	if version == "" {
		version = commands.DebuggerVersion
	}
	fmt.Fprintf(w, "wdb %s — WinDbg-style minidump debugger\n\n", version)
	fmt.Fprintf(w, "Loading Dump File [%s]\n", f.Path)
	if opts.BannerNote != "" {
		fmt.Fprintln(w, opts.BannerNote)
	}
	if f.FullMemory() {
		fmt.Fprintln(w, "User Mini Dump File with Full Memory: Only application data is available")
	} else {
		fmt.Fprintln(w, "User Mini Dump File: Only registers, stack and portions of memory are available")
	}
	fmt.Fprintln(w)
	// The paths as the user gave them; the session's own when none were given.
	symPath, imgPath := opts.SymbolPath, opts.ImagePath
	if s.Symbols != nil && symPath == "" {
		symPath = s.Symbols.Path().String()
	}
	if s.Symbols != nil && imgPath == "" {
		imgPath = strings.Join(s.Symbols.ImagePath(), ";")
	}
	fmt.Fprintf(w, "Symbol search path is: %s\n", symPath)
	fmt.Fprintf(w, "Executable search path is: %s\n", imgPath)
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
			pid, e.ThreadID, dump.ExceptionName(e.Code), e.Code)
	}
	// WinDbg prints the hint whether or not there is an exception (§1.5,
	// first sample: a dump without one).
	fmt.Fprintln(w, "For analysis of this file, run !analyze -v")
	for _, l := range s.LocationLines() {
		fmt.Fprintln(w, l)
	}
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

// writeDots prints one dot per module, wrapped at 64 as WinDbg's progress
// line is.
func writeDots(w io.Writer, n int) {
	for n > 0 {
		k := min(n, dotsPerLine)
		fmt.Fprintln(w, strings.Repeat(".", k))
		n -= k
	}
}

// writeWarnings prints what the dump reader could not read, one per line.
// A fuzzed file can carry hundreds of problems; the first few tell the
// story and .dumpdebug lists them all.
func writeWarnings(w io.Writer, f *dump.File) {
	const shown = 20
	for i, err := range f.Warnings {
		if i == shown {
			fmt.Fprintf(w, "WARNING: %d more problems (.dumpdebug lists them all)\n", len(f.Warnings)-shown)
			break
		}
		fmt.Fprintf(w, "WARNING: %v\n", err)
	}
}
