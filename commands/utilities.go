package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Session utilities: quitting, help, echo, comments, scripts, logging, output mode.

func init() {
	quit := func(s *Session, inv *Invocation) (Result, error) {
		s.Quit = true
		return Lines("quit:"), nil
	}
	Register(&Command{Name: "q", Usage: "q", Summary: "quit (close the dump)", Run: quit})
	Register(&Command{Name: "qq", Usage: "qq", Summary: "quit", Run: quit})
	Register(&Command{Name: ".help", Usage: ".help [<options>]", Summary: "display this help", Run: runHelp})
	Register(&Command{Name: ".cls", Usage: ".cls", Summary: "clear the screen", Run: func(s *Session, inv *Invocation) (Result, error) {
		if s.Interactive && !s.JSON {
			fmt.Fprint(s.stdout, "\x1b[H\x1b[2J")
		}
		return nil, nil
	}})
	Register(&Command{Name: ".echo", Usage: `.echo ["<string>"|<string>]`, Summary: "echo string", Run: func(s *Session, inv *Invocation) (Result, error) {
		text := inv.Args
		if len(text) >= 2 && text[0] == '"' && text[len(text)-1] == '"' {
			text = text[1 : len(text)-1]
		}
		return Lines(text), nil
	}})
	Register(&Command{Name: "$$", Usage: "$$ <text>", Summary: "comment up to the next ';'",
		Run: func(s *Session, inv *Invocation) (Result, error) { return nil, nil }})
	Register(&Command{Name: "*", Usage: "* <text>", Summary: "comment to the end of the line", WholeLine: true,
		Run: func(s *Session, inv *Invocation) (Result, error) { return nil, nil }})

	Register(&Command{Name: "$<", Usage: "$< <filename>", Summary: "run the commands of a file, one line at a time", WholeLine: true, Run: runScript})
	Register(&Command{Name: "$><", Usage: "$>< <filename>", Summary: "run a file as one block of commands", WholeLine: true, Run: runScript})
	Register(&Command{Name: "$$<", Usage: "$$< <filename>", Summary: "run the commands of a file, one line at a time", Run: runScript})
	Register(&Command{Name: "$$><", Usage: "$$>< <filename>", Summary: "run a file as one block of commands", Run: runScript})
	Register(&Command{Name: "$$>a<", Usage: "$$>a< <filename> [args]", Summary: "run a file as one block, with arguments ${$arg1}…", Run: runScript})

	Register(&Command{Name: ".logopen", Usage: ".logopen [/t] [<file>]", Summary: "open new log file", Run: runLogOpen})
	Register(&Command{Name: ".logappend", Usage: ".logappend [<file>]", Summary: "append to log file", Run: runLogOpen})
	Register(&Command{Name: ".logclose", Usage: ".logclose", Summary: "close log file", Run: func(s *Session, inv *Invocation) (Result, error) {
		if s.log == nil {
			return Lines("No log file open"), nil
		}
		msg := "Closing open log file " + s.logName + "\n"
		s.log.WriteString(msg)
		s.log.Close()
		s.log, s.logName = nil, ""
		fmt.Fprint(s.stdout, msg)
		return nil, nil
	}})
	Register(&Command{Name: ".logfile", Usage: ".logfile", Summary: "display log status", Run: func(s *Session, inv *Invocation) (Result, error) {
		if s.log == nil {
			return Lines("No log file open"), nil
		}
		return Lines(fmt.Sprintf("Log '%s' open", s.logName)), nil
	}})
	Register(&Command{Name: ".json", Usage: ".json [on|off]", Summary: "print each command's result as one JSON object", Run: func(s *Session, inv *Invocation) (Result, error) {
		switch strings.ToLower(inv.Args) {
		case "on":
			s.JSON = true
		case "off":
			s.JSON = false
		case "":
		default:
			return nil, fmt.Errorf("Syntax error: .json on|off")
		}
		if s.JSON {
			return Lines("JSON output on"), nil
		}
		return Lines("JSON output off"), nil
	}})
}

