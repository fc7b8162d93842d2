package commands

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"sort"
	"strings"

	"wdb/commands/scan"
	"wdb/dump"
	"wdb/heap"
)

// !heap over the heap package (windbg-commands.md §9, nt-heap.md §5): the
// heap list, -s, -stat, -flt, -x, -srch, -i, -p -a and the -a/-h detail.
// Every form reads the heap set of the effective machine (.effmach x86
// gives the 32-bit heaps of a WOW64 dump). Problems the walk meets are
// printed as lines where they occur; long walks stop on Ctrl-C.

func init() {
	Register(&Command{
		Name:    "!heap",
		Usage:   "!heap [-s | -stat | -flt | -x | -srch | -i | -p -a | -a | -h | -hl] ...",
		Summary: "display the NT heaps and segment heaps of the process",
		Help: `!heap                       list the heaps: address, NT or segment heap
!heap 0 | HEAP              heap index, address and segments (0: every heap)
!heap -s [-h HEAP | HEAP]   summary: flags, reserved/committed/free KB, free list, UCRs, LFH
!heap -a|-h|-hl|-f|-m [HEAP]
                            heap detail (HEAP 0 or omitted: every heap): header fields,
                            segments (-m), free list (-f), entries (-h; -hl adds LFH
                            chunks; -a = -h -f -m)
!heap -v HEAP               walk the heap and report the problems found (0: every heap)
!heap -stat [-h HEAP] [-grp A|B|S [MAX]]
                            busy blocks by user size: size, count, total, percent
!heap -flt s SIZE           blocks whose user size is SIZE
!heap -flt r MIN MAX        blocks whose user size is MIN..MAX-1
!heap -x [-v] ADDR          the block that holds ADDR (-v: pointers to it in memory)
!heap -srch [-b|-w|-d|-q|-a|-u] PATTERN
                            busy blocks whose user data holds PATTERN (default: one
                            pointer-sized value); also -search
!heap -i HEAP | ENTRY       set the heap context | decode one block header
!heap -p [-a ADDR]          page heap status | the block that holds ADDR
Segment heaps are listed with their type; their blocks are not walked and the
commands say so. After .effmach x86 the 32-bit heaps of a WOW64 process are used.`,
		Complete: func(*Session, string) []string {
			return []string{"-s", "-stat", "-flt", "-x", "-srch", "-search", "-i", "-p", "-a", "-h", "-hl", "-f", "-m", "-v"}
		},
		Run: runHeap,
	})
}

// errHeapInterrupted ends a walk stopped by Ctrl-C; the output before it
// is kept.
var errHeapInterrupted = errors.New("User interrupted operation: !heap stopped, the output above is partial")

// heapSet returns the heap set of the given bitness, opened once per
// session.
func (s *Session) heapSet(bits int) (*heap.Process, error) {
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.heaps[bits]; ok {
		return p, e.heapErr[bits]
	}
	p, err := heap.Open(s.Target, bits)
	if e.heaps == nil {
		e.heaps, e.heapErr = map[int]*heap.Process{}, map[int]error{}
	}
	e.heaps[bits], e.heapErr[bits] = p, err
	return p, err
}

// heapProcess is the heap set of the effective machine. A Process that
// is returned with an error holds what could be read.
func (s *Session) heapProcess() (*heap.Process, error) {
	p, err := s.heapSet(s.effBits())
	if p == nil {
		if err == nil {
			err = errors.New("no heaps")
		}
		return nil, err
	}
	return p, nil
}

// hp prints a pointer as !heap does: 8 or 16 hex digits, no backtick.
func hp(ps int, v uint64) string {
	if ps == 4 {
		return fmt.Sprintf("%08x", uint32(v))
	}
	return fmt.Sprintf("%016x", v)
}

func ptrSizeOf(p *heap.Process) int { return p.Bits / 8 }

// HeapProblem is something a heap walk could not read or trust.
type HeapProblem struct {
	Kind    string `json:"kind"`
	Heap    uint64 `json:"heap"`
	Segment uint64 `json:"segment,omitempty"`
	Address uint64 `json:"address"`
	Skipped uint64 `json:"skipped,omitempty"`
	What    string `json:"what"`
}

func toProblem(p heap.Problem) HeapProblem {
	return HeapProblem{Kind: p.Kind.String(), Heap: p.Heap, Segment: p.Segment, Address: p.Addr, Skipped: p.Skipped, What: p.What}
}

// line is the problem as one output line (without indentation).
func (p HeapProblem) line(ps int) string {
	s := fmt.Sprintf("Problem in heap %x: %s at %s: %s", p.Heap, p.Kind, hp(ps, p.Address), p.What)
	if p.Skipped > 0 {
		s += fmt.Sprintf(" (0x%x bytes not walked)", p.Skipped)
	}
	return s
}

func writeProblems(w io.Writer, ps int, indent string, probs []HeapProblem) {
	for _, p := range probs {
		fmt.Fprintf(w, "%s%s\n", indent, p.line(ps))
	}
}

// HeapBlockRow is one heap block as the !heap forms report it.
type HeapBlockRow struct {
	Entry      uint64 `json:"entry"`
	User       uint64 `json:"user"`
	Heap       uint64 `json:"heap"`
	Segment    uint64 `json:"segment"` // segment base; LFH: subsegment; virtual: the VA entry
	Size       uint64 `json:"size"`    // bytes
	Granules   uint64 `json:"granules"`
	PrevSize   uint64 `json:"prev_size"` // granules
	PrevBytes  uint64 `json:"prev_bytes"`
	Unused     uint64 `json:"unused"`
	UserSize   uint64 `json:"user_size"`
	Flags      uint8  `json:"flags"`
	State      string `json:"state"` // busy, free, internal
	Kind       string `json:"kind"`  // back end, LFH, virtual
	UserBlocks uint64 `json:"user_blocks,omitempty"`
	Last       bool   `json:"last,omitempty"` // ends a committed run
	Header     bool   `json:"segment_header,omitempty"`
}

func blockRow(b heap.Block) HeapBlockRow {
	return HeapBlockRow{Entry: b.Entry, User: b.User, Heap: b.Heap, Segment: b.Segment, Size: b.Size, Granules: b.Granules,
		PrevSize: b.PrevSize, PrevBytes: b.PrevBytes(), Unused: b.Unused, UserSize: b.UserSize, Flags: b.Flags,
		State: b.State.String(), Kind: b.Kind.String(), UserBlocks: b.UserBlocks, Header: b.Attr&heap.AttrSegmentHeader != 0}
}

// fltState is the state column of -flt, -srch and -p -a.
func (r *HeapBlockRow) fltState() string {
	switch {
	case r.Kind == heap.Virtual.String() || r.Kind == heap.SegLarge.String():
		return "busy VirtualAlloc"
	case r.State == "internal":
		return "busy internal"
	}
	return r.State
}

// isUserBlock reports whether a block is an allocation the program made:
// busy, and neither heap metadata (Internal: LFH UserBlocks, BlocksIndex)
// nor a segment's own header. -stat counts these and -srch searches them.
func isUserBlock(b *heap.Block) bool {
	return b.State == heap.Busy && b.Attr&heap.AttrSegmentHeader == 0
}

// runEnds is where committed runs end in a heap: UCR starts and segment
// ends. A block ending there is the run's last (WinDbg's "last", 0x10).
type runEnds map[uint64]bool

func heapRunEnds(h *heap.Heap) runEnds {
	m := runEnds{}
	for i := range h.Segments {
		sg := &h.Segments[i]
		for _, u := range sg.UCRs {
			m[u.Addr] = true
		}
		end := sg.LastValidEntry
		if sg.NumberOfPages != 0 && end > sg.End() {
			end = sg.End()
		}
		m[end] = true
	}
	return m
}

func (m runEnds) mark(r *HeapBlockRow) {
	if r.Kind == heap.BackEnd.String() && (r.Flags&heap.FlagLastEntry != 0 || m[r.Entry+r.Size]) {
		r.Last = true
	}
}

func runHeap(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	args := splitHeapArgs(inv.Args)
	if len(args) > 0 && (args[0].text == "-?" || args[0].text == "/?") {
		c, _ := Lookup("!heap")
		return helpResult{c}, nil
	}
	p, err := s.heapProcess()
	if err != nil {
		return nil, fmt.Errorf("!heap: %v", err)
	}
	if len(p.Heaps) == 0 {
		if msg := notNTHeap(s, p); msg != "" {
			return Lines(msg), nil
		}
	}
	if len(args) == 0 {
		return heapList(p), nil
	}
	for _, a := range args {
		if a.text == "-x" {
			return heapFind(s, p, args)
		}
	}
	switch args[0].text {
	case "-s":
		return heapSummary(s, p, args[1:])
	case "-stat":
		return heapStat(s, p, args[1:])
	case "-flt":
		return heapFilter(s, p, args[1:])
	case "-srch", "-search":
		return heapSearch(s, p, inv.Args, args[1:])
	case "-i":
		return heapInfo(s, p, args[1:])
	case "-p":
		return heapPage(s, p, args[1:])
	case "-l", "-b", "-B", "-triage":
		return nil, fmt.Errorf("!heap %s is not supported on dumps by wdb", args[0].text)
	}
	return heapDetail(s, p, args)
}

// notNTHeap explains a process whose PEB.ProcessHeaps lists nothing though
// PEB.ProcessHeap is set: the heap is not an NT heap (Wine's own heap, whose
// header carries a "HEAP" magic), so there is nothing !heap can walk.
func notNTHeap(s *Session, p *heap.Process) string {
	l := &dump.Layout64
	if p.Bits == 32 {
		l = &dump.Layout32
	}
	h, err := s.Target.ReadPointer(p.PEB+uint64(l.PEBProcessHeap), l)
	if err != nil || h == 0 {
		return ""
	}
	why := "PEB.ProcessHeaps lists no heap and its _HEAP signature (0xeeffeeff) is missing"
	if hl := heap.LayoutFor(p.Family, p.Bits); hl != nil {
		if sig, err := s.Target.ReadUint(h+uint64(hl.HeapSignature), 4); err == nil && sig == 0xeeffeeff {
			return ""
		}
	}
	for off := uint64(0); off < 0x200; off += 4 {
		if v, err := s.Target.ReadUint(h+off, 4); err == nil && v == 0x50414548 { // "HEAP"
			why += fmt.Sprintf("; its header carries the \"HEAP\" magic of Wine's heap at +0x%x (a dump written by Wine)", off)
			break
		}
	}
	return fmt.Sprintf("Heap %x (PEB.ProcessHeap) is not an NT heap: %s.\nwdb walks NT heaps and segment heaps only; use s, dq/dd and !address on this process's memory instead.", h, why)
}

