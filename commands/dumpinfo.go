package commands

import (
	"fmt"
	"io"
	"strings"

	"wdb/dump"
)

// .dumpdebug shows the dump file's own structure: the header, its flags and
// every stream of the directory, the ones wdb does not understand included.

func init() {
	Register(&Command{
		Name:    ".dumpdebug",
		Usage:   ".dumpdebug",
		Summary: "display the minidump header and stream directory",
		Run: func(s *Session, inv *Invocation) (Result, error) {
			if s.Target == nil {
				return nil, errNoTarget
			}
			return dumpDebug(s.Target), nil
		},
	})
}

// DumpDebug is the result of .dumpdebug.
type DumpDebug struct {
	Path       string      `json:"path"`
	Size       int64       `json:"size"`
	Version    uint32      `json:"version"`
	Flags      uint64      `json:"flags"`
	FlagNames  []string    `json:"flag_names"`
	Time       string      `json:"time"`
	Streams    []StreamRow `json:"streams"`
	Comments   []string    `json:"comments,omitempty"`
	Warnings   []string    `json:"warnings,omitempty"`
	Ranges     int         `json:"memory_ranges"`
	Captured   uint64      `json:"captured_bytes"`
	flagValues []uint64
}

// StreamRow is one directory entry.
type StreamRow struct {
	Index int    `json:"index"`
	Type  uint32 `json:"type"`
	Name  string `json:"name"`
	Size  uint32 `json:"size"`
	RVA   uint32 `json:"rva"`
	Known bool   `json:"known"`
}

var dumpTypeFlags = []struct {
	bit  uint64
	name string
}{
	{0x1, "MiniDumpWithDataSegs"}, {0x2, "MiniDumpWithFullMemory"}, {0x4, "MiniDumpWithHandleData"},
	{0x8, "MiniDumpFilterMemory"}, {0x10, "MiniDumpScanMemory"}, {0x20, "MiniDumpWithUnloadedModules"},
	{0x40, "MiniDumpWithIndirectlyReferencedMemory"}, {0x80, "MiniDumpFilterModulePaths"},
	{0x100, "MiniDumpWithProcessThreadData"}, {0x200, "MiniDumpWithPrivateReadWriteMemory"},
	{0x400, "MiniDumpWithoutOptionalData"}, {0x800, "MiniDumpWithFullMemoryInfo"},
	{0x1000, "MiniDumpWithThreadInfo"}, {0x2000, "MiniDumpWithCodeSegs"},
	{0x4000, "MiniDumpWithoutAuxiliaryState"}, {0x8000, "MiniDumpWithFullAuxiliaryState"},
	{0x10000, "MiniDumpWithPrivateWriteCopyMemory"}, {0x20000, "MiniDumpIgnoreInaccessibleMemory"},
	{0x40000, "MiniDumpWithTokenInformation"}, {0x80000, "MiniDumpWithModuleHeaders"},
	{0x100000, "MiniDumpFilterTriage"}, {0x200000, "MiniDumpWithAvxXStateContext"},
	{0x400000, "MiniDumpWithIptTrace"}, {0x800000, "MiniDumpScanInaccessiblePartialPages"},
}

func dumpDebug(f *dump.File) *DumpDebug {
	d := &DumpDebug{Path: f.Path, Size: f.Size, Version: f.Header.Version, Flags: f.Header.Flags,
		Time: f.Header.Time().Format("Mon Jan _2 15:04:05 2006 UTC"), Comments: f.Comments,
		Ranges: len(f.MemoryRanges()), Captured: f.CapturedBytes(), Streams: []StreamRow{}}
	for _, fl := range dumpTypeFlags {
		if f.Header.Flags&fl.bit != 0 {
			d.FlagNames = append(d.FlagNames, fl.name)
			d.flagValues = append(d.flagValues, fl.bit)
		}
	}
	for _, e := range f.Directory {
		name := e.Type.String()
		d.Streams = append(d.Streams, StreamRow{Index: e.Index, Type: uint32(e.Type), Name: name, Size: e.Location.Size, RVA: e.Location.RVA,
			Known: !strings.HasPrefix(name, "Stream0x")})
	}
	for _, w := range f.Warnings {
		d.Warnings = append(d.Warnings, w.Error())
	}
	return d
}

func (d *DumpDebug) WriteText(w io.Writer) {
	fmt.Fprintf(w, "----- User Mini Dump Analysis\n\n")
	fmt.Fprintf(w, "MINIDUMP_HEADER:\n")
	fmt.Fprintf(w, "Version         %04X (%04X)\n", d.Version&0xffff, d.Version>>16)
	fmt.Fprintf(w, "NumberOfStreams %d\n", len(d.Streams))
	fmt.Fprintf(w, "Flags           %X\n", d.Flags)
	for i, n := range d.FlagNames {
		fmt.Fprintf(w, "                %04X %s\n", d.flagValues[i], n)
	}
	fmt.Fprintf(w, "TimeDateStamp   %s\n", d.Time)
	fmt.Fprintf(w, "File size       %d bytes; %d memory ranges hold %d bytes\n", d.Size, d.Ranges, d.Captured)
	fmt.Fprintf(w, "\nStreams:\n")
	for _, s := range d.Streams {
		num := fmt.Sprintf("%d", s.Type)
		if s.Type >= 0x10000 {
			num = fmt.Sprintf("0x%x", s.Type)
		}
		fmt.Fprintf(w, "Stream %d: type %s (%s), size %08X, RVA %08X\n", s.Index, s.Name, num, s.Size, s.RVA)
	}
	for _, c := range d.Comments {
		fmt.Fprintf(w, "\nComment: '%s'\n", c)
	}
	if len(d.Warnings) > 0 {
		fmt.Fprintf(w, "\nWarnings:\n")
		for _, m := range d.Warnings {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
}
