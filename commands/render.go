package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Result is what a command returns: typed data that prints itself in
// WinDbg's text format; the JSON renderer marshals the same value.
type Result interface {
	WriteText(w io.Writer)
}

// Text is a result that is only text (echo, help, messages).
type Text string

// WriteText prints the text as it is.
func (t Text) WriteText(w io.Writer) { io.WriteString(w, string(t)) }

// MarshalJSON gives {"text": "..."}.
func (t Text) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Text string `json:"text"`
	}{string(t)})
}

// Lines builds a Text result from lines, each ended by a newline.
func Lines(lines ...string) Text {
	if len(lines) == 0 {
		return ""
	}
	return Text(strings.Join(lines, "\n") + "\n")
}

func (s *Session) render(inv *Invocation, r Result) {
	if s.JSON {
		s.writeJSON(inv, r, nil)
		return
	}
	r.WriteText(s.Out())
}

// jsonRecord is one line of --json output.
type jsonRecord struct {
	Command string `json:"command"`
	Result  any    `json:"result,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (s *Session) writeJSON(inv *Invocation, r Result, err error) {
	rec := jsonRecord{Command: inv.Line, Result: r}
	if err != nil {
		rec.Error = err.Error()
	}
	b, e := json.Marshal(rec)
	if e != nil {
		b, _ = json.Marshal(jsonRecord{Command: inv.Line, Error: "cannot encode result: " + e.Error()})
	}
	fmt.Fprintf(s.Out(), "%s\n", b)
}

type helpResult struct{ c *Command }

func (h helpResult) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s - %s\n", h.c.Usage, h.c.Summary)
	if h.c.Help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.c.Help, "\n"))
	}
}

func (h helpResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"name": h.c.Name, "aliases": h.c.Aliases, "usage": h.c.Usage, "summary": h.c.Summary, "help": h.c.Help})
}
