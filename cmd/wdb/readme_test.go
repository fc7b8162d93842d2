package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"wdb/commands"
	"wdb/dump"
	"wdb/sample"
)

// transcript is one README block: commands and the output each printed.
type transcript struct {
	cmds []string
	want [][]string
}

// readmeTranscripts finds the blocks that follow "<!-- wdb-transcript -->".
func readmeTranscripts(t *testing.T) []transcript {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []transcript
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "<!-- wdb-transcript -->" {
			continue
		}
		var tr transcript
		for i += 2; i < len(lines) && lines[i] != "```"; i++ {
			if cmd, ok := strings.CutPrefix(lines[i], "0:000> "); ok {
				tr.cmds = append(tr.cmds, cmd)
				tr.want = append(tr.want, nil)
				continue
			}
			if len(tr.want) > 0 {
				tr.want[len(tr.want)-1] = append(tr.want[len(tr.want)-1], lines[i])
			}
		}
		out = append(out, tr)
	}
	return out
}

// matchLines compares output with expected lines, trailing blanks ignored;
// an expected "[...]" line stands for any lines up to the next expected one.
func matchLines(got, want []string) bool {
	for i := range got {
		got[i] = strings.TrimRight(got[i], " \t")
	}
	g := 0
	for w := 0; w < len(want); w++ {
		exp := strings.TrimRight(want[w], " \t")
		if exp == "[...]" {
			if w == len(want)-1 {
				return true
			}
			next := strings.TrimRight(want[w+1], " \t")
			for g < len(got) && got[g] != next {
				g++
			}
			continue
		}
		if g >= len(got) || got[g] != exp {
			return false
		}
		g++
	}
	return g == len(got)
}

// The README's walk-through is real output of the built-in sample: it is
// replayed here and the test fails when wdb's output drifts from it.
func TestReadmeWalkthrough(t *testing.T) {
	trs := readmeTranscripts(t)
	if len(trs) < 5 {
		t.Fatalf("README has %d transcripts", len(trs))
	}
	smp, err := sample.Generate(sample.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "wdb-sample.dmp")
	if err := smp.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := dump.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	s := commands.NewSession(f, &out, &out)
	if err := s.SetSymbolPath(dir); err != nil {
		t.Fatal(err)
	}
	for _, tr := range trs {
		for i, cmd := range tr.cmds {
			out.Reset()
			s.Execute(cmd)
			got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if !matchLines(got, tr.want[i]) {
				t.Errorf("README transcript for %q drifted; wdb now prints:\n%s", cmd, out.String())
			}
		}
	}
}
