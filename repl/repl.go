// Package repl is wdb's shell around a commands.Session: the startup banner,
// start-up scripts (-c, -cf), commands piped on standard input, and the
// interactive readline prompt with history, completion and Ctrl-C handling.
// It parses no commands itself; Session.Execute does.
package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chzyer/readline"

	"wdb/commands"
)

// Options is what cmd/wdb hands the shell besides the session.
type Options struct {
	Version string // shown in the banner's first line

	// SymbolPath and ImagePath (-y/-i or their _NT_ variables) are shown in
	// the banner; the symbols package will take them over.
	SymbolPath string
	// BannerNote is an extra banner line after "Loading Dump File" (the
	// built-in sample says what it is and how to start the tutorial).
	BannerNote string
	ImagePath  string

	Commands    string // -c: start-up commands separated by ';'
	CommandFile string // -cf: start-up script, one command line per line

	LogFile   string // -logo/-loga: log opened before the banner
	LogAppend bool   // -loga: append instead of overwrite

	NoBanner bool // skip the banner (tests); --json skips it anyway

	// Stdin is where commands come from after the scripts; nil is os.Stdin.
	// Only a terminal gets the readline prompt; anything else is read as a
	// script.
	Stdin io.Reader

	// HistoryFile overrides <UserConfigDir>/wdb/history; "-" disables history.
	HistoryFile string
}

// Exit statuses returned by Run.
const (
	ExitOK          = 0
	ExitFailed      = 1   // a scripted command failed, or a script could not be read
	ExitInterrupted = 130 // Ctrl-C stopped a non-interactive script (128+SIGINT)
)

// Run drives a session to its end and returns the process exit status: it
// opens the -logo log, prints the banner and the dump's warnings, runs -cf
// and -c, then reads commands from a terminal (interactive) or from a
// non-terminal stdin (batch). A -c/-cf script never waits for non-terminal
// input afterwards, so scripts cannot hang. Commands that fail while not
// typed at the prompt make the status 1.
func Run(s *commands.Session, opts Options) int {
	stdin := opts.Stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	terminal := isTerminal(stdin)
	s.Interactive = terminal

	in := newInterrupter(!terminal)
	defer in.stop()
	r := &runner{s: s, in: in}

	if opts.LogFile != "" {
		r.openLog(opts)
	}
	if s.Target != nil {
		if !s.JSON && !opts.NoBanner {
			WriteBanner(s.Out(), s, opts)
		}
		writeWarnings(s.Stderr(), s.Target)
	}

	scripted := opts.CommandFile != "" || opts.Commands != ""
	if opts.CommandFile != "" {
		r.runFile(opts.CommandFile)
	}
	if opts.Commands != "" && !r.stopped() {
		r.runCommands(opts.Commands)
	}
	// Everything up to here is a script: its failures set the exit status.
	failed := s.Failed > 0 || r.scriptErr

	switch {
	case s.Quit:
	case terminal:
		// After a script (finished or stopped by Ctrl-C) a person at a
		// terminal gets the prompt, as with cdb -c.
		r.interactive(opts)
	case r.interrupted || scripted:
		// Never wait for non-terminal input after a script.
	default:
		r.runLines(stdin)
		failed = s.Failed > 0 || r.scriptErr
	}

	switch {
	case r.interrupted && !terminal:
		return ExitInterrupted
	case failed:
		return ExitFailed
	}
	return ExitOK
}

// runner holds the state of one Run.
type runner struct {
	s           *commands.Session
	in          *interrupter
	scriptErr   bool // a script file could not be read
	interrupted bool // Ctrl-C stopped a script
}

// stopped reports whether the session should read no more commands.
func (r *runner) stopped() bool { return r.s.Quit || r.interrupted }

// exec runs one command line with a context that Ctrl-C cancels.
func (r *runner) exec(line string) {
	if r.in.exec(r.s, line) {
		r.interrupted = true
	}
}

// echo prints the prompt and a command as cdb does for scripted input, so a
// transcript shows what ran; --json output stays pure JSON.
func (r *runner) echo(cmd string) {
	if !r.s.JSON {
		r.s.Printf("%s%s\n", r.s.Prompt(), cmd)
	}
}

