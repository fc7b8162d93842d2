package pdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// frameRec is a decoded FRAMEDATA record (for comparison with llvm-pdbutil).
type frameRec struct {
	rva, size, locals, params, stack uint32
	prolog, saved                    uint16
	program                          string
}

func decodeFrameData(t *testing.T, f *File, b []byte) []frameRec {
	if len(b)%32 == 4 {
		b = b[4:]
	}
	le := binary.LittleEndian
	var out []frameRec
	for ; len(b) >= 32; b = b[32:] {
		prog, ok := f.StringAt(le.Uint32(b[20:]))
		if !ok {
			t.Errorf("program string offset %#x outside /names", le.Uint32(b[20:]))
		}
		out = append(out, frameRec{le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:]), le.Uint32(b[16:]),
			le.Uint16(b[24:]), le.Uint16(b[26:]), prog})
	}
	return out
}

// handDebugStream reads an optional debug header slot the way unwind's
// pdbFrameData test does: by walking the DBI substream sizes by hand.
func handDebugStream(t *testing.T, f *File, slot int) []byte {
	dbi, err := f.readStream(3)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	off := 64
	for _, field := range []int{24, 28, 32, 36, 40, 52} {
		off += int(le.Uint32(dbi[field:]))
	}
	dbg := dbi[off : off+int(le.Uint32(dbi[48:]))]
	i := int(le.Uint16(dbg[slot*2:]))
	if i == 0xffff {
		return nil
	}
	b, err := f.readStream(i)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crash.pdb (x86) has both FPO streams: two FPO_DATA records and 165
// FRAMEDATA records (llvm-pdbutil dump -fpo).
func TestFPOCrashPDB(t *testing.T) {
	f := openCorpus(t, crashPDB)
	fpo, err := f.FPO()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fpo, handDebugStream(t, f, 0)) {
		t.Error("FPO() differs from the stream the DBI header names in slot 0")
	}
	le := binary.LittleEndian
	if len(fpo) != 32 || le.Uint32(fpo) != 0x2dc4 || le.Uint32(fpo[4:]) != 20 || le.Uint32(fpo[16:]) != 0x30fc || le.Uint32(fpo[20:]) != 19 {
		t.Errorf("FPO records % x", fpo)
	}
	fd, err := f.FrameData()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fd, handDebugStream(t, f, 9)) {
		t.Error("FrameData() differs from the stream the DBI header names in slot 9")
	}
	recs := decodeFrameData(t, f, fd)
	if len(recs) != 165 {
		t.Errorf("%d FRAMEDATA records, llvm-pdbutil shows 165", len(recs))
	}
	first := frameRec{0x1000, 276, 0, 8, 0, 17, 0, "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = "}
	if len(recs) > 0 && recs[0] != first {
		t.Errorf("first record %+v, want %+v", recs[0], first)
	}
	if _, ok := f.StringAt(1 << 30); ok {
		t.Error("StringAt far outside /names succeeded")
	}
}

func TestFPOAbsent(t *testing.T) {
	for _, p := range []string{fixtureX64PDB, fixtureX86PDB} {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.FPO(); !errors.Is(err, ErrNoStream) {
			t.Errorf("%s FPO: %v", p, err)
		}
		fd, err := f.FrameData()
		switch p {
		case fixtureX64PDB:
			if !errors.Is(err, ErrNoStream) {
				t.Errorf("x64 FrameData: %v", err)
			}
		default:
			// lld writes FRAMEDATA for the x86 fixture: 64 records.
			if err != nil || len(decodeFrameData(t, f, fd)) != 64 {
				t.Errorf("x86 FrameData: %d bytes, %v", len(fd), err)
			}
		}
		f.Close()
	}
}

// TestFPOOracle compares every FRAMEDATA record with llvm-pdbutil dump -fpo.
func TestFPOOracle(t *testing.T) {
	tool, err := exec.LookPath("llvm-pdbutil")
	if err != nil {
		t.Skip("llvm-pdbutil not installed")
	}
	for _, rel := range []string{fixtureX86PDB, crashPDB, tpiPDBs[6]} {
		path := tpiPath(t, rel)
		out, err := exec.Command(tool, "dump", "-fpo", path).Output()
		if err != nil {
			t.Fatal(err)
		}
		_, newPart, _ := strings.Cut(string(out), "New FPO Data")
		var want []string
		for _, line := range strings.Split(newPart, "\n") {
			cols := strings.Split(line, "|")
			if len(cols) != 11 || strings.TrimSpace(cols[0]) == "RVA" {
				continue
			}
			for i := range cols {
				cols[i] = strings.TrimSpace(cols[i])
			}
			want = append(want, strings.Join([]string{cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], strings.Join(strings.Fields(cols[10]), " ")}, "|"))
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fd, _ := f.FrameData()
		var got []string
		for _, r := range decodeFrameData(t, f, fd) {
			got = append(got, fmt.Sprintf("%08X|%d|%d|%d|%d|%d|%d|%s", r.rva, r.size, r.locals, r.params, r.stack, r.prolog, r.saved, strings.Join(strings.Fields(r.program), " ")))
		}
		f.Close()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d records, llvm %d; first difference:\n%s", rel, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("ours: %s\nllvm: %s", x, y)
		}
	}
	return ""
}