// heapArg is one argument and where its text starts in the argument string.
type heapArg struct {
	text string
	pos  int
}

// splitHeapArgs splits at blanks outside quotes and parentheses.
func splitHeapArgs(text string) []heapArg {
	var out []heapArg
	pos := 0
	for _, tok := range patternTokens(text) {
		i := strings.Index(text[pos:], tok)
		if i < 0 {
			i = 0
		}
		out = append(out, heapArg{tok, pos + i})
		pos += i + len(tok)
	}
	return out
}

// selectHeaps resolves a heap argument: 0 means every heap; otherwise a
// handle, or an index as !heap 0 prints it.
func selectHeaps(s *Session, p *heap.Process, text string) ([]*heap.Heap, error) {
	v, err := s.Eval(text)
	if err != nil {
		return nil, err
	}
	if v == 0 {
		return p.Heaps, nil
	}
	if h := p.Heap(v); h != nil {
		return []*heap.Heap{h}, nil
	}
	if v <= uint64(len(p.Heaps)) {
		return []*heap.Heap{p.Heaps[v-1]}, nil
	}
	return nil, fmt.Errorf("Heap %x is not one of the %d-bit heaps of the process (!heap lists them)", v, p.Bits)
}

// ---- !heap (list) ----

// HeapListRow is one entry of PEB.ProcessHeaps.
type HeapListRow struct {
	Address uint64 `json:"address"`
	Index   int    `json:"index"`
	Kind    string `json:"kind"` // NT Heap, Segment Heap, Unknown Heap
	Flags   uint32 `json:"flags,omitempty"`
}

// HeapListResult is the result of !heap without arguments.
type HeapListResult struct {
	ps       int
	Bits     int           `json:"bits"`
	Heaps    []HeapListRow `json:"heaps"`
	Problems []HeapProblem `json:"problems,omitempty"`
}

func heapList(p *heap.Process) *HeapListResult {
	r := &HeapListResult{ps: ptrSizeOf(p), Bits: p.Bits, Heaps: []HeapListRow{}}
	for _, pr := range p.Problems {
		r.Problems = append(r.Problems, toProblem(pr))
	}
	for _, h := range p.Heaps {
		r.Heaps = append(r.Heaps, HeapListRow{Address: h.Address, Index: h.Index, Kind: h.Kind.String(), Flags: h.Flags})
		for _, pr := range h.Problems {
			r.Problems = append(r.Problems, toProblem(pr))
		}
	}
	return r
}

// WriteText prints the modern table: handle and type right-aligned.
func (r *HeapListResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%20s%21s\n\n", "Heap Address", "NT/Segment Heap")
	for _, h := range r.Heaps {
		fmt.Fprintf(w, "%20x%21s\n", h.Address, h.Kind)
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(w)
		writeProblems(w, r.ps, "", r.Problems)
	}
}

// ---- !heap -s ----

// HeapSummaryRow is one row of !heap -s.
type HeapSummaryRow struct {
	Heap           uint64 `json:"heap"`
	Flags          uint32 `json:"flags"`
	ReservedKB     uint64 `json:"reserved_kb"`
	CommittedKB    uint64 `json:"committed_kb"`
	VirtKB         uint64 `json:"virt_kb"`
	FreeKB         uint64 `json:"free_kb"`
	ListLength     int    `json:"free_list_length"`
	UCRs           uint64 `json:"ucrs"`
	VirtualBlocks  int    `json:"virtual_blocks"`
	LockCollisions uint32 `json:"lock_contention"`
	LFH            bool   `json:"lfh"`
}

// HeapSummaryResult is the result of !heap -s.
type HeapSummaryResult struct {
	ps           int
	NtGlobalFlag uint32           `json:"nt_global_flag"`
	Aids         []string         `json:"debugging_aids,omitempty"`
	LFHKey       *uint32          `json:"lfh_key_low32,omitempty"` // the low 32 bits of RtlpLFHKey
	Termination  string           `json:"termination_on_corruption,omitempty"`
	Rows         []HeapSummaryRow `json:"heaps"`
	SegmentHeaps []SegHeapSummary `json:"segment_heaps,omitempty"`
	Problems     []HeapProblem    `json:"problems,omitempty"`
}

// SegHeapSummary is one row of the segment heap section of !heap -s: what
// the _SEGMENT_HEAP header and a walk of its blocks give. Sizes in KB.
type SegHeapSummary struct {
	Heap         uint64 `json:"heap"`
	GlobalFlags  uint32 `json:"global_flags"`
	ReservedKB   uint64 `json:"reserved_kb"`  // page segments + LargeReservedPages
	CommittedKB  uint64 `json:"committed_kb"` // page ranges in use + LargeCommittedPages
	FreeKB       uint64 `json:"free_kb"`      // free page ranges, VS chunks and LFH blocks
	BusyKB       uint64 `json:"busy_kb"`      // user sizes of busy blocks
	BusyBlocks   int    `json:"busy_blocks"`
	PageSegments int    `json:"page_segments"`
	LargeBlocks  int    `json:"large_blocks"`
	LargeKB      uint64 `json:"large_kb"` // LargeCommittedPages
}

// segHeapSummary walks a segment heap for its -s row.
func segHeapSummary(s *Session, h *heap.Heap, probs *[]HeapProblem) (SegHeapSummary, error) {
	row := SegHeapSummary{Heap: h.Address}
	var reserved, committed, free, busy uint64
	if sg := h.Seg; sg != nil {
		row.GlobalFlags = sg.GlobalFlags
		row.PageSegments = len(sg.Segments)
		for _, ps := range sg.Segments {
			reserved += ps.Size
		}
		reserved += sg.LargeReservedPages * 0x1000
		committed += sg.LargeCommittedPages * 0x1000
		row.LargeKB = sg.LargeCommittedPages * 0x1000 / 1024
	}
	err := h.Walk(s.Ctx, heap.Visitor{
		Block: func(b heap.Block) bool {
			switch {
			case b.Kind == heap.SegBackEnd && b.State != heap.Free:
				committed += b.Size
			case b.Kind == heap.SegLarge:
				row.LargeBlocks++
			}
			if b.State == heap.Free {
				free += b.Size
			} else if isUserBlock(&b) {
				busy += b.UserSize
				row.BusyBlocks++
			}
			return true
		},
		Problem: func(pr heap.Problem) bool { *probs = append(*probs, toProblem(pr)); return true },
	})
	row.ReservedKB, row.CommittedKB, row.FreeKB, row.BusyKB = reserved/1024, committed/1024, free/1024, busy/1024
	if err != nil {
		return row, errHeapInterrupted
	}
	return row, nil
}

// heapAids are the NtGlobalFlag bits -s lists (nt-heap.md §5.1).
var heapAids = []struct {
	bit  uint32
	name string
}{{0x10, "tail checking"}, {0x20, "free checking"}, {0x40, "validate parameters"}, {0x80, "validate on call"},
	{0x800, "heap tagging"}, {0x1000, "stack back traces"}, {0x200000, "disable coalescing of free blocks"}}

func heapSummary(s *Session, p *heap.Process, args []heapArg) (Result, error) {
	heaps := p.Heaps
	for i := 0; i < len(args); i++ {
		switch a := args[i].text; {
		case a == "-h" && i+1 < len(args):
			hs, err := selectHeaps(s, p, args[i+1].text)
			if err != nil {
				return nil, err
			}
			heaps = hs
			i++
		case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "/"):
			return nil, fmt.Errorf("!heap -s %s is not supported by wdb (summary options -v -b -d -a -c need live heaps or are not implemented)", a)
		default:
			hs, err := selectHeaps(s, p, a)
			if err != nil {
				return nil, err
			}
			heaps = hs
		}
	}
	r := &HeapSummaryResult{ps: ptrSizeOf(p), NtGlobalFlag: p.NtGlobalFlag}
	for _, a := range heapAids {
		if p.NtGlobalFlag&a.bit != 0 {
			r.Aids = append(r.Aids, a.name)
		}
	}
	if key, ok := p.LFHKey(); ok {
		r.LFHKey = &key
	}
	if p.Bits == 64 {
		// Always on for 64-bit processes (UNCONFIRMED); for 32-bit ones it
		// comes from an ntdll global that is not read without symbols.
		r.Termination = "ENABLED"
	}
	for _, pr := range p.Problems {
		r.Problems = append(r.Problems, toProblem(pr))
	}
	for _, h := range heaps {
		for _, pr := range h.Problems {
			r.Problems = append(r.Problems, toProblem(pr))
		}
		if h.Kind == heap.SegmentHeap {
			row, err := segHeapSummary(s, h, &r.Problems)
			r.SegmentHeaps = append(r.SegmentHeaps, row)
			if err != nil {
				return r, err
			}
			continue
		}
		if h.Kind != heap.NTHeap {
			continue
		}
		fl, probs := h.FreeList()
		for _, pr := range probs {
			r.Problems = append(r.Problems, toProblem(pr))
		}
		ucrs := uint64(h.Counters.TotalUCRs)
		if ucrs == 0 {
			ucrs = uint64(h.UCRCount())
		}
		r.Rows = append(r.Rows, HeapSummaryRow{
			Heap: h.Address, Flags: h.Flags,
			ReservedKB: h.Counters.TotalMemoryReserved / 1024, CommittedKB: h.Counters.TotalMemoryCommitted / 1024,
			VirtKB: h.ReservedBytes() / 1024, FreeKB: h.TotalFreeSize * h.Granularity() / 1024,
			ListLength: len(fl), UCRs: ucrs, VirtualBlocks: len(h.VirtualBlocks),
			LockCollisions: h.Counters.LockCollisions, LFH: h.HasLFH(),
		})
	}
	return r, nil
}