// openLog starts the -logo/-loga log through the session's own command, so
// the log looks exactly as if the user had typed it first.
func (r *runner) openLog(opts Options) {
	name := ".logopen"
	if opts.LogAppend {
		name = ".logappend"
	}
	if _, ok := commands.Lookup(name); !ok {
		// TODO(logging): drop this once .logopen/.logappend are registered.
		fmt.Fprintf(r.s.Stderr(), "wdb: cannot open log %s: %s is not implemented yet\n", opts.LogFile, name)
		r.scriptErr = true
		return
	}
	arg := opts.LogFile
	if strings.Contains(arg, ";") {
		arg = `"` + arg + `"` // keep Execute from splitting the name
	}
	r.exec(name + " " + arg)
}

// interactive is the readline prompt. Ctrl-C at the prompt clears the line,
// Ctrl-C during a command cancels that command, Ctrl-D or q ends the session.
func (r *runner) interactive(opts Options) {
	s := r.s
	cfg := &readline.Config{
		Prompt:            s.Prompt(),
		HistoryFile:       historyPath(opts.HistoryFile),
		HistorySearchFold: true,
		AutoComplete:      &completer{s: s},
	}
	if s.JSON {
		cfg.Stdout = os.Stderr // keep stdout pure JSON
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		fmt.Fprintf(s.Stderr(), "wdb: cannot start the line editor: %v\n", err)
		return
	}
	defer rl.Close()
	for !s.Quit {
		prompt := s.Prompt()
		rl.SetPrompt(prompt)
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			return
		}
		s.LogOnly(prompt + line + "\n")
		r.in.exec(s, line)
	}
}

// historyPath is where readline keeps history: override, or
// <UserConfigDir>/wdb/history. History is a convenience, so any failure to
// find or create the directory just turns it off.
func historyPath(override string) string {
	switch override {
	case "-":
		return ""
	case "":
	default:
		return override
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	dir = filepath.Join(dir, "wdb")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return filepath.Join(dir, "history")
}

// isTerminal reports whether r is a terminal a person types at.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && readline.IsTerminal(int(f.Fd()))
}

// interrupter turns SIGINT into cancelling the running command's context.
// Between commands SIGINT is ignored (the prompt handles Ctrl-C itself, in
// raw mode). In batch mode a second Ctrl-C during one command exits, so a
// command that does not check its context cannot trap a script.
type interrupter struct {
	sigs  chan os.Signal
	batch bool

	mu          sync.Mutex
	cancel      context.CancelFunc // of the running command; nil between commands
	hits        int                // Ctrl-C presses during the running command
	interrupted bool
}

func newInterrupter(batch bool) *interrupter {
	in := &interrupter{sigs: make(chan os.Signal, 1), batch: batch}
	signal.Notify(in.sigs, os.Interrupt)
	go in.loop()
	return in
}

func (in *interrupter) loop() {
	for range in.sigs {
		in.mu.Lock()
		if in.cancel != nil {
			in.cancel()
			in.interrupted = true
			in.hits++
			if in.batch && in.hits > 1 {
				os.Exit(ExitInterrupted)
			}
		}
		in.mu.Unlock()
	}
}

// stop restores the default SIGINT behaviour.
func (in *interrupter) stop() {
	signal.Stop(in.sigs)
	close(in.sigs)
}

// exec runs line with s.Ctx cancelled by Ctrl-C and reports whether Ctrl-C
// was pressed meanwhile.
func (in *interrupter) exec(s *commands.Session, line string) bool {
	ctx, cancel := context.WithCancel(context.Background())
	in.mu.Lock()
	in.cancel, in.hits, in.interrupted = cancel, 0, false
	in.mu.Unlock()

	s.Ctx = ctx
	s.Execute(line) // the session prints the error and counts it in s.Failed
	s.Ctx = context.Background()

	in.mu.Lock()
	interrupted := in.interrupted
	in.cancel = nil
	in.mu.Unlock()
	cancel()
	return interrupted
}
