package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"wdb/dump"
	"wdb/symbols"
)

// Session is the state a command sees: the target, the current thread, the
// symbol resolver, the radix and pseudo-registers, where output goes, and the
// context that Ctrl-C cancels.
type Session struct {
	Target  *dump.File
	Symbols *symbols.Table // the resolver: exports and PDBs of the dump's modules

	Thread     int // current thread index (the NNN of the 0:NNN> prompt)
	Radix      int // default number base for expressions: 16
	PseudoRegs [20]uint64
	JSON       bool // print one JSON object per command instead of WinDbg text

	// Interactive is true when a person types at a terminal; it enables
	// progress lines on long scans.
	Interactive bool
	// Ctx is cancelled by Ctrl-C while a command runs.
	Ctx context.Context

	// Quit is set by q/qq; the REPL stops reading.
	Quit bool
	// Failed counts commands that ended in an error (exit status of scripts).
	Failed int

	// Next is where an argument-less d* command continues (Enter repeats).
	Next Continuation

	stdout, stderr io.Writer
	log            *os.File
	logName        string
	last           *Invocation // last repeatable command, for Enter
	scriptDepth    int
	extState       *sessionExt    // .effmach and !heap state (effmach.go)
	stackState     *stackState    // .ecxr/.frame scope and .kframes (stack.go)
	hooks          *hookState     // .explain and the command nesting (explain.go)
	tutorial       *tutorialState // .tutorial progress (tutorial.go)
}

// Continuation remembers where the last display command stopped.
type Continuation struct {
	Command string // "db", "dd", "dps" …
	Addr    uint64
	Valid   bool
}

// NewSession opens a session on a target. stdout receives command output;
// stderr receives progress lines and warnings.
func NewSession(t *dump.File, stdout, stderr io.Writer) *Session {
	s := &Session{Target: t, Radix: 16, Ctx: context.Background(), stdout: stdout, stderr: stderr}
	if t != nil {
		s.Symbols = symbols.NewTable(t, symbols.Options{
			DefaultCache: defaultSymbolCache(),
			Context:      func() context.Context { return s.Ctx },
			Warn:         func(msg string) { fmt.Fprintln(s.stderr, msg) },
			Progress:     s.downloadProgress,
		})
		s.Thread = initialThread(t)
	}
	return s
}

// initialThread is the thread of the exception, else thread 0.
func initialThread(t *dump.File) int {
	if t.Exception != nil {
		for i, th := range t.Threads {
			if th.ID == t.Exception.ThreadID {
				return i
			}
		}
	}
	return 0
}

// Out is where command output goes: the terminal and the open log file.
func (s *Session) Out() io.Writer { return sessionWriter{s} }

// Stderr is for progress lines and warnings that are not command output.
func (s *Session) Stderr() io.Writer { return s.stderr }

type sessionWriter struct{ s *Session }

func (w sessionWriter) Write(p []byte) (int, error) {
	if w.s.log != nil {
		w.s.log.Write(p)
	}
	return w.s.stdout.Write(p)
}

// Printf writes formatted command output.
func (s *Session) Printf(format string, a ...any) { fmt.Fprintf(s.Out(), format, a...) }

// LogOnly writes to the log file alone (the REPL logs what the user typed).
func (s *Session) LogOnly(text string) {
	if s.log != nil {
		s.log.WriteString(text)
	}
}

// Prompt is WinDbg's prompt for the current thread: "0:000> ".
func (s *Session) Prompt() string {
	return fmt.Sprintf("0:%03d%s> ", s.Thread, s.effMachPrompt())
}

// Cancelled reports whether Ctrl-C was pressed during the current command.
func (s *Session) Cancelled() bool { return s.Ctx.Err() != nil }

// CurrentThread returns the current thread, if the dump has threads.
func (s *Session) CurrentThread() (*dump.Thread, bool) {
	if s.Target == nil || s.Thread < 0 || s.Thread >= len(s.Target.Threads) {
		return nil, false
	}
	return &s.Target.Threads[s.Thread], true
}

// Context returns the register context of the current thread, or of the
// scope that .ecxr or .frame N set for it.
func (s *Session) Context() *dump.Context {
	if c, ok := s.ScopeContext(); ok {
		return c
	}
	if t, ok := s.CurrentThread(); ok {
		return t.Context
	}
	return nil
}

// PointerSize is the target's pointer size in bytes.
func (s *Session) PointerSize() int {
	if s.Target == nil {
		return 8
	}
	if n := s.Target.PointerSize(); n != 0 {
		return n
	}
	return 8
}

// errNoTarget is returned by commands that need a dump when none is open.
var errNoTarget = errors.New("No target: open a dump first")

// Execute runs one input line: commands separated by ';', comments, script
// commands. An empty line repeats the last repeatable command, as WinDbg
// does for d* and u. It returns the first error, after running the rest.
func (s *Session) Execute(line string) error {
	if strings.TrimSpace(line) == "" {
		if s.last != nil {
			inv := *s.last
			inv.Args = ""
			return s.run(&inv, true)
		}
		return nil
	}
	var first error
	for _, cmd := range SplitCommands(line) {
		if s.Quit {
			break
		}
		name, args := splitName(cmd)
		inv := &Invocation{Name: strings.ToLower(name), Raw: name, Args: args, Line: cmd}
		if err := s.run(inv, false); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Session) run(inv *Invocation, repeat bool) error {
	if inv.Name == "" {
		return nil
	}
	c, ok := Lookup(inv.Name)
	if !ok {
		err := fmt.Errorf("Couldn't resolve error at '%s'", inv.Line)
		if strings.HasPrefix(inv.Name, "!") {
			err = fmt.Errorf("No export %s found", strings.TrimPrefix(inv.Name, "!"))
		}
		s.report(inv, err)
		return err
	}
	if strings.TrimSpace(inv.Args) == "/?" {
		s.render(inv, helpResult{c})
		return nil
	}
	if c.Repeatable {
		cp := *inv
		s.last = &cp
	} else if !repeat {
		s.last = nil
	}
	s.beforeCommand(inv)
	res, err := c.Run(s, inv)
	if res != nil {
		s.render(inv, res)
	}
	if err != nil {
		s.report(inv, err)
	}
	s.afterCommand(inv, res, err) // .explain notes and .tutorial checks (explain.go)
	return err
}

func (s *Session) report(inv *Invocation, err error) {
	s.Failed++
	if s.JSON {
		s.writeJSON(inv, nil, err)
		return
	}
	fmt.Fprintln(s.Out(), err.Error())
}

// SplitCommands splits a line at ';' outside quotes. "$$" comments run to
// the next ';'; "*" comments and the $< family take the rest of the line.
func SplitCommands(line string) []string {
	var out []string
	for {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			return out
		}
		name, _ := splitName(line)
		if c, ok := Lookup(name); ok && c.WholeLine {
			return append(out, line)
		}
		end, inQuote := len(line), false
		for i := 0; i < len(line); i++ {
			switch line[i] {
			case '\\':
				if inQuote && i+1 < len(line) {
					i++
				}
			case '"':
				inQuote = !inQuote
			case ';':
				if !inQuote {
					end = i
					i = len(line)
				}
			}
		}
		if cmd := strings.TrimSpace(line[:end]); cmd != "" {
			out = append(out, cmd)
		}
		if end >= len(line) {
			return out
		}
		line = line[end+1:]
	}
}