// WriteText prints the modern -s layout (nt-heap.md §5.1).
func (r *HeapSummaryResult) WriteText(w io.Writer) {
	stars := strings.Repeat("*", 120)
	fmt.Fprintf(w, "\n\n%s\n%46s%s\n%s\n", stars, "", "NT HEAP STATS BELOW", stars)
	if len(r.Aids) > 0 {
		fmt.Fprintln(w, "NtGlobalFlag enables following debugging aids for new heaps:")
		for _, a := range r.Aids {
			fmt.Fprintf(w, "    %s\n", a)
		}
	}
	if r.LFHKey != nil {
		if r.ps == 8 {
			// Only the low half of the 64-bit key can be recovered from
			// LFH data (nt-heap.md §3.7).
			fmt.Fprintf(w, "LFH Key                   : 0x????????%08x\n", *r.LFHKey)
		} else {
			fmt.Fprintf(w, "LFH Key                   : 0x%08x\n", *r.LFHKey)
		}
	}
	if r.Termination != "" {
		fmt.Fprintf(w, "Termination on corruption : %s\n", r.Termination)
	}
	pad, dashes := "", 77
	if r.ps == 8 {
		pad, dashes = "        ", 85
	}
	fmt.Fprintf(w, "%s  Heap     Flags   Reserv  Commit  Virt   Free  List   UCR  Virt  Lock  Fast \n", pad)
	fmt.Fprintf(w, "%s                    (k)     (k)    (k)     (k) length      blocks cont. heap \n", pad)
	dash := strings.Repeat("-", dashes)
	fmt.Fprintln(w, dash)
	for _, h := range r.Rows {
		fast := ""
		if h.LFH {
			fast = "LFH"
		}
		fmt.Fprintf(w, "%s %08x %7d %6d %6d %6d %5d %5d %4d %6x %5s\n", hp(r.ps, h.Heap), h.Flags, h.ReservedKB, h.CommittedKB,
			h.VirtKB, h.FreeKB, h.ListLength, h.UCRs, h.VirtualBlocks, h.LockCollisions, fast)
	}
	fmt.Fprintln(w, dash)
	if len(r.SegmentHeaps) > 0 {
		// WinDbg prints segment heaps in a section of their own after the
		// NT heaps; its exact columns are UNCONFIRMED (nt-heap.md §4.2,
		// windbg-commands.md §9.3), so these name what wdb reads and walks.
		fmt.Fprintf(w, "\n\n%s\n%44s%s\n%s\n", stars, "", "SEGMENT HEAP STATS BELOW", stars)
		fmt.Fprintf(w, "%s  Heap     Global  Reserv  Commit   Free   Busy   Busy  Page  Large  Large\n", pad)
		fmt.Fprintf(w, "%s           Flags     (k)     (k)    (k)    (k) blocks  segs blocks    (k)\n", pad)
		fmt.Fprintln(w, dash)
		for _, h := range r.SegmentHeaps {
			fmt.Fprintf(w, "%s %08x %7d %6d %6d %6d %6d %5d %6d %6d\n", hp(r.ps, h.Heap), h.GlobalFlags, h.ReservedKB, h.CommittedKB,
				h.FreeKB, h.BusyKB, h.BusyBlocks, h.PageSegments, h.LargeBlocks, h.LargeKB)
		}
		fmt.Fprintln(w, dash)
	}
	writeProblems(w, r.ps, "", r.Problems)
}

// ---- !heap -stat ----

// HeapStatRow is one group of busy blocks.
type HeapStatRow struct {
	Size    uint64  `json:"size"`
	Count   uint64  `json:"count"`
	Total   uint64  `json:"total"`
	Percent float64 `json:"percent"`
}

// HeapStat is the statistics of one heap.
type HeapStat struct {
	Heap      uint64        `json:"heap"`
	Kind      string        `json:"kind"`
	BusyBytes uint64        `json:"busy_bytes"`
	Groups    int           `json:"groups"`
	Rows      []HeapStatRow `json:"rows"`
	Problems  []HeapProblem `json:"problems,omitempty"`
}

// HeapStatResult is the result of !heap -stat.
type HeapStatResult struct {
	ps         int
	GroupBy    string     `json:"group_by"`
	MaxDisplay int        `json:"max_display"`
	Heaps      []HeapStat `json:"heaps"`
}

// statGroups maps -grp letters to WinDbg's group names (only TOTSIZE is
// confirmed by a sample).
var statGroups = map[string]string{"S": "TOTSIZE", "B": "BLOCKCOUNT", "A": "ALLOCATIONSIZE"}

