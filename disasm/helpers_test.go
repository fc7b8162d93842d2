package disasm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"wdb/dump"
)

// corpus is the shared test corpus, next to the repository.
const corpus = "../../shared/corpus"

// openCorpus opens a dump of the shared corpus, skipping the test when the
// corpus is not there (it lives outside the repository).
func openCorpus(t testing.TB, rel string) *dump.File {
	t.Helper()
	p := filepath.Join(corpus, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s not available: %v", p, err)
	}
	f, err := dump.Open(p)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// modSym names addresses by module only ("ntdll+0x1234"), like the
// session's resolver does without symbols; tests do not depend on the
// symbols package, which has its own tests.
type modSym struct {
	mods []*dump.Module
}

func newModSym(f *dump.File) modSym {
	var s modSym
	for i := range f.Modules {
		s.mods = append(s.mods, &f.Modules[i])
	}
	sort.Slice(s.mods, func(i, j int) bool { return s.mods[i].Base < s.mods[j].Base })
	return s
}

func (s modSym) Format(a uint64) string {
	for _, m := range s.mods {
		if a >= m.Base && a < m.End() {
			if a == m.Base {
				return m.ModuleName()
			}
			return fmt.Sprintf("%s+0x%x", m.ModuleName(), a-m.Base)
		}
	}
	return ""
}

// mapSym names exact addresses and the bytes after them, like a PDB would:
// {0x1000: "mod!f"} names 0x1004 "mod!f+0x4". Addresses below every entry
// have no name.
type mapSym map[uint64]string

func (s mapSym) Format(a uint64) string {
	var best uint64
	found := false
	for k := range s {
		if k <= a && (!found || k > best) {
			best, found = k, true
		}
	}
	if !found {
		return ""
	}
	if a == best {
		return s[best]
	}
	return fmt.Sprintf("%s+0x%x", s[best], a-best)
}

// bytesMem is target memory made of one buffer at base.
type bytesMem struct {
	base uint64
	b    []byte
}

var errNotHere = errors.New("not in memory")

func (m bytesMem) ReadMemory(a uint64, p []byte) (int, error) {
	if a < m.base || a-m.base >= uint64(len(m.b)) {
		return 0, errNotHere
	}
	n := copy(p, m.b[a-m.base:])
	if n < len(p) {
		return n, errNotHere
	}
	return n, nil
}
