// Package commands holds every debugger command. Each command registers
// itself in the table below (name, aliases, help, completion, run function);
// the table drives dispatch, .help and completion, so adding a command means
// adding one file here and nothing in the REPL.
package commands

import (
	"sort"
	"strings"
)

// Command is one debugger command or an alias family served by one
// implementation (db/dw/dd/dq share one Run, which looks at Invocation.Name).
type Command struct {
	Name    string   // as typed: "db", "!address", ".echo", "~"
	Aliases []string // other names served by Run
	Usage   string   // syntax line for help: "db [range]"
	Summary string   // one line
	Help    string   // full help text, shown by "CMD /?"
	// Complete returns completion candidates for the argument being typed.
	Complete func(s *Session, args string) []string
	// Run executes the command. It returns a typed result that the renderer
	// prints as WinDbg text or as JSON; nil means no output.
	Run func(s *Session, inv *Invocation) (Result, error)
	// Family, when set, claims every name it returns true for (lmv, lmvm,
	// kb, kv …) so that options glued to the name still reach this command.
	Family func(name string) bool
	// WholeLine commands take the rest of the line, ';' included ($<, *).
	WholeLine bool
	// Repeat is what an empty line runs after this command (d*, u continue).
	Repeatable bool
}

// Invocation is one parsed command: the name as typed and its arguments.
type Invocation struct {
	Name string // lower-cased command name as typed ("dd", "lmvm")
	Raw  string // the name with its original case ("dD", "kP")
	Args string // the rest, trimmed
	Line string // the whole command text
}

var (
	table  []*Command
	byName = map[string]*Command{}
)

// Register adds c to the command table; commands call it from init.
func Register(c *Command) {
	table = append(table, c)
	for _, n := range append([]string{c.Name}, c.Aliases...) {
		byName[strings.ToLower(n)] = c
	}
}

// Lookup finds the command for a typed name.
func Lookup(name string) (*Command, bool) {
	if c, ok := byName[strings.ToLower(name)]; ok {
		return c, true
	}
	for _, c := range table {
		if c.Family != nil && c.Family(strings.ToLower(name)) {
			return c, true
		}
	}
	return nil, false
}

// All returns the commands sorted by name.
func All() []*Command {
	out := append([]*Command(nil), table...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns every name and alias, for completion.
func Names() []string {
	var out []string
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// splitName separates the command name from its arguments using WinDbg's
// rules: extension (!name) and meta (.name) commands end at white space;
// symbol commands (~ | ? * $$ $< …) are taken as themselves; ordinary
// commands are a run of letters and digits ("dds", "s", "lmvm").
func splitName(cmd string) (name, args string) {
	cmd = strings.TrimLeft(cmd, " \t")
	if cmd == "" {
		return "", ""
	}
	for _, p := range []string{"$$>a<", "$$><", "$><", "$$<", "$<", "$$", "??", "?", "*", "~", "|"} {
		if strings.HasPrefix(cmd, p) {
			return p, strings.TrimSpace(cmd[len(p):])
		}
	}
	end := 0
	switch cmd[0] {
	case '!', '.':
		end = 1
		for end < len(cmd) && !isSpace(cmd[end]) && cmd[end] != ';' {
			end++
		}
	default:
		for end < len(cmd) && isWord(cmd[end]) {
			end++
		}
		if end == 0 {
			end = 1
		}
	}
	return cmd[:end], strings.TrimSpace(cmd[end:])
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
