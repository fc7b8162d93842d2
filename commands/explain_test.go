package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// explainNotes splits output into the command's own text and its note's
// sentences (lines that start a note; continuation lines are indented).
func explainNotes(text string) (own string, notes []string) {
	var b strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		switch {
		case strings.HasPrefix(l, explainPrefix+"  "):
			notes[len(notes)-1] += " " + strings.TrimSpace(strings.TrimPrefix(l, explainPrefix))
		case strings.HasPrefix(l, explainPrefix):
			notes = append(notes, strings.TrimSpace(strings.TrimPrefix(l, explainPrefix)))
		default:
			b.WriteString(l)
		}
	}
	return b.String(), notes
}

// TestExplainFamilies runs one command of every family with .explain on:
// each output is followed by a note of 2 to 5 sentences, after the
// command's own output, that mentions what matters for that output.
func TestExplainFamilies(t *testing.T) {
	d := openSample(t, "x64")
	v := first256(t, d.truth)
	a := func(x uint64) string { return FormatShortAddr(8, x) }
	var out bytes.Buffer
	s := d.session(t, &out)
	s.Execute(".explain on")
	for _, c := range []struct{ family, cmd, want string }{
		{"address", "!address -summary", "Stands out: MEM_MAPPED holds"},
		{"address", "!address -f:MEM_MAPPED", "are exactly 256 KB"},
		{"address", "!address " + a(v.Base), "Allocation Base"},
		{"address", ".memmap", "strip"},
		{"search", "s -q 0 L?7fffffffffff " + a(v.Base), fmt.Sprintf("%d hits", len(v.Holders))},
		{"display", fmt.Sprintf("dqs %s L4", a(v.Serializer)), "Stands out: " + FormatAddr(8, v.Serializer) + " holds app!CMMFSerializer::`vftable'"},
		{"display", "db " + a(v.Base) + " L20", "????????"},
		{"display", "da " + a(v.Base), "terminator"},
		{"symbols", "x app!CMMFSerializer::*", "Stands out: app!CMMFSerializer::`vftable'"},
		{"symbols", "ln app!CMMFSerializer::`vftable'", "Exact matches"},
		{"symbols", "lm", "deferred"},
		{"heap", "!heap", "GetProcessHeap"},
		{"heap", "!heap -s", "reserved and committed"},
		{"heap", "!heap -stat", "Stands out: 0x"},
		{"heap", fmt.Sprintf("!heap -flt s %x", d.truth.CommunicatorSize), "blocks listed"},
		{"heap", "!heap -x " + a(v.Serializer), "busy means allocated"},
		{"heap", "!heap -srch " + a(v.Serializer), "own"},
		{"stack", "k", "Child-SP"},
		{"registers", "r", "rip is the next instruction"},
		{"registers", ".ecxr", "rsp the stack pointer"},
		{"threads", "~", "'#' the thread of the event"},
		{"analyze", "!analyze -v", "c0000017 is STATUS_NO_MEMORY"},
		{"exception", ".exr -1", "c0000017 is STATUS_NO_MEMORY"},
		{"exception", ".lastevent", "ExceptionCode"},
		{"dt", "dt ntdll!_PEB @$peb", "+offset"},
		{"u", "u @rip L2", "ub ADDR"},
		{"process", "!teb", "LastErrorValue"},
		{"expressions", "? 1+1", "Evaluate expression"},
		{"target", "vertarget", "when the dump was taken"},
	} {
		name, _ := splitName(c.cmd)
		cmd, ok := Lookup(name)
		if !ok {
			t.Fatalf("no command %s", name)
		}
		if f := explainFamily(cmd.Name); f != c.family {
			t.Errorf("%s: family %q, want %q", c.cmd, f, c.family)
		}
		out.Reset()
		s.Execute(c.cmd)
		own, notes := explainNotes(out.String())
		if strings.TrimSpace(own) == "" {
			t.Errorf("%s: no output of its own:\n%s", c.cmd, out.String())
		}
		if len(notes) < 2 || len(notes) > 5 {
			t.Errorf("%s: %d note sentences, want 2-5:\n%s", c.cmd, len(notes), strings.Join(notes, "\n"))
		}
		if lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n"); !strings.HasPrefix(lines[len(lines)-1], explainPrefix) {
			t.Errorf("%s: the note is not after the output:\n%s", c.cmd, out.String())
		}
		if !strings.Contains(strings.Join(notes, " "), c.want) {
			t.Errorf("%s: note lacks %q:\n%s", c.cmd, c.want, strings.Join(notes, "\n"))
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, explainPrefix) && len([]rune(l)) > 78 {
				t.Errorf("%s: note line longer than 78 columns: %q", c.cmd, l)
			}
		}
	}
}

