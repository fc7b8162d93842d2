package repl

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"wdb/commands"
)

// Scripted input is echoed as cdb echoes it — the prompt, then the command
// exactly as written (a leading space kept, an empty line shown as a bare
// prompt and repeating the last d*/u command) — so that the output of a
// script reads like a transcript of typing it.

// runCommands runs the -c string one command at a time, echoing each after
// its own prompt (a "~1s" inside the script changes the next prompt).
func (r *runner) runCommands(script string) {
	for _, cmd := range commands.SplitCommands(script) {
		if r.stopped() {
			return
		}
		r.echo(cmd)
		r.exec(cmd)
	}
}

// runFile runs a -cf script: each line is one command line.
func (r *runner) runFile(path string) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(r.s.Stderr(), "wdb: cannot read command file: %v\n", err)
		r.scriptErr = true
		return
	}
	defer f.Close()
	r.runLines(f)
}

// runLines runs every line of src until q, Ctrl-C or the end of input.
func (r *runner) runLines(src io.Reader) {
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024) // long pasted lines are fine
	first := true
	for !r.stopped() && sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if first {
			line = strings.TrimPrefix(line, "\ufeff") // editors' UTF-8 BOM
			first = false
		}
		r.echo(line)
		r.exec(line)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(r.s.Stderr(), "wdb: reading commands: %v\n", err)
		r.scriptErr = true
	}
}