func runHelp(s *Session, inv *Invocation) (Result, error) {
	var b strings.Builder
	groups := []struct {
		title string
		keep  func(name string) bool
	}{
		{". commands:", func(n string) bool { return strings.HasPrefix(n, ".") }},
		{"! commands:", func(n string) bool { return strings.HasPrefix(n, "!") }},
		{"other commands:", func(n string) bool { return !strings.HasPrefix(n, ".") && !strings.HasPrefix(n, "!") }},
	}
	for i, g := range groups {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(g.title + "\n")
		for _, c := range All() {
			if g.keep(c.Name) {
				fmt.Fprintf(&b, "%s - %s\n", c.Usage, c.Summary)
			}
		}
	}
	b.WriteString("\nUse \"<command> /?\" to get detailed help on a command.\n")
	return Text(b.String()), nil
}

// maxScriptDepth bounds nested and recursive scripts.
const maxScriptDepth = 32

func runScript(s *Session, inv *Invocation) (Result, error) {
	args := strings.TrimSpace(inv.Args)
	var scriptArgs []string
	name := args
	if inv.Name == "$$>a<" {
		parts := splitScriptArgs(args)
		if len(parts) == 0 {
			return nil, fmt.Errorf("Syntax error: %s needs a file name", inv.Raw)
		}
		name, scriptArgs = parts[0], parts[1:]
	} else if strings.HasPrefix(name, `"`) && strings.HasSuffix(name, `"`) && len(name) >= 2 {
		name = name[1 : len(name)-1]
	}
	if name == "" {
		return nil, fmt.Errorf("Syntax error: %s needs a file name", inv.Raw)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("Couldn't open script file '%s': %v", name, unwrapPathError(err))
	}
	if s.scriptDepth >= maxScriptDepth {
		return nil, fmt.Errorf("Script nesting deeper than %d at '%s'", maxScriptDepth, name)
	}
	s.scriptDepth++
	defer func() { s.scriptDepth-- }()
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	for i, a := range scriptArgs {
		text = strings.ReplaceAll(text, fmt.Sprintf("${$arg%d}", i+1), a)
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	echo := inv.Name != "$$>a<" && !s.JSON
	var first error
	if strings.Contains(inv.Name, ">") {
		block := strings.Join(lines, ";")
		if echo {
			s.Printf("%s%s\n", s.Prompt(), block)
		}
		return nil, s.Execute(block)
	}
	for _, line := range lines {
		if s.Quit || s.Cancelled() {
			break
		}
		if echo {
			s.Printf("%s%s\n", s.Prompt(), line)
		}
		if err := s.Execute(line); err != nil && first == nil {
			first = err
		}
	}
	return nil, nil
}

// splitScriptArgs splits "file arg "quoted arg"" as $$>a< does.
func splitScriptArgs(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			if end := strings.IndexByte(s[1:], '"'); end >= 0 {
				out = append(out, s[1:1+end])
				s = s[2+end:]
				continue
			}
		}
		word, rest := optionValue(s)
		out = append(out, word)
		s = rest
	}
	return out
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func runLogOpen(s *Session, inv *Invocation) (Result, error) {
	args := strings.TrimSpace(inv.Args)
	stamp := false
	// Options come first; the rest of the line is the file name, spaces included.
	for len(args) >= 2 && args[0] == '/' && (len(args) == 2 || isSpace(args[2])) {
		switch strings.ToLower(args[:2]) {
		case "/t":
			stamp = true
		case "/u", "/d":
			// Unicode logs and names derived from the target are not supported: plain UTF-8.
		}
		args = strings.TrimSpace(args[2:])
	}
	name := strings.Trim(args, `"`)
	if name == "" {
		name = "wdb.log"
	}
	if stamp {
		ext := filepath.Ext(name)
		pid := uint32(0)
		if s.Target != nil {
			pid, _ = s.Target.ProcessID()
		}
		name = fmt.Sprintf("%s_%04X_%s%s", strings.TrimSuffix(name, ext), pid, nowStamp(), ext)
	}
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if inv.Name == ".logappend" {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(name, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("Unable to open log file '%s': %v", name, unwrapPathError(err))
	}
	s.log, s.logName = f, name
	return Lines(fmt.Sprintf("Opened log file '%s'", name)), nil
}