// TestExplainOnOff: notes are off by default, .explain reports the state,
// and .explain off stops them.
func TestExplainOnOff(t *testing.T) {
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	run := func(line string) string {
		out.Reset()
		s.Execute(line)
		return out.String()
	}
	if text := run("k"); strings.Contains(text, explainPrefix) {
		t.Errorf("notes before .explain on:\n%s", text)
	}
	if text := run(".explain"); !strings.Contains(text, "Explain is off") {
		t.Errorf(".explain: %q", text)
	}
	if text := run(".explain on"); !strings.Contains(text, "Explain is on") {
		t.Errorf(".explain on: %q", text)
	}
	if text := run("k"); !strings.Contains(text, explainPrefix) {
		t.Errorf("no note after k:\n%s", text)
	}
	// Errors and commands without output get no note.
	if text := run("dqs nosuchsymbol"); strings.Contains(text, explainPrefix) {
		t.Errorf("a note after an error:\n%s", text)
	}
	run(".explain off")
	if text := run("k"); strings.Contains(text, explainPrefix) {
		t.Errorf("notes after .explain off:\n%s", text)
	}
	if text := run(".explain !heap -stat"); !strings.Contains(text, "-stat: busy blocks grouped by user size") {
		t.Errorf(".explain !heap -stat:\n%s", text)
	}
	if text := run(".explain dqs"); !strings.Contains(text, "vftable") {
		t.Errorf(".explain dqs:\n%s", text)
	}
	if err := s.Execute(".explain nosuch"); err == nil {
		t.Errorf(".explain nosuch: no error")
	}
}

// TestExplainEveryFamily: .explain CMD has a note for every family.
func TestExplainEveryFamily(t *testing.T) {
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	families := map[string]bool{}
	for _, c := range All() {
		f := explainFamily(c.Name)
		if f == "" {
			continue
		}
		families[f] = true
		out.Reset()
		s.Execute(".explain " + c.Name)
		_, notes := explainNotes(out.String())
		if len(notes) < 1 || len(notes) > 5 {
			t.Errorf(".explain %s: %d sentences:\n%s", c.Name, len(notes), out.String())
		}
	}
	for _, f := range []string{"address", "search", "display", "symbols", "heap", "stack", "registers", "threads", "analyze", "dt", "u"} {
		if !families[f] {
			t.Errorf("family %s has no command", f)
		}
	}
}

// TestExplainJSON: with --json no notes are printed, and .explain CMD is
// a JSON result.
func TestExplainJSON(t *testing.T) {
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	s.JSON = true
	s.Execute(".explain on; k; !address -summary; .explain dqs")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want one JSON object per command:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %.200s", l)
		}
	}
	var rec struct {
		Result ExplainNote `json:"result"`
	}
	if err := json.Unmarshal([]byte(lines[3]), &rec); err != nil || rec.Result.Family != "display" || len(rec.Result.Lines) < 2 {
		t.Errorf(".explain dqs: %v %+v", err, rec.Result)
	}
}

// TestExplainNesting: commands run by !address -c: get no notes; commands
// read from a script do.
func TestExplainNesting(t *testing.T) {
	d := openSample(t, "x64")
	var out bytes.Buffer
	s := d.session(t, &out)
	s.Execute(".explain on")
	out.Reset()
	s.Execute(`!address -f:PEB -c:"db %1 L4"`)
	if strings.Contains(out.String(), explainPrefix) || !strings.Contains(out.String(), "*** Executing: db") {
		t.Errorf("!address -c: output:\n%s", out.String())
	}
	script := filepath.Join(t.TempDir(), "cmds.txt")
	os.WriteFile(script, []byte("k\n"), 0o644)
	out.Reset()
	s.Execute("$$< " + script)
	if _, notes := explainNotes(out.String()); len(notes) == 0 {
		t.Errorf("no note for a script's command:\n%s", out.String())
	}
}

// TestExplainGolden pins the notes of the story's commands on the sample.
func TestExplainGolden(t *testing.T) {
	d := openSample(t, "x64")
	v := first256(t, d.truth)
	a := func(x uint64) string { return FormatShortAddr(8, x) }
	runSampleGolden(t, d, "sample_explain.txt", []string{
		".explain on",
		"!address -summary",
		"!address " + a(v.Base),
		"s -q 0 L?7fffffffffff " + a(v.Base),
		fmt.Sprintf("dqs %s L4", a(v.Serializer)),
		"x app!CMMFSerializer::*",
		"!heap -x " + a(v.Serializer),
		"!heap -srch " + a(v.Serializer),
		"!heap -stat",
		"k",
		".explain off",
		"k",
	}, nil)
}