func heapStat(s *Session, p *heap.Process, args []heapArg) (Result, error) {
	heaps := p.Heaps
	r := &HeapStatResult{ps: ptrSizeOf(p), GroupBy: "TOTSIZE", MaxDisplay: 20}
	for i := 0; i < len(args); i++ {
		switch a := args[i].text; a {
		case "-h":
			if i+1 >= len(args) {
				return nil, errors.New("!heap -stat -h needs a heap handle")
			}
			hs, err := selectHeaps(s, p, args[i+1].text)
			if err != nil {
				return nil, err
			}
			heaps = hs
			i++
		case "-grp":
			if i+1 >= len(args) {
				return nil, errors.New("!heap -stat -grp needs A, B or S")
			}
			g, ok := statGroups[strings.ToUpper(args[i+1].text)]
			if !ok {
				return nil, fmt.Errorf("!heap -stat -grp %s: group by A (allocation size), B (block count) or S (total size)", args[i+1].text)
			}
			r.GroupBy = g
			i++
			if i+1 < len(args) && !strings.HasPrefix(args[i+1].text, "-") {
				n, err := s.Eval(args[i+1].text)
				if err != nil {
					return nil, err
				}
				r.MaxDisplay = int(min(n, 1<<30))
				i++
			}
		default:
			return nil, fmt.Errorf("!heap -stat: unexpected '%s' (!heap -stat [-h HEAP] [-grp A|B|S [MAX]])", a)
		}
	}
	for _, h := range heaps {
		st, err := statHeap(s, h, r.GroupBy, r.MaxDisplay)
		r.Heaps = append(r.Heaps, st)
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// statGroup counts the busy blocks of one user size.
type statGroup struct{ count uint64 }

func statHeap(s *Session, h *heap.Heap, groupBy string, maxRows int) (HeapStat, error) {
	st := HeapStat{Heap: h.Address, Kind: h.Kind.String()}
	groups := map[uint64]*statGroup{}
	// The last group is kept aside: runs of equal sizes (LFH chunks)
	// then cost no map lookup.
	var lastSize uint64
	var last *statGroup
	err := h.Walk(s.Ctx, heap.Visitor{
		Block: func(b heap.Block) bool {
			if !isUserBlock(&b) {
				return true
			}
			if last == nil || b.UserSize != lastSize {
				g, ok := groups[b.UserSize]
				if !ok {
					g = &statGroup{}
					groups[b.UserSize] = g
				}
				last, lastSize = g, b.UserSize
			}
			last.count++
			st.BusyBytes += b.UserSize
			return true
		},
		Problem: func(p heap.Problem) bool { st.Problems = append(st.Problems, toProblem(p)); return true },
	})
	rows := make([]HeapStatRow, 0, len(groups))
	for size, g := range groups {
		row := HeapStatRow{Size: size, Count: g.count, Total: size * g.count}
		if st.BusyBytes > 0 {
			row.Percent = 100 * float64(row.Total) / float64(st.BusyBytes)
		}
		rows = append(rows, row)
	}
	key := func(r *HeapStatRow) uint64 {
		switch groupBy {
		case "BLOCKCOUNT":
			return r.Count
		case "ALLOCATIONSIZE":
			return r.Size
		}
		return r.Total
	}
	sort.Slice(rows, func(i, j int) bool {
		if ki, kj := key(&rows[i]), key(&rows[j]); ki != kj {
			return ki > kj
		}
		return rows[i].Size > rows[j].Size
	})
	st.Groups = len(rows)
	if maxRows >= 0 && len(rows) > maxRows {
		rows = rows[:maxRows]
	}
	st.Rows = rows
	if err != nil {
		return st, errHeapInterrupted
	}
	return st, nil
}

// WriteText prints one section per heap (nt-heap.md §5.4).
func (r *HeapStatResult) WriteText(w io.Writer) {
	for _, h := range r.Heaps {
		fmt.Fprintf(w, " heap @ %s\n", hp(r.ps, h.Heap))
		if h.Kind != heap.NTHeap.String() && h.Kind != heap.SegmentHeap.String() {
			writeProblems(w, r.ps, "    ", h.Problems)
			continue
		}
		fmt.Fprintf(w, "group-by: %s max-display: %d\n", r.GroupBy, r.MaxDisplay)
		fmt.Fprintln(w, "    size     #blocks     total     ( %) (percent of total busy bytes)")
		for _, row := range h.Rows {
			fmt.Fprintf(w, "    %x %x - %x  (%.2f)\n", row.Size, row.Count, row.Total, row.Percent)
		}
		writeProblems(w, r.ps, "    ", h.Problems)
	}
}

// ---- !heap -flt ----

// HeapBlockSet is the blocks of one heap a filter or search selected.
type HeapBlockSet struct {
	Heap     uint64         `json:"heap"`
	Kind     string         `json:"kind"`
	Blocks   []HeapBlockRow `json:"blocks"`
	Problems []HeapProblem  `json:"problems,omitempty"`
}

// HeapFilterResult is the result of !heap -flt: blocks whose user size is
// in [Min, Max).
type HeapFilterResult struct {
	ps    int
	Min   uint64         `json:"min"`
	Max   uint64         `json:"max"` // exclusive
	Heaps []HeapBlockSet `json:"heaps"`
}

func heapFilter(s *Session, p *heap.Process, args []heapArg) (Result, error) {
	usage := errors.New("!heap -flt s SIZE | -flt r MIN MAX")
	if len(args) < 2 {
		return nil, usage
	}
	r := &HeapFilterResult{ps: ptrSizeOf(p)}
	lo, err := s.Eval(args[1].text)
	if err != nil {
		return nil, err
	}
	switch args[0].text {
	case "s":
		if len(args) != 2 {
			return nil, usage
		}
		r.Min, r.Max = lo, lo+1
	case "r":
		if len(args) != 3 {
			return nil, usage
		}
		hi, err := s.Eval(args[2].text)
		if err != nil {
			return nil, err
		}
		r.Min, r.Max = lo, hi
	default:
		return nil, usage
	}
	for _, h := range p.Heaps {
		set := HeapBlockSet{Heap: h.Address, Kind: h.Kind.String(), Blocks: []HeapBlockRow{}}
		ends := heapRunEnds(h)
		err := h.Walk(s.Ctx, heap.Visitor{
			Block: func(b heap.Block) bool {
				if b.UserSize >= r.Min && b.UserSize < r.Max && !fltHidden(&b) {
					row := blockRow(b)
					ends.mark(&row)
					set.Blocks = append(set.Blocks, row)
				}
				return true
			},
			Problem: func(pr heap.Problem) bool { set.Problems = append(set.Problems, toProblem(pr)); return true },
		})
		r.Heaps = append(r.Heaps, set)
		if err != nil {
			return r, errHeapInterrupted
		}
	}
	return r, nil
}

// fltHidden reports the segment heap blocks -flt leaves out: the heap's
// own page ranges (segment headers, VS and LFH subsegments, internal VS
// chunks) and free page ranges, whose "user size" is a span of pages, not
// an allocation. NT heap blocks are all listed.
func fltHidden(b *heap.Block) bool {
	switch b.Kind {
	case heap.SegBackEnd:
		return b.State != heap.Busy
	case heap.SegVS, heap.SegLFH, heap.SegLarge:
		return b.State == heap.Internal
	}
	return false
}

// fltHeader is the column header of -flt and -p -a.
func fltHeader(ps int) string {
	if ps == 8 {
		return "              HEAP_ENTRY Size Prev Flags            UserPtr UserSize - state"
	}
	return "      HEAP_ENTRY Size Prev Flags    UserPtr UserSize - state"
}

// fltFlags is the [xx] column: modern engines print 00 for ordinary busy,
// free and VirtualAlloc blocks alike; wdb shows the settable user flags
// (0x20-0x80), which is 00 for them too (UNCONFIRMED what WinDbg reads).
func fltFlags(f uint8) uint8 { return f & (heap.FlagUser1 | heap.FlagUser2 | heap.FlagUser3) }

func fltRow(ps int, b *HeapBlockRow) string {
	return fmt.Sprintf("        %s %04x %04x  [%02x]   %s    %05x - (%s)", hp(ps, b.Entry), b.Granules, b.PrevSize&0xffff,
		fltFlags(b.Flags), hp(ps, b.User), b.UserSize, b.fltState())
}

func heapSectionName(kind string) string {
	if kind == heap.SegmentHeap.String() {
		return "_SEGMENT_HEAP"
	}
	return "_HEAP"
}

// WriteText prints each heap, and the column header before its first
// block (nt-heap.md §5.3).
func (r *HeapFilterResult) WriteText(w io.Writer) {
	for _, h := range r.Heaps {
		fmt.Fprintf(w, "    %s @ %x\n", heapSectionName(h.Kind), h.Heap)
		if len(h.Blocks) > 0 {
			fmt.Fprintln(w, fltHeader(r.ps))
		}
		for i := range h.Blocks {
			fmt.Fprintln(w, fltRow(r.ps, &h.Blocks[i]))
		}
		writeProblems(w, r.ps, "        ", h.Problems)
	}
}

// ---- !heap -x ----

// HeapFindResult is the result of !heap -x.
type HeapFindResult struct {
	ps      int
	Address uint64       `json:"address"`
	Block   HeapBlockRow `json:"block"`
	// Verbose (-v): where memory holds a pointer into the block.
	Verbose bool          `json:"verbose,omitempty"`
	Refs    []HeapPointer `json:"references,omitempty"`
}

// HeapPointer is a pointer found in memory: at Address, holding Value.
type HeapPointer struct {
	Address uint64 `json:"address"`
	Value   uint64 `json:"value"`
}

// heapFindMaxRefs bounds the pointers -v lists.
const heapFindMaxRefs = 10000

func heapFind(s *Session, p *heap.Process, args []heapArg) (Result, error) {
	verbose := false
	var addrText string
	for _, a := range args {
		switch a.text {
		case "-x":
		case "-v":
			verbose = true
		default:
			if addrText != "" {
				return nil, fmt.Errorf("!heap -x: unexpected '%s' (!heap -x [-v] ADDRESS)", a.text)
			}
			addrText = a.text
		}
	}
	if addrText == "" {
		return nil, errors.New("!heap -x needs an address (!heap -x [-v] ADDRESS)")
	}
	addr, err := s.Eval(addrText)
	if err != nil {
		return nil, err
	}
	b, h, ok := p.Find(addr)
	if !ok {
		return nil, s.notInHeaps(p, addr)
	}
	row := blockRow(b)
	heapRunEnds(h).mark(&row)
	r := &HeapFindResult{ps: ptrSizeOf(p), Address: addr, Block: row, Verbose: verbose}
	if verbose {
		lo, hi := b.Entry, b.End()-1
		if b.Kind == heap.Virtual {
			lo = b.Segment
		}
		if err := s.pointersInto(ptrSizeOf(p), lo, hi, func(at, v uint64) bool {
			r.Refs = append(r.Refs, HeapPointer{at, v})
			return len(r.Refs) < heapFindMaxRefs
		}); err != nil {
			return r, err
		}
	}
	return r, nil
}

// notInHeaps is the error for an address no heap of the view holds; in a
// WOW64 dump it names the heap of the other view that holds it.
func (s *Session) notInHeaps(p *heap.Process, addr uint64) error {
	msg := fmt.Sprintf("No heap block of the %d-bit heaps contains %s", p.Bits, hp(ptrSizeOf(p), addr))
	if s.Target.IsWow64() {
		other := 96 - p.Bits
		if q, _ := s.heapSet(other); q != nil {
			if _, h, ok := q.Find(addr); ok {
				view := ".effmach x86"
				if other == 64 {
					view = ".effmach amd64"
				}
				msg += fmt.Sprintf("; it is in the %d-bit heap %x (%s to see it)", other, h.Address, view)
			}
		}
	}
	return errors.New(msg)
}

// pointersInto scans the captured memory for aligned pointer-sized values
// in [lo, hi] (!heap -x -v), in address order.
func (s *Session) pointersInto(ps int, lo, hi uint64, hit func(at, v uint64) bool) error {
	for base, data := range s.Target.Chunks(0, ^uint64(0)) {
		start := (uint64(ps) - base%uint64(ps)) % uint64(ps)
		for off := start; off+uint64(ps) <= uint64(len(data)); off += uint64(ps) {
			var v uint64
			if ps == 4 {
				v = uint64(binary.LittleEndian.Uint32(data[off:]))
			} else {
				v = binary.LittleEndian.Uint64(data[off:])
			}
			if v >= lo && v <= hi && !hit(base+off, v) {
				return nil
			}
		}
		if s.Cancelled() {
			return errHeapInterrupted
		}
	}
	return nil
}

// findHeader is the -x column header and dash line.
func findHeader(ps int) (string, string) {
	if ps == 8 {
		return "Entry             User              Heap              Segment               Size  PrevSize  Unused    Flags", strings.Repeat("-", 109)
	}
	return "Entry     User      Heap      Segment       Size  PrevSize  Unused    Flags", strings.Repeat("-", 77)
}

// findFlags is the -x flag words, each followed by a space; "internal"
// gets a second space before it, as the sample shows.
func findFlags(b *HeapBlockRow) string {
	if b.Kind == heap.LFH.String() || b.Kind == heap.SegLFH.String() {
		return "LFH;" + b.State + " "
	}
	var sb strings.Builder
	if b.State == "free" {
		sb.WriteString("free ")
	} else {
		sb.WriteString("busy ")
	}
	if b.Flags&heap.FlagExtraPresent != 0 {
		sb.WriteString("extra ")
	}
	if b.Flags&heap.FlagFillPattern != 0 {
		sb.WriteString("fill ")
	}
	if b.Kind == heap.Virtual.String() || b.Kind == heap.SegLarge.String() {
		sb.WriteString("virtual ")
	}
	if b.Last {
		sb.WriteString("last ")
	}
	if b.State == "internal" {
		sb.WriteString(" internal ")
	}
	return sb.String()
}

// WriteText prints the modern -x table (nt-heap.md §5.2).
func (r *HeapFindResult) WriteText(w io.Writer) {
	head, dash := findHeader(r.ps)
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, dash)
	b := &r.Block
	prev := fmt.Sprintf("%10x", b.PrevBytes)
	if b.Kind == heap.LFH.String() || b.Kind == heap.SegLFH.String() {
		prev = fmt.Sprintf("%10s", "-   ")
	}
	fmt.Fprintf(w, "%s  %s  %s  %s%10x%s%10x  %s\n", hp(r.ps, b.Entry), hp(r.ps, b.User), hp(r.ps, b.Heap), hp(r.ps, b.Segment),
		b.Size, prev, b.Unused, findFlags(b))
	if r.Verbose {
		lo := b.Entry
		if b.Kind == heap.Virtual.String() {
			lo = b.Segment
		}
		fmt.Fprintf(w, "\nSearch VM for address range %s - %s : ", hp(r.ps, lo), hp(r.ps, lo+b.Size-1))
		refs := make([]string, len(r.Refs))
		for i, p := range r.Refs {
			refs[i] = fmt.Sprintf("%s (%s),", hp(r.ps, p.Address), hp(r.ps, p.Value))
		}
		fmt.Fprintf(w, "%s\n\n", strings.Join(refs, " "))
	}
}

// ---- !heap -srch ----

// HeapSearchHit is a busy block whose user data holds the pattern.
type HeapSearchHit struct {
	Heap  uint64       `json:"heap"`
	At    uint64       `json:"at"` // the first match in the block
	Block HeapBlockRow `json:"block"`
}

// HeapSearchResult is the result of !heap -srch.
type HeapSearchResult struct {
	ps       int
	Pattern  string          `json:"pattern"` // hex bytes
	Hits     []HeapSearchHit `json:"hits"`
	Problems []HeapProblem   `json:"problems,omitempty"`
}

func heapSearch(s *Session, p *heap.Process, raw string, args []heapArg) (Result, error) {
	typ := "q"
	if p.Bits == 32 {
		typ = "d"
	}
	rest := ""
	if len(args) > 0 {
		rest = raw[args[0].pos:]
		if t, ok := map[string]string{"-b": "b", "-w": "w", "-d": "d", "-q": "q", "-a": "a", "-u": "u"}[args[0].text]; ok {
			typ = t
			rest = strings.TrimSpace(raw[args[0].pos+len(args[0].text):])
		}
	}
	if strings.TrimSpace(rest) == "" {
		return nil, errors.New("!heap -srch needs a pattern (!heap -srch [-b|-w|-d|-q] VALUE ...)")
	}
	pattern, err := parsePattern(s, typ, rest)
	if err != nil {
		return nil, err
	}
	align := 1
	if typ == "w" || typ == "d" || typ == "q" {
		align = searchUnit(typ)
	}
	r := &HeapSearchResult{ps: ptrSizeOf(p), Pattern: hex.EncodeToString(pattern), Hits: []HeapSearchHit{}}
	for _, h := range p.Heaps {
		if err := searchHeap(s, h, pattern, align, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// heapRanges yields the captured memory of a heap's committed runs and
// virtual blocks; for a segment heap, of its page segments and of the
// large blocks in large (base, end pairs).
func heapRanges(f *dump.File, h *heap.Heap, large [][2]uint64) iter.Seq2[uint64, []byte] {
	return func(yield func(uint64, []byte) bool) {
		emit := func(lo, hi uint64) bool {
			for a, b := range f.Chunks(lo, hi) {
				if !yield(a, b) {
					return false
				}
			}
			return true
		}
		for i := range h.Segments {
			sg := &h.Segments[i]
			end := sg.LastValidEntry
			if sg.NumberOfPages != 0 && end > sg.End() {
				end = sg.End()
			}
			at := sg.BaseAddress
			for _, u := range sg.UCRs {
				if u.Addr > at && !emit(at, min(u.Addr, end)) {
					return
				}
				at = max(at, u.End())
			}
			if at < end && !emit(at, end) {
				return
			}
		}
		for _, v := range h.VirtualBlocks {
			if !emit(v.Address, v.Address+v.CommitSize) {
				return
			}
		}
		if h.Seg != nil {
			for _, ps := range h.Seg.Segments {
				if !emit(ps.Address, ps.Address+ps.Size) {
					return
				}
			}
		}
		for _, l := range large {
			if !emit(l[0], l[1]) {
				return
			}
		}
	}
}

// searchHeap scans the heap's memory with the scan core, then walks the
// blocks once and keeps the busy ones whose user data holds a match.
func searchHeap(s *Session, h *heap.Heap, pattern []byte, align int, r *HeapSearchResult) error {
	var large [][2]uint64
	switch h.Kind {
	case heap.NTHeap:
	case heap.SegmentHeap:
		// The large blocks are regions of their own: a walk finds them
		// (problems are reported by the walk below).
		err := h.Walk(s.Ctx, heap.Visitor{NoLFH: true, Block: func(b heap.Block) bool {
			if b.Kind == heap.SegLarge {
				large = append(large, [2]uint64{b.Entry, b.End()})
			}
			return true
		}})
		if err != nil {
			return errHeapInterrupted
		}
	default:
		return h.Walk(s.Ctx, heap.Visitor{Problem: func(pr heap.Problem) bool { r.Problems = append(r.Problems, toProblem(pr)); return true }})
	}
	var hits []uint64
	sc := scan.Scanner{Pattern: pattern, Align: align, Check: func(uint64) bool { return !s.Cancelled() }}
	_, complete := sc.Scan(heapRanges(s.Target, h, large), func(a uint64) bool {
		hits = append(hits, a)
		return len(hits) < searchMaxHits
	})
	if !complete && s.Cancelled() {
		return errHeapInterrupted
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i] < hits[j] })
	n := uint64(len(pattern))
	err := h.Walk(s.Ctx, heap.Visitor{
		Block: func(b heap.Block) bool {
			if !isUserBlock(&b) || b.UserSize < n {
				return true
			}
			i := sort.Search(len(hits), func(i int) bool { return hits[i] >= b.User })
			if i < len(hits) && hits[i]+n <= b.User+b.UserSize {
				r.Hits = append(r.Hits, HeapSearchHit{Heap: h.Address, At: hits[i], Block: blockRow(b)})
			}
			return true
		},
		Problem: func(pr heap.Problem) bool { r.Problems = append(r.Problems, toProblem(pr)); return true },
	})
	if err != nil {
		return errHeapInterrupted
	}
	return nil
}

// WriteText prints each hit with its heap and column header, as the only
// (XP-era) sample does, in lower-case hex (nt-heap.md §5.5).
func (r *HeapSearchResult) WriteText(w io.Writer) {
	for _, h := range r.Hits {
		b := &h.Block
		fmt.Fprintf(w, "    _HEAP @ %s\n", hp(r.ps, h.Heap))
		fmt.Fprintln(w, "   in HEAP_ENTRY: Size : Prev Flags - UserPtr UserSize - state")
		fmt.Fprintf(w, "        %s: %04x : %04x [%02x] - %s (%08x) - (%s)\n", hp(r.ps, b.Entry), b.Granules, b.PrevSize&0xffff,
			b.Flags, hp(r.ps, b.User), b.UserSize, b.fltState())
	}
	writeProblems(w, r.ps, "    ", r.Problems)
}

// ---- !heap -i ----

// HeapInfoResult is the result of !heap -i: a context change or one
// decoded block header.
type HeapInfoResult struct {
	ps         int
	Context    bool     `json:"context_set,omitempty"` // !heap -i HEAP
	Heap       uint64   `json:"heap"`
	Entry      uint64   `json:"entry,omitempty"`
	Raw        []uint32 `json:"raw,omitempty"`     // the header's two dwords as stored
	Decoded    []uint32 `json:"decoded,omitempty"` // after the heap key, when encoded
	LFH        bool     `json:"lfh,omitempty"`
	Segment    uint64   `json:"segment,omitempty"`
	SegOffset  uint8    `json:"segment_offset,omitempty"`
	Flags      uint8    `json:"flags"`
	FlagWords  string   `json:"flag_words"`
	Units      uint64   `json:"units"`
	Gran       uint64   `json:"granularity"`
	Requested  uint64   `json:"requested"`
	Unused     uint64   `json:"unused"`
	PrevUnits  uint64   `json:"prev_units"`
	Checksum   uint8    `json:"checksum"`
	ChecksumOK bool     `json:"checksum_ok"`
	Subsegment uint64   `json:"subsegment,omitempty"`
	Inside     uint64   `json:"inside_block,omitempty"` // the entry of the block that holds the address, when it is not an entry
}

func heapInfo(s *Session, p *heap.Process, args []heapArg) (Result, error) {
	if len(args) == 0 {
		return nil, errors.New("!heap -i needs a heap handle or a block entry address")
	}
	addr, err := s.Eval(args[0].text)
	if err != nil {
		return nil, err
	}
	ps := ptrSizeOf(p)
	e := s.ext()
	if h := p.Heap(addr); h != nil && len(args) == 1 {
		e.mu.Lock()
		if e.heapCtx == nil {
			e.heapCtx = map[int]uint64{}
		}
		e.heapCtx[p.Bits] = addr
		e.mu.Unlock()
		return &HeapInfoResult{ps: ps, Context: true, Heap: addr}, nil
	}
	var h *heap.Heap
	if len(args) == 3 && args[1].text == "-h" {
		hs, err := selectHeaps(s, p, args[2].text)
		if err != nil {
			return nil, err
		}
		h = hs[0]
	} else if len(args) != 1 {
		return nil, errors.New("!heap -i ENTRY [-h HEAP]")
	}
	blk, bh, found := p.Find(addr)
	if h == nil {
		e.mu.Lock()
		ctx := e.heapCtx[p.Bits]
		e.mu.Unlock()
		h = p.Heap(ctx)
		if h == nil && found {
			h = bh
		}
		if h == nil && len(p.Heaps) > 0 {
			h = p.Heaps[0]
		}
	}
	if h == nil {
		return nil, errors.New("!heap -i: the process has no heaps")
	}
	if h.Kind != heap.NTHeap {
		return nil, fmt.Errorf("!heap -i: heap %x is a %s; wdb decodes NT heap block headers only", h.Address, h.Kind)
	}
	r := &HeapInfoResult{ps: ps, Heap: h.Address, Entry: addr, Gran: h.Granularity()}
	hdr := addr + uint64(h.Layout.Hdr)
	raw, err := s.ReadMemory(hdr, 8)
	if err != nil {
		return nil, fmt.Errorf("!heap -i: the header at %s is not in the dump", hp(ps, hdr))
	}
	r.Raw = []uint32{binary.LittleEndian.Uint32(raw[0:]), binary.LittleEndian.Uint32(raw[4:])}
	if found && blk.Kind == heap.LFH && blk.Entry == addr {
		r.LFH, r.Subsegment = true, blk.Segment
		r.Flags, r.Units = blk.Flags, blk.Granules
		r.Requested, r.Unused = blk.UserSize, blk.Unused
		if blk.State == heap.Free {
			r.Requested, r.Unused = 0, blk.Size
		}
		r.FlagWords = blk.State.String() + " "
		if blk.State != heap.Free {
			r.FlagWords = "busy "
		}
		r.ChecksumOK = true
		return r, nil
	}
	d, enc, ok := decodeEntry(raw, h)
	if enc {
		r.Decoded = []uint32{binary.LittleEndian.Uint32(d[0:]), binary.LittleEndian.Uint32(d[4:])}
	}
	r.Units = uint64(binary.LittleEndian.Uint16(d[0:]))
	r.Flags, r.Checksum, r.ChecksumOK = d[2], d[3], ok
	r.PrevUnits = uint64(binary.LittleEndian.Uint16(d[4:]))
	r.SegOffset = d[6]
	if sg := h.SegmentOf(addr); sg != nil {
		r.Segment = sg.BaseAddress
	}
	row := HeapBlockRow{Flags: r.Flags, State: "free", Kind: heap.BackEnd.String(), Entry: addr, Size: r.Units * r.Gran}
	if r.Flags&heap.FlagBusy != 0 {
		row.State = "busy"
	}
	heapRunEnds(h).mark(&row)
	r.FlagWords = findFlags(&row)
	switch {
	case found && blk.Entry == addr && blk.Kind == heap.BackEnd:
		r.Requested, r.Unused = blk.UserSize, blk.Unused
	case r.Flags&heap.FlagBusy != 0:
		r.Unused = min(uint64(d[7]&0x3f), r.Units*r.Gran)
		r.Requested = r.Units*r.Gran - r.Unused
	default:
		r.Unused = r.Units * r.Gran
	}
	if r.Flags&heap.FlagBusy == 0 {
		r.Requested, r.Unused = 0, r.Units*r.Gran
	}
	if found && blk.Entry != addr {
		r.Inside = blk.Entry
	}
	return r, nil
}

// decodeEntry decodes the 8 meaningful header bytes with the heap's key
// as ntdll does (nt-heap.md §2.5): XOR when EncodeFlagMask matches the
// stored first dword; if the checksum then fails, the other reading is
// tried. It returns the decoded bytes, whether they were XORed and whether
// SmallTagIndex checks.
func decodeEntry(raw []byte, h *heap.Heap) ([8]byte, bool, bool) {
	try := func(enc bool) ([8]byte, bool) {
		var d [8]byte
		copy(d[:], raw)
		if enc {
			for i := range d {
				d[i] ^= h.Encoding[i]
			}
		}
		return d, d[3] == d[0]^d[1]^d[2]
	}
	enc := h.EncodeFlagMask != 0 && binary.LittleEndian.Uint32(raw)&h.EncodeFlagMask != 0
	d, ok := try(enc)
	if !ok && h.EncodeFlagMask != 0 {
		if d2, ok2 := try(!enc); ok2 {
			return d2, !enc, true
		}
	}
	return d, enc, ok
}

// WriteText prints WinDbg's -i report (windbg-commands.md §9.8).
func (r *HeapInfoResult) WriteText(w io.Writer) {
	ps := r.ps
	if r.Context {
		fmt.Fprintf(w, "Heap context set to the heap 0x%s\n", hp(ps, r.Heap))
		return
	}
	fmt.Fprintf(w, "Detailed information for block entry %s\n", hp(ps, r.Entry))
	fmt.Fprintf(w, "Assumed heap       : 0x%s (Use !heap -i NewHeapHandle to change)\n", hp(ps, r.Heap))
	if r.LFH {
		fmt.Fprintf(w, "Header content     : 0x%08X 0x%08X\n", r.Raw[0], r.Raw[1])
		fmt.Fprintf(w, "Block flags        : 0x%x LFH (%s)\n", r.Flags, r.FlagWords)
		fmt.Fprintf(w, "Total block size   : 0x%x units (0x%x bytes)\n", r.Units, r.Units*r.Gran)
		fmt.Fprintf(w, "Requested size     : 0x%x bytes (unused 0x%x bytes)\n", r.Requested, r.Unused)
		fmt.Fprintf(w, "Subsegment         : 0x%s\n", hp(ps, r.Subsegment))
		return
	}
	if r.Decoded != nil {
		fmt.Fprintf(w, "Header content     : 0x%08X 0x%08X (decoded : 0x%08X 0x%08X)\n", r.Raw[0], r.Raw[1], r.Decoded[0], r.Decoded[1])
	} else {
		fmt.Fprintf(w, "Header content     : 0x%08X 0x%08X\n", r.Raw[0], r.Raw[1])
	}
	if r.Segment != 0 {
		fmt.Fprintf(w, "Owning segment     : 0x%s (offset %x)\n", hp(ps, r.Segment), r.SegOffset)
	}
	fmt.Fprintf(w, "Block flags        : 0x%x (%s)\n", r.Flags, r.FlagWords)
	fmt.Fprintf(w, "Total block size   : 0x%x units (0x%x bytes)\n", r.Units, r.Units*r.Gran)
	fmt.Fprintf(w, "Requested size     : 0x%x bytes (unused 0x%x bytes)\n", r.Requested, r.Unused)
	fmt.Fprintf(w, "Previous block size: 0x%x units (0x%x bytes)\n", r.PrevUnits, r.PrevUnits*r.Gran)
	if r.ChecksumOK {
		fmt.Fprintf(w, "Block CRC          : OK - 0x%x  \n", r.Checksum)
	} else {
		fmt.Fprintf(w, "Block CRC          : ERROR - 0x%x (should be 0x%x)\n", r.Checksum, byte(r.Units)^byte(r.Units>>8)^r.Flags)
	}
	fmt.Fprintf(w, "Previous block     : 0x%s\n", hp(ps, r.Entry-r.PrevUnits*r.Gran))
	fmt.Fprintf(w, "Next block         : 0x%s\n", hp(ps, r.Entry+r.Units*r.Gran))
	if r.Inside != 0 {
		fmt.Fprintf(w, "Note: %s is not a block entry; it lies in the block at %s (!heap -i %x)\n", hp(ps, r.Entry), hp(ps, r.Inside), r.Inside)
	}
}

// ---- !heap -p ----

// HeapPageResult is the result of !heap -p [-a ADDR].
type HeapPageResult struct {
	ps           int
	PageHeap     bool          `json:"page_heap"`
	NtGlobalFlag uint32        `json:"nt_global_flag"`
	Address      *uint64       `json:"address,omitempty"`
	Found        bool          `json:"found"`
	Block        *HeapBlockRow `json:"block,omitempty"`
}

func heapPage(s *Session, p *heap.Process, args []heapArg) (Result, error) {
	r := &HeapPageResult{ps: ptrSizeOf(p), PageHeap: p.PageHeap(), NtGlobalFlag: p.NtGlobalFlag}
	if len(args) == 0 {
		return r, nil
	}
	if args[0].text != "-a" || len(args) != 2 {
		return nil, fmt.Errorf("!heap -p %s is not supported by wdb (!heap -p [-a ADDRESS])", args[0].text)
	}
	addr, err := s.Eval(args[1].text)
	if err != nil {
		return nil, err
	}
	r.Address = &addr
	if b, h, ok := p.Find(addr); ok {
		row := blockRow(b)
		heapRunEnds(h).mark(&row)
		r.Found, r.Block = true, &row
	}
	return r, nil
}

// WriteText prints the page-heap state, then the block in the -flt
// layout (windbg-commands.md §9.7); allocation stacks are not available.
func (r *HeapPageResult) WriteText(w io.Writer) {
	if r.PageHeap {
		fmt.Fprintf(w, "    Page heap is enabled (NtGlobalFlag %08x has hpa): wdb does not read _DPH_HEAP_ROOT blocks\n", r.NtGlobalFlag)
	} else {
		fmt.Fprintf(w, "    Page heap is not enabled for this process (NtGlobalFlag %08x has no hpa)\n", r.NtGlobalFlag)
	}
	if r.Address == nil {
		return
	}
	if !r.Found {
		fmt.Fprintf(w, "    address %s not found in any heap\n", hp(r.ps, *r.Address))
		return
	}
	fmt.Fprintf(w, "    address %s found in\n", hp(r.ps, *r.Address))
	fmt.Fprintf(w, "    _HEAP @ %x\n", r.Block.Heap)
	fmt.Fprintln(w, fltHeader(r.ps))
	fmt.Fprintln(w, fltRow(r.ps, r.Block))
}

// ---- !heap [-a|-h|-hl|-f|-m|-v] HEAP ----

// HeapEntryRow is one line of a heap's entry list.
type HeapEntryRow struct {
	Type       string       `json:"type"` // block, uncommitted, lfh_region, lfh_chunk, problem
	Address    uint64       `json:"address"`
	PrevSize   uint64       `json:"prev_size,omitempty"` // bytes
	Size       uint64       `json:"size"`                // bytes
	Flags      uint8        `json:"flags,omitempty"`
	State      string       `json:"state,omitempty"`
	Requested  uint64       `json:"requested,omitempty"`
	Internal   bool         `json:"internal,omitempty"`
	TailFill   bool         `json:"tail_fill,omitempty"`
	Last       bool         `json:"last,omitempty"`
	Subsegment uint64       `json:"subsegment,omitempty"`
	Problem    *HeapProblem `json:"problem,omitempty"`
}

// HeapSegmentDetail is one segment of a heap detail.
type HeapSegmentDetail struct {
	Index           int            `json:"index"`
	Address         uint64         `json:"address"`
	Flags           uint32         `json:"flags"`
	Base            uint64         `json:"base"`
	End             uint64         `json:"end"`
	FirstEntry      uint64         `json:"first_entry"`
	LastEntry       uint64         `json:"last_entry"`
	TotalPages      uint64         `json:"total_pages"`
	UncommitPages   uint64         `json:"uncommitted_pages"`
	LargestUncommit uint64         `json:"largest_uncommitted"`
	UCRs            int            `json:"uncommitted_ranges"`
	Committed       uint64         `json:"committed"`
	Entries         []HeapEntryRow `json:"entries,omitempty"`
}

// HeapFreeEntry is an entry of the back end's free list.
type HeapFreeEntry struct {
	Entry    uint64 `json:"entry"`
	PrevSize uint64 `json:"prev_size"`
	Size     uint64 `json:"size"`
	Flags    uint8  `json:"flags"`
}

// HeapDetail is one heap of !heap -a/-h/-hl/-f/-m or !heap HEAP.
type HeapDetail struct {
	Address       uint64              `json:"address"`
	Index         int                 `json:"index"`
	Kind          string              `json:"kind"`
	Options       []string            `json:"debugging_options,omitempty"`
	Header        *heap.Heap          `json:"-"`
	Segments      []HeapSegmentDetail `json:"segments"`
	FreeLists     uint64              `json:"free_lists,omitempty"`
	FreeList      []HeapFreeEntry     `json:"free_list,omitempty"`
	VirtualBlocks []HeapBlockRow      `json:"virtual_blocks,omitempty"`
	Problems      []HeapProblem       `json:"problems,omitempty"`
	// PageSegments lists a segment heap's page segments.
	PageSegments []heap.PageSegment `json:"page_segments,omitempty"`
	// SegEntries are a segment heap's blocks in walk order (-a/-h/-hl):
	// page ranges ("block"), subsegments ("vs_region", "lfh_region") and
	// their chunks ("lfh_chunk"), large blocks ("large").
	SegEntries []HeapEntryRow `json:"segment_heap_entries,omitempty"`
}

// HeapDetailResult is the result of !heap with a heap argument.
type HeapDetailResult struct {
	ps       int
	fields   bool         // -h/-a/-f/-m: the header fields
	segInfo  bool         // -m/-a/-h: SegmentNN blocks
	entries  bool         // -h/-a/-hl: entry lists
	freeList bool         // -f/-a
	validate bool         // -v
	Heaps    []HeapDetail `json:"heaps"`
}

// heapOptionWords are the debugging options the Index line lists after a
// heap's address (UNCONFIRMED wording for the modern engine).
var heapOptionWords = []struct {
	bit  uint32
	name string
}{{0x20, "tail checking"}, {0x40, "free checking"}, {0x80, "disable coalescing of free blocks"},
	{0x08000000, "stack back traces"}, {0x20000000, "validate on call"}, {0x40000000, "validate parameters"}}

func heapDetail(s *Session, p *heap.Process, args []heapArg) (Result, error) {
	r := &HeapDetailResult{ps: ptrSizeOf(p)}
	lfh := false
	var heapText string
	for _, a := range args {
		switch a.text {
		case "-a":
			r.fields, r.segInfo, r.entries, r.freeList = true, true, true, true
		case "-h":
			r.fields, r.segInfo, r.entries = true, true, true
		case "-hl":
			r.fields, r.segInfo, r.entries, lfh = true, true, true, true
		case "-f":
			r.fields, r.freeList = true, true
		case "-m":
			r.fields, r.segInfo = true, true
		case "-v":
			r.validate = true
		case "-t", "-T", "-g", "-k", "-D", "-E", "-d", "-e":
			return nil, fmt.Errorf("!heap %s is not supported on dumps by wdb (tags, traces and validation breaks need a live process)", a.text)
		default:
			if strings.HasPrefix(a.text, "-") {
				return nil, fmt.Errorf("Unknown !heap option '%s' (see !heap /?)", a.text)
			}
			if heapText != "" {
				return nil, fmt.Errorf("!heap: unexpected '%s'", a.text)
			}
			heapText = a.text
		}
	}
	heaps := p.Heaps
	if heapText != "" {
		hs, err := selectHeaps(s, p, heapText)
		if err != nil {
			return nil, err
		}
		heaps = hs
	}
	for _, h := range heaps {
		d, err := detailHeap(s, h, r, lfh)
		r.Heaps = append(r.Heaps, d)
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

func detailHeap(s *Session, h *heap.Heap, r *HeapDetailResult, lfh bool) (HeapDetail, error) {
	d := HeapDetail{Address: h.Address, Index: h.Index, Kind: h.Kind.String(), Header: h}
	for _, o := range heapOptionWords {
		if h.Flags&o.bit != 0 {
			d.Options = append(d.Options, o.name)
		}
	}
	segIdx := map[uint64]int{}
	for i := range h.Segments {
		sg := &h.Segments[i]
		end := sg.LastValidEntry
		if sg.NumberOfPages != 0 && end > sg.End() {
			end = sg.End()
		}
		segIdx[sg.BaseAddress] = i
		d.Segments = append(d.Segments, HeapSegmentDetail{Index: i, Address: sg.Address, Flags: sg.Flags, Base: sg.BaseAddress,
			End: sg.End(), FirstEntry: sg.FirstEntry, LastEntry: end, TotalPages: sg.NumberOfPages, UncommitPages: sg.UncommittedPages,
			LargestUncommit: sg.LargestUCR(), UCRs: len(sg.UCRs), Committed: sg.Committed()})
	}
	if h.Seg != nil {
		d.PageSegments = h.Seg.Segments
	}
	if h.Kind == heap.SegmentHeap {
		return detailSegHeap(s, h, r, d)
	}
	if h.Kind != heap.NTHeap {
		// Unreadable heaps: the walk reports why.
		err := h.Walk(s.Ctx, heap.Visitor{Problem: func(pr heap.Problem) bool { d.Problems = append(d.Problems, toProblem(pr)); return true }})
		if err != nil {
			return d, errHeapInterrupted
		}
		return d, nil
	}
	if r.freeList {
		d.FreeLists = h.FreeLists
		fl, probs := h.FreeList()
		for _, pr := range probs {
			d.Problems = append(d.Problems, toProblem(pr))
		}
		for _, e := range fl {
			fe := HeapFreeEntry{Entry: e}
			if b, _, ok := h.Process().Find(e); ok && b.Entry == e {
				fe.PrevSize, fe.Size, fe.Flags = b.PrevBytes(), b.Size, b.Flags
			}
			d.FreeList = append(d.FreeList, fe)
		}
	}
	if !r.entries && !r.validate {
		return d, nil
	}
	ends := heapRunEnds(h)
	cur := -1
	tail := h.Flags&0x20 != 0
	add := func(e HeapEntryRow) {
		if cur >= 0 && r.entries {
			d.Segments[cur].Entries = append(d.Segments[cur].Entries, e)
		}
	}
	err := h.Walk(s.Ctx, heap.Visitor{
		NoLFH: !lfh && !r.validate,
		Block: func(b heap.Block) bool {
			switch b.Kind {
			case heap.BackEnd:
				if i, ok := segIdx[b.Segment]; ok {
					cur = i
				}
				row := blockRow(b)
				ends.mark(&row)
				e := HeapEntryRow{Type: "block", Address: b.Entry, PrevSize: b.PrevBytes(), Size: b.Size, Flags: b.Flags,
					State: b.State.String(), Requested: b.UserSize, Internal: b.State == heap.Internal, Last: row.Last,
					TailFill: tail && b.State != heap.Free && b.Flags&heap.FlagFillPattern != 0}
				add(e)
				if lfh && b.Attr&heap.AttrUserBlocks != 0 {
					add(HeapEntryRow{Type: "lfh_region", Address: b.User, Subsegment: 0})
				}
			case heap.LFH:
				if n := len(d.Segments); cur >= 0 && cur < n {
					es := d.Segments[cur].Entries
					if len(es) > 0 && es[len(es)-1].Type == "lfh_region" && es[len(es)-1].Subsegment == 0 {
						es[len(es)-1].Subsegment = b.Segment
					}
				}
				if lfh {
					add(HeapEntryRow{Type: "lfh_chunk", Address: b.Entry, Size: b.Size, State: b.State.String(), Requested: b.UserSize, Subsegment: b.Segment})
				}
			case heap.Virtual:
				row := blockRow(b)
				d.VirtualBlocks = append(d.VirtualBlocks, row)
			}
			return true
		},
		Uncommitted: func(sg *heap.Segment, u heap.Range) bool {
			cur = segIdx[sg.BaseAddress]
			add(HeapEntryRow{Type: "uncommitted", Address: u.Addr, Size: u.Size})
			return true
		},
		Problem: func(pr heap.Problem) bool {
			prob := toProblem(pr)
			if i, ok := segIdx[pr.Segment]; ok && r.entries {
				cur = i
				add(HeapEntryRow{Type: "problem", Address: pr.Addr, Problem: &prob})
				return true
			}
			if cur >= 0 && r.entries {
				add(HeapEntryRow{Type: "problem", Address: pr.Addr, Problem: &prob})
				return true
			}
			d.Problems = append(d.Problems, prob)
			return true
		},
	})
	if err != nil {
		return d, errHeapInterrupted
	}
	return d, nil
}

// detailSegHeap lists a segment heap's blocks: each page range, the
// chunks of VS and LFH subsegments after their subsegment, then the large
// blocks.
func detailSegHeap(s *Session, h *heap.Heap, r *HeapDetailResult, d HeapDetail) (HeapDetail, error) {
	// Without entries or validation the walk only reports its problems,
	// as for the other forms; it then skips LFH and large blocks.
	quick := !r.entries && !r.validate
	err := h.Walk(s.Ctx, heap.Visitor{
		NoLFH: quick, NoVirtual: quick,
		Block: func(b heap.Block) bool {
			if !r.entries {
				return true
			}
			switch b.Kind {
			case heap.SegBackEnd:
				if b.Attr&heap.AttrSubsegment != 0 {
					d.SegEntries = append(d.SegEntries, HeapEntryRow{Type: "subsegment", Address: b.Entry, Size: b.Size, Subsegment: b.Entry})
					return true
				}
				d.SegEntries = append(d.SegEntries, HeapEntryRow{Type: "block", Address: b.Entry, Size: b.Size, Flags: b.Flags,
					State: b.State.String(), Requested: b.UserSize, Internal: b.State == heap.Internal})
			case heap.SegVS, heap.SegLFH:
				if n := len(d.SegEntries); n > 0 && d.SegEntries[n-1].Type == "subsegment" {
					d.SegEntries[n-1].Type = map[heap.Kind]string{heap.SegVS: "vs_region", heap.SegLFH: "lfh_region"}[b.Kind]
				}
				d.SegEntries = append(d.SegEntries, HeapEntryRow{Type: "lfh_chunk", Address: b.Entry, Size: b.Size,
					State: b.State.String(), Requested: b.UserSize, Internal: b.State == heap.Internal, Subsegment: b.Segment})
			case heap.SegLarge:
				d.SegEntries = append(d.SegEntries, HeapEntryRow{Type: "large", Address: b.Entry, Size: b.Size, State: b.State.String(), Requested: b.UserSize})
			}
			return true
		},
		Problem: func(pr heap.Problem) bool {
			prob := toProblem(pr)
			if r.entries {
				d.SegEntries = append(d.SegEntries, HeapEntryRow{Type: "problem", Address: pr.Addr, Problem: &prob})
			}
			d.Problems = append(d.Problems, prob)
			return true
		},
	})
	if err != nil {
		return d, errHeapInterrupted
	}
	return d, nil
}

// heapIndexHandle is the address on the Index line: 8 digits on x86, as
// the x86 sample shows, unpadded on x64.
func heapIndexHandle(ps int, a uint64) string {
	if ps == 4 {
		return fmt.Sprintf("%08x", uint32(a))
	}
	return fmt.Sprintf("%x", a)
}

// WriteText prints the Index line, segments, header fields, free list and
// entries in WinDbg's layout (windbg-commands.md §9.9, nt-heap.md §5.6).
func (r *HeapDetailResult) WriteText(w io.Writer) {
	ps := r.ps
	p := func(v uint64) string { return hp(ps, v) }
	if r.validate && !r.entries && !r.fields {
		for _, d := range r.Heaps {
			n := len(d.Problems)
			for _, sg := range d.Segments {
				for _, e := range sg.Entries {
					if e.Problem != nil {
						n++
					}
				}
			}
			fmt.Fprintf(w, "Validating heap %s: problems found: %d\n", p(d.Address), n)
			writeProblems(w, ps, "    ", d.Problems)
		}
		return
	}
	fmt.Fprintln(w, "Index   Address  Name      Debugging options enabled")
	for _, d := range r.Heaps {
		fmt.Fprintf(w, "%3d:   %s %s\n", d.Index, heapIndexHandle(ps, d.Address), strings.Join(d.Options, " "))
		if d.Kind != heap.NTHeap.String() {
			fmt.Fprintf(w, "    %s at %s\n", d.Kind, p(d.Address))
			for _, sg := range d.PageSegments {
				fmt.Fprintf(w, "    Page segment at %s to %s (context %d)\n", p(sg.Address), p(sg.Address+sg.Size), sg.Context)
			}
			if r.entries {
				writeSegEntries(w, ps, &d)
				// Problems were listed among the entries.
				continue
			}
			writeProblems(w, ps, "    ", d.Problems)
			continue
		}
		for _, sg := range d.Segments {
			fmt.Fprintf(w, "    Segment at %s to %s (%08x bytes committed)\n", p(sg.Base), p(sg.End), sg.Committed)
		}
		if r.fields {
			h := d.Header
			fmt.Fprintf(w, "    Flags:                %08x\n", h.Flags)
			fmt.Fprintf(w, "    ForceFlags:           %08x\n", h.ForceFlags)
			fmt.Fprintf(w, "    Granularity:          %d bytes\n", h.Granularity())
			fmt.Fprintf(w, "    Segment Reserve:      %s\n", p(h.SegmentReserve))
			fmt.Fprintf(w, "    Segment Commit:       %s\n", p(h.SegmentCommit))
			fmt.Fprintf(w, "    DeCommit Block Thres: %s\n", p(h.DeCommitFreeBlockThreshold))
			fmt.Fprintf(w, "    DeCommit Total Thres: %s\n", p(h.DeCommitTotalFreeThreshold))
			fmt.Fprintf(w, "    Total Free Size:      %s\n", p(h.TotalFreeSize))
			fmt.Fprintf(w, "    Max. Allocation Size: %s\n", p(h.MaximumAllocationSize))
			fmt.Fprintf(w, "    Lock Variable at:     %s\n", p(h.LockVariable))
			fmt.Fprintf(w, "    Next TagIndex:        %04x\n", h.NextAvailableTagIndex)
			fmt.Fprintf(w, "    Maximum TagIndex:     %04x\n", h.MaximumTagIndex)
			fmt.Fprintf(w, "    Tag Entries:          %s\n", p(h.TagEntries))
			fmt.Fprintf(w, "    PsuedoTag Entries:    %s\n", p(h.PseudoTagEntries))
			fmt.Fprintf(w, "    Virtual Alloc List:   %s\n", p(h.VirtualAllocdBlocks))
			fmt.Fprintf(w, "    UCR FreeList:        %s\n", p(h.UCRList))
		}
		if r.freeList {
			first, last := d.FreeLists, d.FreeLists
			if n := len(d.FreeList); n > 0 {
				off := d.Header.Layout.FreeListEntry
				first, last = d.FreeList[0].Entry+uint64(off), d.FreeList[n-1].Entry+uint64(off)
			}
			fmt.Fprintf(w, "    FreeList[ 00 ] at %s: %s . %s  \n", p(d.FreeLists), p(first), p(last))
			for _, fe := range d.FreeList {
				fmt.Fprintf(w, "        %s: %05x . %05x [1%02x] - free\n", p(fe.Entry), fe.PrevSize, fe.Size, fe.Flags)
			}
		}
		for _, sg := range d.Segments {
			if r.segInfo {
				fmt.Fprintf(w, "    Segment%02d at %s:\n", sg.Index, p(sg.Address))
				fmt.Fprintf(w, "        Flags:           %08x\n", sg.Flags)
				fmt.Fprintf(w, "        Base:            %s\n", p(sg.Base))
				fmt.Fprintf(w, "        First Entry:     %s\n", p(sg.FirstEntry))
				fmt.Fprintf(w, "        Last Entry:      %s\n", p(sg.LastEntry))
				fmt.Fprintf(w, "        Total Pages:     %08x\n", sg.TotalPages)
				fmt.Fprintf(w, "        Total UnCommit:  %08x\n", sg.UncommitPages)
				fmt.Fprintf(w, "        Largest UnCommit:%08x\n", sg.LargestUncommit)
				fmt.Fprintf(w, "        UnCommitted Ranges: (%d)\n", sg.UCRs)
				fmt.Fprintln(w)
			}
			if !r.entries {
				continue
			}
			fmt.Fprintf(w, "    Heap entries for Segment%02d in Heap %s\n", sg.Index, p(d.Address))
			fmt.Fprintln(w, "         address: psize . size  flags   state (requested size)")
			for _, e := range sg.Entries {
				writeEntry(w, ps, &e)
			}
			fmt.Fprintln(w)
		}
		if r.entries {
			for _, v := range d.VirtualBlocks {
				fmt.Fprintf(w, "    Virtual block: %s - %s (size %08x)\n", p(v.Segment), p(v.Segment+v.Size), v.Size)
				fmt.Fprintf(w, "        %s: %05x . %05x [1%02x] - busy (%x)\n", p(v.Entry), v.PrevBytes, v.Size, v.Flags&^heap.FlagVirtualAlloc, v.UserSize)
			}
		}
		writeProblems(w, ps, "    ", d.Problems)
	}
}

// writeSegEntries prints a segment heap's blocks: page ranges as entries
// of their page segment, subsegment chunks indented under the subsegment,
// then the large blocks.
func writeSegEntries(w io.Writer, ps int, d *HeapDetail) {
	p := func(v uint64) string { return hp(ps, v) }
	segOf := func(a uint64) (heap.PageSegment, bool) {
		for _, sg := range d.PageSegments {
			if a >= sg.Address && a-sg.Address < sg.Size {
				return sg, true
			}
		}
		return heap.PageSegment{}, false
	}
	var cur uint64
	large := false
	for i := range d.SegEntries {
		e := &d.SegEntries[i]
		switch e.Type {
		case "block", "subsegment", "vs_region", "lfh_region":
			if sg, ok := segOf(e.Address); ok && (cur != sg.Address || large) {
				if cur != 0 {
					fmt.Fprintln(w)
				}
				cur, large = sg.Address, false
				fmt.Fprintf(w, "    Heap entries for Page segment at %s in Heap %s\n", p(sg.Address), p(d.Address))
				fmt.Fprintln(w, "         address:  size   state (requested size)")
			}
		case "large":
			if !large {
				if cur != 0 {
					fmt.Fprintln(w)
				}
				large = true
				fmt.Fprintf(w, "    Large blocks of Heap %s\n", p(d.Address))
			}
		}
		switch e.Type {
		case "block":
			switch {
			case e.State == "free":
				fmt.Fprintf(w, "        %s: %06x - free pages\n", p(e.Address), e.Size)
			case e.Internal:
				fmt.Fprintf(w, "        %s: %06x - busy Internal (segment header)\n", p(e.Address), e.Size)
			default:
				fmt.Fprintf(w, "        %s: %06x - busy (%x)\n", p(e.Address), e.Size, e.Requested)
			}
		case "subsegment", "vs_region", "lfh_region":
			what := map[string]string{"subsegment": "Subsegment", "vs_region": "VS subsegment", "lfh_region": "LFH subsegment"}[e.Type]
			fmt.Fprintf(w, "        %s: %06x - %s:\n", p(e.Address), e.Size, what)
		case "lfh_chunk":
			switch {
			case e.State == "free":
				fmt.Fprintf(w, "            %s: %05x - free\n", p(e.Address), e.Size)
			case e.Internal:
				fmt.Fprintf(w, "            %s: %05x - busy (%x) Internal\n", p(e.Address), e.Size, e.Requested)
			default:
				fmt.Fprintf(w, "            %s: %05x - busy (%x)\n", p(e.Address), e.Size, e.Requested)
			}
		case "large":
			fmt.Fprintf(w, "        %s: %06x - busy VirtualAlloc (%x)\n", p(e.Address), e.Size, e.Requested)
		case "problem":
			fmt.Fprintf(w, "        %s\n", e.Problem.line(ps))
		}
	}
	if cur != 0 || large {
		fmt.Fprintln(w)
	}
}

func writeEntry(w io.Writer, ps int, e *HeapEntryRow) {
	p := func(v uint64) string { return hp(ps, v) }
	switch e.Type {
	case "block":
		flags := e.Flags &^ heap.FlagVirtualAlloc
		if e.Last {
			flags |= heap.FlagLastEntry
		}
		if e.State == "free" {
			fmt.Fprintf(w, "        %s: %05x . %05x [1%02x]\n", p(e.Address), e.PrevSize, e.Size, flags)
			return
		}
		line := fmt.Sprintf("        %s: %05x . %05x [1%02x] - busy (%x)", p(e.Address), e.PrevSize, e.Size, flags, e.Requested)
		if e.TailFill {
			line += ", tail fill"
		}
		if e.Internal {
			line += " Internal "
		}
		fmt.Fprintln(w, line)
	case "uncommitted":
		fmt.Fprintf(w, "        %s:      %08x      - uncommitted bytes.\n", p(e.Address), e.Size)
	case "lfh_region":
		fmt.Fprintf(w, "        LFH data region at %s (subsegment %s):\n", p(e.Address), p(e.Subsegment))
	case "lfh_chunk":
		if e.State == "free" {
			fmt.Fprintf(w, "            %s: %05x - free\n", p(e.Address), e.Size)
		} else {
			fmt.Fprintf(w, "            %s: %05x - busy (%x)\n", p(e.Address), e.Size, e.Requested)
		}
	case "problem":
		fmt.Fprintf(w, "        %s\n", e.Problem.line(ps))
	}
}

// ---- !address heap usage ----

// addressRegions is the region list !address shows, with the Heap usage
// taken from the heap backend: the segments, virtual blocks ("Large
// block") and LFH front end of every NT heap (both heap sets of a WOW64
// process) and the handle and page segments of segment heaps. Regions the dump classified as something else
// keep their usage. The list is built once per session.
func addressRegions(s *Session) []dump.Region {
	e := s.ext()
	e.mu.Lock()
	if e.regions != nil {
		defer e.mu.Unlock()
		return e.regions
	}
	e.mu.Unlock()
	f := s.Target
	rs := append([]dump.Region(nil), f.Regions()...)
	find := func(a uint64) int {
		i := sort.Search(len(rs), func(i int) bool { return rs[i].End() > a })
		if i < len(rs) && rs[i].Base <= a {
			return i
		}
		return -1
	}
	wow := f.IsWow64()
	sets := []int{f.PointerSize() * 8}
	if wow {
		sets = append(sets, 32)
	}
	for _, bits := range sets {
		p, _ := s.heapSet(bits)
		if p == nil {
			continue
		}
		tag := 0
		if wow {
			tag = bits
		}
		for _, h := range p.Heaps {
			detail := func(typ string) string {
				return fmt.Sprintf("ID: %d; Handle: %0*x; Type: %s", h.Index-1, bits/4, h.Address, typ)
			}
			// mark sets the usage of the allocation holding a, as the dump
			// package does for heap segments.
			mark := func(a uint64, typ string) {
				i := find(a)
				if i < 0 || rs[i].State == dump.MemFree {
					return
				}
				set := func(r *dump.Region) {
					if r.Usage == dump.UsageUnknown || r.Usage == dump.UsageHeap {
						r.Usage, r.Bits, r.Heap, r.HeapID, r.Detail = dump.UsageHeap, tag, h.Address, h.Index-1, detail(typ)
					}
				}
				if rs[i].Derived {
					set(&rs[i])
					return
				}
				ab := rs[i].AllocationBase
				for j := i; j >= 0 && rs[j].AllocationBase == ab && rs[j].State != dump.MemFree; j-- {
					set(&rs[j])
				}
				for j := i + 1; j < len(rs) && rs[j].AllocationBase == ab && rs[j].State != dump.MemFree; j++ {
					set(&rs[j])
				}
			}
			switch h.Kind {
			case heap.NTHeap:
				for i := range h.Segments {
					mark(h.Segments[i].BaseAddress, "Segment")
				}
				for _, v := range h.VirtualBlocks {
					mark(v.Address, "Large block") // UNCONFIRMED wording
				}
				if h.HasLFH() {
					mark(h.FrontEndHeap, "Front End") // the _LFH_HEAP's own allocation (UNCONFIRMED)
				}
			case heap.SegmentHeap:
				mark(h.Address, "Segment")
				if h.Seg != nil {
					for _, ps := range h.Seg.Segments {
						mark(ps.Address, "Segment")
					}
				}
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.target == f {
		e.regions = rs
	}
	return rs
}

// regionAt returns the region of rs that holds addr.
func regionAt(rs []dump.Region, addr uint64) (*dump.Region, bool) {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].End() > addr })
	if i < len(rs) && rs[i].Base <= addr {
		return &rs[i], true
	}
	return nil, false
}

// heapMoreInfo is what !address ADDR adds for a heap region: the heap and
// block commands to run, with the block the heap backend finds.
func heapMoreInfo(r *dump.Region, addr uint64) []string {
	what := "heap segment"
	if strings.HasSuffix(r.Detail, "Type: Large block") {
		what = "heap large block"
	}
	return []string{fmt.Sprintf("heap owning the address: !heap -s -h 0x%x", r.Heap), what,
		fmt.Sprintf("heap entry containing the address: !heap -x 0x%x", addr)}
}
