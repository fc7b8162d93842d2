package commands

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"wdb/dump"
	"wdb/symbols"
)

// Thread and process status: ~ (list, ~Ns switch, ~N/~*/~. details, ~* cmd
// to run a command for each thread) and | / || (windbg-commands.md §13).

func init() {
	Register(&Command{
		Name:    "~",
		Usage:   "~[<thread>][s | <command>]",
		Summary: "list threads status, set the current thread, or run a command per thread",
		Help: "~            list the threads (. current, # the thread of the exception)\n" +
			"~* ~. ~# ~N  details of all / the current / the event / thread N (decimal)\n" +
			"~~[tid]      the thread with OS thread id tid (hex)\n" +
			"~Ns          make thread N current (prompt 0:00N>) and show its registers\n" +
			"~* k, ~*k    run a command for every thread, each after its thread line\n" +
			"~N r, ~N e <cmd>  run a command for thread N",
		Run: runThreads,
	})
	Register(&Command{
		Name:    "|",
		Usage:   "|[<process>][s]",
		Summary: "list processes status (|| describes the dump)",
		Run:     runProcess,
	})
}

// ThreadRow is one thread as ~ lists it.
type ThreadRow struct {
	Index         int    `json:"index"`
	PID           uint32 `json:"pid"`
	TID           uint32 `json:"tid"`
	Suspend       uint32 `json:"suspend"`
	TEB           uint64 `json:"teb"`
	Name          string `json:"name,omitempty"`
	Current       bool   `json:"current"`
	Event         bool   `json:"event"`
	Frozen        bool   `json:"frozen"`
	Start         uint64 `json:"start,omitempty"`
	StartSymbol   string `json:"startSymbol,omitempty"`
	Priority      uint32 `json:"priority"`
	PriorityClass uint32 `json:"priorityClass"`
	Affinity      uint64 `json:"affinity,omitempty"`

	ptrSize  int
	hasStart bool
	hasAff   bool
}

// line is the thread's status line:
// ".  0  Id: f78.374 Suspend: 0 Teb: 000007ff`fffdc000 Unfrozen "name"".
// When the current thread is also the event thread, "." wins (UNCONFIRMED;
// dumps whose event thread is 0 are shown with ".  0").
func (r *ThreadRow) line() string {
	mark := " "
	switch {
	case r.Current:
		mark = "."
	case r.Event:
		mark = "#"
	}
	frozen := "Unfrozen"
	if r.Frozen {
		frozen = "Frozen"
	}
	l := fmt.Sprintf("%s%3d  Id: %x.%x Suspend: %d Teb: %s %s", mark, r.Index, r.PID, r.TID, r.Suspend, FormatAddr(r.ptrSize, r.TEB), frozen)
	if r.Name != "" {
		l += fmt.Sprintf(" %q", r.Name)
	}
	return l
}

// details are the lines ~* and ~N add below the status line. Without a
// ThreadInfoList the start address is unknown and its line is left out, as
// is the affinity (both UNCONFIRMED: no sample of a dump lacking them).
func (r *ThreadRow) details() []string {
	var out []string
	if r.hasStart {
		if r.StartSymbol != "" {
			out = append(out, fmt.Sprintf("      Start: %s (%s)", r.StartSymbol, FormatAddr(r.ptrSize, r.Start)))
		} else {
			out = append(out, "      Start: "+FormatAddr(r.ptrSize, r.Start))
		}
	}
	p := fmt.Sprintf("      Priority: %d  Priority class: %d", int32(r.Priority), r.PriorityClass)
	if r.hasAff {
		p += fmt.Sprintf("  Affinity: %x", r.Affinity)
	}
	return append(out, p)
}

// ThreadList is the ~ result; Verbose adds the Start/Priority lines.
type ThreadList struct {
	Threads []ThreadRow `json:"threads"`
	Verbose bool        `json:"verbose"`
}

// WriteText prints one line per thread (three with details).
func (l *ThreadList) WriteText(w io.Writer) {
	for i := range l.Threads {
		fmt.Fprintln(w, l.Threads[i].line())
		if l.Verbose {
			for _, d := range l.Threads[i].details() {
				fmt.Fprintln(w, d)
			}
		}
	}
}

