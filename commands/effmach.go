package commands

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"wdb/dump"
	"wdb/heap"
)

// .effmach (effective machine): a WOW64 dump is read as the 64-bit process
// by default; ".effmach x86" switches to its 32-bit view (prompt
// "0:000:x86>", !heap lists the 32-bit heaps) and ".effmach ." or
// ".effmach amd64" goes back.

func init() {
	Register(&Command{
		Name:    ".effmach",
		Usage:   ".effmach [. | # | x86 | amd64]",
		Summary: "display or change the effective machine (the 32-bit view of a WOW64 dump)",
		Help: `.effmach          show the effective machine
.effmach x86      view a WOW64 process as the 32-bit process: the prompt
                  becomes 0:000:x86> and !heap lists the 32-bit heaps
.effmach .        back to the target's native machine (also #, amd64, x64)`,
		Complete: func(*Session, string) []string { return []string{".", "#", "x86", "amd64"} },
		Run:      runEffmach,
	})
}

// sessionExt is the per-session state of the machine view and the heap
// commands: the effective machine, the opened heap sets and the !heap -i
// context. It is reset when the session's target changes.
type sessionExt struct {
	mu      sync.Mutex
	target  *dump.File
	x86     bool                  // .effmach x86 on a WOW64 dump
	heaps   map[int]*heap.Process // by bitness
	heapErr map[int]error         // why heap.Open failed, by bitness
	heapCtx map[int]uint64        // !heap -i HEAP, by bitness
	regions []dump.Region         // !address regions with heap usage from the heap backend
}

// ext returns the session's extension state, made on first use and reset
// when the session's target changes.
func (s *Session) ext() *sessionExt {
	if s.extState == nil {
		s.extState = &sessionExt{}
	}
	e := s.extState
	e.mu.Lock()
	if e.target != s.Target {
		e.target, e.x86, e.heaps, e.heapErr, e.heapCtx, e.regions = s.Target, false, nil, nil, nil, nil
	}
	e.mu.Unlock()
	return e
}

// x86View reports whether .effmach x86 is in effect on a WOW64 dump.
func (s *Session) x86View() bool {
	if s.Target == nil || !s.Target.IsWow64() {
		return false
	}
	e := s.ext()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.x86
}

// effMachPrompt is what the prompt shows between the thread number and
// '>': ":x86" in the 32-bit view of a WOW64 dump, else nothing. Prompt
// uses it: fmt.Sprintf("0:%03d%s> ", s.Thread, s.effMachPrompt()).
func (s *Session) effMachPrompt() string {
	if s.x86View() {
		return ":x86"
	}
	return ""
}

// effBits is the bitness of the effective machine: 32 in the x86 view of
// a WOW64 dump, else the dump's own.
func (s *Session) effBits() int {
	if s.x86View() {
		return 32
	}
	return s.PointerSize() * 8
}

// machineLine is .effmach's report for an architecture.
func machineLine(a dump.Arch) string {
	switch a {
	case dump.ArchX86:
		return "Effective machine: x86 compatible (x86)"
	case dump.ArchAMD64:
		return "Effective machine: x64 (AMD64)"
	case dump.ArchARM64:
		return "Effective machine: ARM 64-bit (AArch64) (arm64)" // UNCONFIRMED wording
	case dump.ArchARM:
		return "Effective machine: ARM (arm)" // UNCONFIRMED wording
	}
	return "Effective machine: unknown"
}

// EffmachResult is the effective machine after .effmach.
type EffmachResult struct {
	Machine string `json:"machine"` // x86, x64, arm64, ...
	Native  string `json:"native"`
	line    string
}

// WriteText prints WinDbg's "Effective machine: ..." line.
func (r *EffmachResult) WriteText(w io.Writer) {
	fmt.Fprintln(w, r.line)
}

func runEffmach(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	native := s.Target.Arch()
	wow := s.Target.IsWow64()
	e := s.ext()
	switch arg := strings.ToLower(strings.TrimSpace(inv.Args)); arg {
	case "":
	case ".", "#":
		e.mu.Lock()
		e.x86 = false
		e.mu.Unlock()
	case "x86", "i386":
		if native != dump.ArchX86 {
			if !wow {
				return nil, errors.New("The target is not a WOW64 process: it has no x86 view (.effmach x86 needs a 32-bit process on x64 Windows)")
			}
			e.mu.Lock()
			e.x86 = true
			e.mu.Unlock()
		}
	case "amd64", "x64":
		if native != dump.ArchAMD64 {
			return nil, fmt.Errorf("The target is a %s process: it has no x64 view", native)
		}
		e.mu.Lock()
		e.x86 = false
		e.mu.Unlock()
	default:
		return nil, fmt.Errorf("Unknown machine type '%s' (.effmach . | # | x86 | amd64)", inv.Args)
	}
	cur := native
	if s.x86View() {
		cur = dump.ArchX86
	}
	return effmachResult(cur, native), nil
}

func effmachResult(cur, native dump.Arch) *EffmachResult {
	return &EffmachResult{Machine: cur.String(), Native: native.String(), line: machineLine(cur)}
}
