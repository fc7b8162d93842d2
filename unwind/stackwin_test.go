package unwind

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// parseSym reads a Breakpad .sym file's x86 frame records into a table:
// STACK WIN lines (FPO and FRAMEDATA records with program strings) and FUNC
// parameter sizes, the inputs breakpad's x86 walker uses. It is the test
// stand-in for a PDB's FPO/FrameData streams.
func parseSym(t *testing.T, path string) *FrameTable {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab := &FrameTable{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "STACK WIN "):
			d, ok := parseStackWin(line)
			if !ok {
				t.Fatalf("%s: bad line %q", path, line)
			}
			tab.Add(d)
		case strings.HasPrefix(line, "FUNC "):
			fs := strings.Fields(line)[1:]
			if len(fs) > 0 && fs[0] == "m" {
				fs = fs[1:]
			}
			if len(fs) < 3 {
				continue
			}
			rva, err1 := strconv.ParseUint(fs[0], 16, 32)
			size, err2 := strconv.ParseUint(fs[1], 16, 32)
			params, err3 := strconv.ParseUint(fs[2], 16, 32)
			if err1 == nil && err2 == nil && err3 == nil {
				tab.Add(FrameData{Type: FrameParamsOnly, RVA: uint32(rva), Size: uint32(size), ParamsSize: uint32(params)})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tab
}

// parseStackWin decodes "STACK WIN type rva code_size prolog_size
// epilog_size params saved_regs locals max_stack has_program
// program_or_allocates_bp", numbers in hex.
func parseStackWin(line string) (FrameData, bool) {
	fs := strings.Fields(strings.TrimPrefix(line, "STACK WIN "))
	if len(fs) < 11 {
		return FrameData{}, false
	}
	var v [10]uint64
	for i := 0; i < 10; i++ {
		n, err := strconv.ParseUint(fs[i], 16, 32)
		if err != nil {
			return FrameData{}, false
		}
		v[i] = n
	}
	d := FrameData{Type: FrameType(v[0]), RVA: uint32(v[1]), Size: uint32(v[2]), PrologSize: uint32(v[3]), EpilogSize: uint32(v[4]),
		ParamsSize: uint32(v[5]), SavedRegsSize: uint32(v[6]), LocalsSize: uint32(v[7]), MaxStackSize: uint32(v[8])}
	if v[9] != 0 {
		d.Program = strings.Join(fs[10:], " ")
	} else {
		d.AllocatesBasePointer = fs[10] != "0"
	}
	return d, true
}

func TestParseStackWin(t *testing.T) {
	d, ok := parseStackWin("STACK WIN 4 41b0 86 13 0 8 0 e0 0 1 $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =")
	if !ok || d.Type != FrameFrameData || d.RVA != 0x41b0 || d.Size != 0x86 || d.PrologSize != 0x13 || d.ParamsSize != 8 || d.LocalsSize != 0xe0 ||
		d.Program != "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =" {
		t.Fatalf("%+v %v", d, ok)
	}
	d, ok = parseStackWin("STACK WIN 0 1000 10 3 0 8 4 0 0 0 1")
	if !ok || d.Type != FrameFPO || !d.AllocatesBasePointer || d.Program != "" || d.SavedRegsSize != 4 {
		t.Fatalf("%+v %v", d, ok)
	}
}