// threadHeader precedes each thread's output in "~* cmd": a blank line and
// the thread's status line (§11 "~* kcn" sample).
type threadHeader struct {
	Thread ThreadRow `json:"thread"`
}

func (h *threadHeader) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n", h.Thread.line())
}

// threadRow builds the row of thread i.
func threadRow(s *Session, i int) ThreadRow {
	f := s.Target
	t := &f.Threads[i]
	pid, _ := f.ProcessID()
	r := ThreadRow{Index: i, PID: pid, TID: t.ID, Suspend: t.SuspendCount, TEB: t.TEB, Name: t.Name,
		Current: i == s.Thread, Event: f.Exception != nil && f.Exception.ThreadID == t.ID,
		Priority: t.Priority, PriorityClass: t.PriorityClass, ptrSize: s.PointerSize()}
	if t.Info != nil {
		r.Start, r.hasStart = t.Info.StartAddress, true
		r.StartSymbol = symbols.Format(s.Symbols, t.Info.StartAddress)
		r.Affinity, r.hasAff = t.Info.Affinity, true
	}
	return r
}

// threadSpec is a parsed ~ prefix: which threads, and what follows.
type threadSpec struct {
	all     bool // ~* (or bare ~)
	threads []int
	rest    string // "s", "e cmd", a command, or ""
}

