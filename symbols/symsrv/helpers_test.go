package symsrv

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	retryDelay = 0
	os.Exit(m.Run())
}

const pdbMagic = "Microsoft C/C++ MSF 7.00\r\n\x1aDS\x00\x00\x00"

var (
	testGUID = [16]byte{0xcb, 0xfa, 0xb9, 0x1e, 0xea, 0x04, 0x3b, 0x27, 0xb4, 0xba, 0x52, 0xc8, 0xb1, 0xf1, 0xeb, 0x8b}
	testAge  = uint32(1)
	testKey  = PDBKey(`C:\build\ntdll.pdb`, testGUID, testAge)
)

// fakePDB is a stand-in PDB: the MSF magic, then GUID and age where the
// validator looks for them, then n bytes of filler.
func fakePDB(guid [16]byte, age uint32, n int) []byte {
	b := []byte(pdbMagic)
	b = append(b, guid[:]...)
	b = binary.LittleEndian.AppendUint32(b, age)
	for i := 0; len(b) < n; i++ {
		b = append(b, fmt.Sprintf("filler line %d of a fake pdb\n", i%977)...)
	}
	return b[:max(n, len(pdbMagic)+20)]
}

// pdbValidator plays the debugger's validate: MSF magic, then GUID+age.
func pdbValidator(guid [16]byte, age uint32) func(string) error {
	return func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte(pdbMagic)) {
			return errors.New("not a PDB 7.0 file (bad MSF magic)")
		}
		if len(b) < len(pdbMagic)+20 {
			return errors.New("truncated")
		}
		if !bytes.Equal(b[len(pdbMagic):len(pdbMagic)+16], guid[:]) {
			return errors.New("GUID differs")
		}
		if binary.LittleEndian.Uint32(b[len(pdbMagic)+16:]) != age {
			return errors.New("age differs")
		}
		return nil
	}
}

// mszipCab builds a one-file MSZIP cabinet the way makecab does: each
// CFDATA block is "CK" and a complete deflate stream of at most 32 KiB of
// output whose history is the previous block's output. Checksums are 0
// (allowed: "not computed").
func mszipCab(name string, data []byte) []byte {
	var blocks [][]byte
	var sizes []int
	for off := 0; off < len(data) || off == 0 && len(data) == 0; off += 32768 {
		end := min(off+32768, len(data))
		dict := data[max(0, off-32768):off]
		var buf bytes.Buffer
		buf.WriteString("CK")
		w, _ := flate.NewWriterDict(&buf, flate.BestCompression, dict)
		w.Write(data[off:end])
		w.Close()
		blocks = append(blocks, buf.Bytes())
		sizes = append(sizes, end-off)
		if len(data) == 0 {
			break
		}
	}
	const hdr, folder = 36, 8
	fileRec := 16 + len(name) + 1
	dataStart := hdr + folder + fileRec
	total := dataStart
	for _, b := range blocks {
		total += 8 + len(b)
	}
	le := binary.LittleEndian
	out := []byte("MSCF")
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, uint32(total))
	out = le.AppendUint32(out, 0)
	out = le.AppendUint32(out, hdr+folder) // coffFiles
	out = le.AppendUint32(out, 0)
	out = append(out, 3, 1) // version 1.3
	out = le.AppendUint16(out, 1)
	out = le.AppendUint16(out, 1)
	out = le.AppendUint16(out, 0) // flags
	out = le.AppendUint16(out, 0x1234)
	out = le.AppendUint16(out, 0)
	// CFFOLDER
	out = le.AppendUint32(out, uint32(dataStart))
	out = le.AppendUint16(out, uint16(len(blocks)))
	out = le.AppendUint16(out, 1) // MSZIP
	// CFFILE
	out = le.AppendUint32(out, uint32(len(data)))
	out = le.AppendUint32(out, 0)
	out = le.AppendUint16(out, 0)
	out = le.AppendUint16(out, 0x5a21) // 2025-01-01
	out = le.AppendUint16(out, 0)
	out = le.AppendUint16(out, 0x20)
	out = append(out, name...)
	out = append(out, 0)
	for i, b := range blocks {
		out = le.AppendUint32(out, 0)
		out = le.AppendUint16(out, uint16(len(b)))
		out = le.AppendUint16(out, uint16(sizes[i]))
		out = append(out, b...)
	}
	return out
}

// fakeServer is the symbol server of §5.7: a map from lower-case path to a
// handler, request counts and order, matching paths case-insensitively.
type fakeServer struct {
	*httptest.Server
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	log    []string // paths in request order
}

func newFakeServer(t *testing.T) *fakeServer {
	fs := &fakeServer{routes: map[string]http.HandlerFunc{}}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.log = append(fs.log, r.URL.Path)
		h := fs.routes[strings.ToLower(r.URL.Path)]
		if h == nil {
			h = fs.routes["*"]
		}
		fs.mu.Unlock()
		if h == nil {
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fakeServer) handle(path string, h http.HandlerFunc) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.routes[strings.ToLower(path)] = h
}

func (fs *fakeServer) file(path string, body []byte) {
	fs.handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body)
	})
}

func (fs *fakeServer) status(path string, code int) {
	fs.handle(path, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", code) })
}

func (fs *fakeServer) requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.log)
}

func (fs *fakeServer) count(path string) int {
	n := 0
	for _, p := range fs.requests() {
		if strings.EqualFold(p, path) {
			n++
		}
	}
	return n
}

// keyPath is /name/ID/name for the test key.
func keyPath(k Key, file string) string { return "/" + k.Name + "/" + k.ID + "/" + file }

// noNetwork is a client whose every request fails the test.
func noNetwork(t *testing.T) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("network used: %s %s", r.Method, r.URL)
		return nil, errors.New("network disabled in this test")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// files lists every regular file under root, relative, with '/'.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// noTemps fails when a temporary download file is left under root.
func noTemps(t *testing.T, root string) {
	t.Helper()
	for _, f := range files(t, root) {
		if strings.HasSuffix(f, ".tmp") {
			t.Errorf("temporary file left behind: %s", f)
		}
	}
}

// newFinder is a Finder on path with a cache under a fresh directory and a
// log collected for the test's failure output.
func newFinder(t *testing.T, path string) (*Finder, *[]string) {
	t.Helper()
	p, err := ParsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	f := &Finder{Path: p, Log: func(s string) {
		mu.Lock()
		lines = append(lines, s)
		mu.Unlock()
	}}
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("noisy log:\n%s", strings.Join(lines, "\n"))
			mu.Unlock()
		}
	})
	return f, &lines
}

func mustWrite(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