// parseThreadSpec reads the thread selector after '~': * . # N ~[tid].
// Thread numbers are decimal; ~[tid] takes an expression in the current
// radix (hex). An unknown thread is WinDbg's "Illegal thread error".
func parseThreadSpec(s *Session, inv *Invocation) (*threadSpec, error) {
	args := inv.Args
	n := len(s.Target.Threads)
	illegal := func() error {
		// Caret under the thread number, like other in-command errors (UNCONFIRMED column).
		col := len(s.Prompt()) + 1
		return fmt.Errorf("%s^ Illegal thread error in '%s'", strings.Repeat(" ", col), strings.ToLower(inv.Line))
	}
	sp := &threadSpec{}
	switch {
	case args == "" || args[0] == '*':
		sp.all = true
		for i := 0; i < n; i++ {
			sp.threads = append(sp.threads, i)
		}
		if args != "" {
			args = args[1:]
		}
	case args[0] == '.':
		if s.Thread < 0 || s.Thread >= n {
			return nil, illegal()
		}
		sp.threads, args = []int{s.Thread}, args[1:]
	case args[0] == '#':
		ev := -1
		if s.Target.Exception != nil {
			for i, t := range s.Target.Threads {
				if t.ID == s.Target.Exception.ThreadID {
					ev = i
					break
				}
			}
		}
		if ev < 0 {
			ev = s.Thread // no event thread recorded: the dump's current thread
		}
		sp.threads, args = []int{ev}, args[1:]
	case args[0] == '~':
		text := args[1:]
		var tid uint64
		var err error
		if strings.HasPrefix(text, "[") {
			end := strings.IndexByte(text, ']')
			if end < 0 {
				return nil, fmt.Errorf("Syntax error at '%s'", text)
			}
			tid, err = s.Eval(text[1:end])
			args = text[end+1:]
		} else {
			k := 0
			for k < len(text) && strings.IndexByte("0123456789abcdefABCDEF", text[k]) >= 0 {
				k++
			}
			tid, err = strconv.ParseUint(text[:k], 16, 32)
			args = text[k:]
		}
		if err != nil {
			return nil, err
		}
		found := -1
		for i, t := range s.Target.Threads {
			if uint64(t.ID) == tid {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, illegal()
		}
		sp.threads = []int{found}
	case args[0] >= '0' && args[0] <= '9':
		k := 0
		for k < len(args) && args[k] >= '0' && args[k] <= '9' {
			k++
		}
		idx, err := strconv.Atoi(args[:k])
		if err != nil || idx >= n {
			return nil, illegal()
		}
		sp.threads, args = []int{idx}, args[k:]
	default:
		return nil, fmt.Errorf("Syntax error at '%s'", inv.Args)
	}
	sp.rest = strings.TrimSpace(args)
	return sp, nil
}

func runThreads(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	if len(s.Target.Threads) == 0 {
		return nil, fmt.Errorf("The dump has no thread list")
	}
	sp, err := parseThreadSpec(s, inv)
	if err != nil {
		return nil, err
	}
	switch rest := sp.rest; {
	case rest == "":
		l := &ThreadList{Verbose: inv.Args != ""}
		for _, i := range sp.threads {
			l.Threads = append(l.Threads, threadRow(s, i))
		}
		return l, nil
	case strings.EqualFold(rest, "s"):
		if sp.all || len(sp.threads) != 1 {
			return nil, fmt.Errorf("Syntax error at '%s': ~s needs one thread", inv.Args)
		}
		s.Thread = sp.threads[0]
		s.ResetScope() // a new current thread ends any .ecxr/.frame scope
		// WinDbg shows where the new current thread is: its registers and
		// current instruction (modern engines may print only the
		// instruction lines; wdb prints the whole r block).
		ctx, err := registerContext(s)
		if err != nil {
			return nil, err
		}
		return registerDump(s, s.Thread, ctx), nil
	case len(rest) == 1 && strings.ContainsAny(strings.ToLower(rest), "fumn"):
		return nil, fmt.Errorf("~%s freezes, thaws, suspends or resumes a live thread; threads in a dump do not run", rest)
	default:
		cmd := rest
		if len(cmd) > 1 && (cmd[0] == 'e' || cmd[0] == 'E') && (cmd[1] == ' ' || cmd[1] == '\t') {
			cmd = strings.TrimSpace(cmd[1:]) // ~* e <cmd>: any command
		}
		saved := s.Thread
		defer func() { s.Thread = saved }()
		for _, i := range sp.threads {
			if s.Cancelled() {
				break
			}
			s.Thread = i
			if sp.all {
				row := threadRow(s, i)
				row.Current = i == saved
				s.render(inv, &threadHeader{Thread: row})
			}
			// Errors of the inner command are reported (and counted) by Execute.
			s.Execute(cmd)
		}
		return nil, nil
	}
}

// ProcessRow is the one process of a dump as | lists it.
type ProcessRow struct {
	Index   int    `json:"index"`
	PID     uint32 `json:"pid"`
	State   string `json:"state"` // "examine" for a dump
	Name    string `json:"name"`
	Current bool   `json:"current"`
}

// WriteText prints ".  0\tid: f78\texamine\tname: C:\path\app.exe" (tabs, §13.2).
func (p *ProcessRow) WriteText(w io.Writer) {
	fmt.Fprintf(w, ".%3d\tid: %x\t%s\tname: %s\n", p.Index, p.PID, p.State, p.Name)
}

// SystemRow is || : the dump being examined.
type SystemRow struct {
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	Path  string `json:"path"`
}

// WriteText prints ".  0 Full memory user mini dump: <path>".
func (r *SystemRow) WriteText(w io.Writer) {
	fmt.Fprintf(w, ".%3d %s: %s\n", r.Index, r.Kind, r.Path)
}

// DumpKind names the dump as || and version describe it: "Full memory user
// mini dump" for MiniDumpWithFullMemory (sampled), "User mini dump" for the
// others (UNCONFIRMED).
func DumpKind(f *dump.File) string {
	if f.FullMemory() {
		return "Full memory user mini dump"
	}
	return "User mini dump"
}

func runProcess(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	args := strings.TrimSpace(inv.Args)
	if strings.HasPrefix(args, "|") { // ||: system status
		switch strings.TrimSpace(args[1:]) {
		case "", ".", "#", "*", "0", "0s", ".s", "#s":
			return &SystemRow{Kind: DumpKind(s.Target), Path: s.Target.Path}, nil
		}
		return nil, fmt.Errorf("Illegal system error in '%s'", inv.Line)
	}
	switch strings.ToLower(args) {
	case "", ".", "#", "*", "0":
	case "0s", ".s", "#s":
		return nil, nil // the only process is already current
	default:
		col := len(s.Prompt()) + 1
		return nil, fmt.Errorf("%s^ Illegal process error in '%s'", strings.Repeat(" ", col), strings.ToLower(inv.Line))
	}
	pid, _ := s.Target.ProcessID()
	name := ""
	if len(s.Target.Modules) > 0 {
		name = s.Target.Modules[0].Name // the main executable comes first in the module list
	}
	return &ProcessRow{PID: pid, State: "examine", Name: name, Current: true}, nil
}
