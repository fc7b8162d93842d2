package symsrv

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"wdb/symbols/cab"
)

// serverFinder is a Finder on srv*CACHE*URL with a fresh cache.
func serverFinder(t *testing.T, fs *fakeServer) (*Finder, string) {
	cache := filepath.Join(t.TempDir(), "cache")
	f, _ := newFinder(t, "srv*"+cache+"*"+fs.URL)
	return f, cache
}

var v = pdbValidator(testGUID, testAge)

func TestOneTierServer(t *testing.T) {
	fs := newFakeServer(t)
	good := fakePDB(testGUID, testAge, 100_000)
	fs.file(keyPath(testKey, "ntdll.pdb"), good)
	f, cache := serverFinder(t, fs)
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "ntdll.pdb", testKey.ID, "ntdll.pdb"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, good) {
		t.Error("contents differ")
	}
	want := []string{"/index2.txt", keyPath(testKey, "ntdll.pdb")}
	if r := fs.requests(); !slices.Equal(r, want) {
		t.Errorf("requests %v, want %v", r, want)
	}
	// The same session, and a new session on the same cache: no requests.
	for _, f := range []*Finder{f, {Path: f.Path}} {
		if got2, err := f.Find(context.Background(), testKey, v); err != nil || got2 != got {
			t.Errorf("cached lookup: %s %v", got2, err)
		}
	}
	if r := fs.requests(); len(r) != 2 {
		t.Errorf("the cache did not prevent a second download: %v", r)
	}
	if st, _ := os.Stat(got); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	noTemps(t, cache)
}

func TestTwoTierServer(t *testing.T) {
	fs := newFakeServer(t)
	fs.file("/index2.txt", []byte("\n"))
	good := fakePDB(testGUID, testAge, 4000)
	fs.file("/nt"+keyPath(testKey, "ntdll.pdb"), good)
	k2 := ImageKey("kernel32.dll", 0x5f000000, 0x1000)
	img := []byte("MZ fake image")
	fs.file("/ke"+keyPath(k2, "kernel32.dll"), img)
	f, cache := serverFinder(t, fs)
	if _, err := f.Find(context.Background(), testKey, v); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Find(context.Background(), k2, nil); err != nil || got != filepath.Join(cache, "kernel32.dll", k2.ID, "kernel32.dll") {
		t.Fatal(got, err)
	}
	if n := fs.count("/index2.txt"); n != 1 {
		t.Errorf("index2.txt asked %d times, want once per session", n)
	}
	// The cache has no index2.txt, so it stays one-tier.
	want := []string{"kernel32.dll/" + k2.ID + "/kernel32.dll", "ntdll.pdb/" + testKey.ID + "/ntdll.pdb"}
	if got := files(t, cache); !slices.Equal(got, want) {
		t.Errorf("cache %v, want %v", got, want)
	}
}

// A two-tier cache gets two-tier writes.
func TestTwoTierCache(t *testing.T) {
	fs := newFakeServer(t)
	fs.file(keyPath(testKey, "ntdll.pdb"), fakePDB(testGUID, testAge, 100))
	f, cache := serverFinder(t, fs)
	mustWrite(t, filepath.Join(cache, "index2.txt"), nil)
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil || got != filepath.Join(cache, "nt", "ntdll.pdb", testKey.ID, "ntdll.pdb") {
		t.Fatal(got, err)
	}
}

// Keys are case-insensitive for servers: a lower-case request works
// against a store written with upper case, and the upper-case one too.
func TestKeyCase(t *testing.T) {
	fs := newFakeServer(t)
	fs.file(keyPath(testKey, "ntdll.pdb"), fakePDB(testGUID, testAge, 100))
	for _, k := range []Key{{Name: "NTDLL.PDB", ID: strings.ToLower(testKey.ID)}, testKey} {
		f, _ := serverFinder(t, fs)
		if _, err := f.Find(context.Background(), k, v); err != nil {
			t.Errorf("%v: %v", k, err)
		}
	}
	r := fs.requests()
	if !slices.Contains(r, "/NTDLL.PDB/"+strings.ToLower(testKey.ID)+"/NTDLL.PDB") || !slices.Contains(r, keyPath(testKey, "ntdll.pdb")) {
		t.Errorf("requests %v", r)
	}
}

func TestCompressedOnly(t *testing.T) {
	fs := newFakeServer(t)
	good := fakePDB(testGUID, testAge, 200_000) // several 32 KiB MSZIP blocks
	fs.file(keyPath(testKey, "ntdll.pd_"), mszipCab("ntdll.pdb", good))
	f, cache := serverFinder(t, fs)
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, good) {
		t.Error("expanded contents differ")
	}
	want := []string{"/index2.txt", keyPath(testKey, "ntdll.pdb"), keyPath(testKey, "ntdll.pd_")}
	if r := fs.requests(); !slices.Equal(r, want) {
		t.Errorf("requests %v, want %v", r, want)
	}
	if got := files(t, cache); !slices.Equal(got, []string{"ntdll.pdb/" + testKey.ID + "/ntdll.pdb"}) {
		t.Errorf("cache holds %v (the .pd_ must not be kept)", got)
	}
}

// LZX-compressed .dl_ served by a store: expanded through package cab,
// using its fixture (two members; the one named like the key is taken).
func TestCompressedLZX(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "cab", "testdata", "lzx21.cab"))
	if err != nil {
		t.Skip("cab fixture missing:", err)
	}
	c, err := cab.Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil || len(c.Files) < 2 || c.Folders[c.Files[1].Folder].Compression != cab.LZX {
		t.Skip("fixture changed")
	}
	var want bytes.Buffer
	if err := c.Extract(&c.Files[1], &want); err != nil {
		t.Fatal(err)
	}
	k := Key{Name: c.Files[1].Name, ID: "5F0000001000"}
	fs := newFakeServer(t)
	fs.file(keyPath(k, compressedName(k.Name)), raw)
	f, _ := serverFinder(t, fs)
	got, err := f.Find(context.Background(), k, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, want.Bytes()) {
		t.Error("expanded contents differ")
	}
}

func TestServerFilePtr(t *testing.T) {
	local := filepath.Join(t.TempDir(), "share", "ntdll.pdb")
	mustWrite(t, local, fakePDB(testGUID, testAge, 100))
	fs := newFakeServer(t)
	fs.file(keyPath(testKey, "file.ptr"), []byte("PATH:"+local))
	f, cache := serverFinder(t, fs)
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil || got != local {
		t.Fatalf("got %s %v, want %s", got, err, local)
	}
	want := []string{"/index2.txt", keyPath(testKey, "ntdll.pdb"), keyPath(testKey, "ntdll.pd_"), keyPath(testKey, "file.ptr")}
	if r := fs.requests(); !slices.Equal(r, want) {
		t.Errorf("probing order %v, want %v", r, want)
	}
	if got := files(t, filepath.Dir(cache)); len(got) != 0 {
		t.Errorf("cache written: %v", got)
	}

	fs2 := newFakeServer(t)
	fs2.file(keyPath(testKey, "file.ptr"), []byte("MSG: \x1b[2Jthis build's symbols were withdrawn"))
	f2, _ := serverFinder(t, fs2)
	var warned []string
	f2.Warn = func(s string) { warned = append(warned, s) }
	if _, err := f2.Find(context.Background(), testKey, v); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "withdrawn") || strings.ContainsRune(warned[0], 0x1b) {
		t.Errorf("warnings %q", warned)
	}
}

func TestRedirect(t *testing.T) {
	fs := newFakeServer(t)
	good := fakePDB(testGUID, testAge, 1000)
	fs.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/blob/abc123?sig=x", http.StatusFound)
	})
	fs.file("/blob/abc123", good)
	f, _ := serverFinder(t, fs)
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, good) {
		t.Error("contents differ")
	}
}

func TestNotFoundEverywhere(t *testing.T) {
	fs := newFakeServer(t)
	f, cache := serverFinder(t, fs)
	_, err := f.Find(context.Background(), testKey, v)
	if !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	want := []string{"/index2.txt", keyPath(testKey, "ntdll.pdb"), keyPath(testKey, "ntdll.pd_"), keyPath(testKey, "file.ptr")}
	if r := fs.requests(); !slices.Equal(r, want) {
		t.Errorf("requests %v, want %v", r, want)
	}
	if got := files(t, filepath.Dir(cache)); len(got) != 0 {
		t.Errorf("files written: %v", got)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("empty key directories left in the cache: %v", ents)
	}
}

// A server answering 500 is retried once, then given up on for the
// session; the next element is used.
func TestServerErrorNextElement(t *testing.T) {
	bad, good := newFakeServer(t), newFakeServer(t)
	bad.status("*", http.StatusInternalServerError)
	good.file(keyPath(testKey, "ntdll.pdb"), fakePDB(testGUID, testAge, 100))
	cache := filepath.Join(t.TempDir(), "c")
	f, _ := newFinder(t, "srv*"+cache+"*"+bad.URL+";srv*"+cache+"*"+good.URL)
	var warned []string
	f.Warn = func(s string) { warned = append(warned, s) }
	if _, err := f.Find(context.Background(), testKey, v); err != nil {
		t.Fatal(err)
	}
	if r := bad.requests(); !slices.Equal(r, []string{"/index2.txt", "/index2.txt"}) {
		t.Errorf("bad server saw %v, want index2.txt twice (one retry)", r)
	}
	if _, err := f.Find(context.Background(), Key{Name: "other.pdb", ID: "AB1"}, v); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if n := len(bad.requests()); n != 2 {
		t.Errorf("a failed server was asked again (%d requests)", n)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], bad.URL) {
		t.Errorf("warnings %q", warned)
	}
	f.ResetServers()
	f.Find(context.Background(), Key{Name: "other.pdb", ID: "AB1"}, v)
	if n := len(bad.requests()); n != 4 {
		t.Errorf("ResetServers: %d requests", n)
	}
}

// A 500 on the file itself, then 200 on the retry.
func TestTransientRetried(t *testing.T) {
	fs := newFakeServer(t)
	var n int
	var mu sync.Mutex
	good := fakePDB(testGUID, testAge, 100)
	fs.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		if first {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Write(good)
	})
	f, _ := serverFinder(t, fs)
	if _, err := f.Find(context.Background(), testKey, v); err != nil {
		t.Fatal(err)
	}
	if c := fs.count(keyPath(testKey, "ntdll.pdb")); c != 2 {
		t.Errorf("%d requests", c)
	}
}

// An HTML page served with 200 (misconfigured server) is refused by
// validation, not cached, and the search goes on (.pd_, file.ptr).
func TestHTMLRefusedNotCached(t *testing.T) {
	fs := newFakeServer(t)
	fs.handle("*", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Welcome to our portal</body></html>"))
	})
	f, cache := serverFinder(t, fs)
	_, err := f.Find(context.Background(), testKey, v)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "MSF magic") {
		t.Fatalf("err %v", err)
	}
	// index2.txt as HTML does not make the store two-tier.
	want := []string{"/index2.txt", keyPath(testKey, "ntdll.pdb"), keyPath(testKey, "ntdll.pd_"), keyPath(testKey, "file.ptr")}
	if r := fs.requests(); !slices.Equal(r, want) {
		t.Errorf("requests %v, want %v", r, want)
	}
	if got := files(t, filepath.Dir(cache)); len(got) != 0 {
		t.Errorf("refused file cached: %v", got)
	}
}

func TestWrongGUIDOrAge(t *testing.T) {
	for _, c := range []struct {
		body []byte
		why  string
	}{
		{fakePDB([16]byte{1, 2, 3}, testAge, 100), "GUID differs"},
		{fakePDB(testGUID, testAge+1, 100), "age differs"},
	} {
		fs := newFakeServer(t)
		fs.file(keyPath(testKey, "ntdll.pdb"), c.body)
		f, cache := serverFinder(t, fs)
		_, err := f.Find(context.Background(), testKey, v)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("err %v, want %q", err, c.why)
		}
		if got := files(t, filepath.Dir(cache)); len(got) != 0 {
			t.Errorf("mismatched file cached: %v", got)
		}
	}
}

// A body shorter than its Content-Length is retried, then the server is
// given up on; nothing is cached.
func TestTruncatedBody(t *testing.T) {
	fs := newFakeServer(t)
	good := fakePDB(testGUID, testAge, 10000)
	fs.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(good)))
		w.Write(good[:5000])
	})
	f, cache := serverFinder(t, fs)
	_, err := f.Find(context.Background(), testKey, v)
	if !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if c := fs.count(keyPath(testKey, "ntdll.pdb")); c != 2 {
		t.Errorf("%d requests, want 2 (one retry)", c)
	}
	if got := files(t, filepath.Dir(cache)); len(got) != 0 {
		t.Errorf("truncated file cached: %v", got)
	}
}

func TestGzipResponse(t *testing.T) {
	fs := newFakeServer(t)
	good := fakePDB(testGUID, testAge, 50000)
	fs.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write(good)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(good)
		zw.Close()
	})
	f, _ := serverFinder(t, fs)
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, good) {
		t.Error("contents differ")
	}
}

// A server that never answers, and one that stalls mid-body, time out
// (short timeouts here) and are given up on.
func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	wait := func(r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	silent := newFakeServer(t)
	silent.handle("*", func(w http.ResponseWriter, r *http.Request) { wait(r) })
	stall := newFakeServer(t)
	stall.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		wait(r)
	})
	for _, fs := range []*fakeServer{silent, stall} {
		f, cache := serverFinder(t, fs)
		f.HeaderTimeout, f.IdleTimeout = 200*time.Millisecond, 200*time.Millisecond
		start := time.Now()
		_, err := f.Find(context.Background(), testKey, v)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("err %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v", d)
		}
		if r := fs.requests(); len(r) != 1 && (len(r) != 2 || r[0] != "/index2.txt") {
			t.Errorf("requests %v: a timeout must not be retried, and it ends the server's use", r)
		}
		noTemps(t, filepath.Dir(cache))
		if got := files(t, filepath.Dir(cache)); len(got) != 0 {
			t.Errorf("files left: %v", got)
		}
	}
}

// Ctrl-C in the middle of a download stops it at once and leaves no
// partial or temporary file.
func TestCancelMidDownload(t *testing.T) {
	fs := newFakeServer(t)
	started := make(chan struct{})
	fs.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10000000")
		w.Write(fakePDB(testGUID, testAge, 64<<10))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	})
	f, cache := serverFinder(t, fs)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := f.Find(ctx, testKey, v)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if got := files(t, filepath.Dir(cache)); len(got) != 0 {
		t.Errorf("files left after cancel: %v", got)
	}
	if n := len(fs.requests()); n != 2 {
		t.Errorf("requests %v: cancellation must stop the search", fs.requests())
	}
}

// A download that lasts longer than ProgressDelay reports progress and
// ends with a Finished call.
func TestProgress(t *testing.T) {
	fs := newFakeServer(t)
	good := fakePDB(testGUID, testAge, 40000)
	fs.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(good)))
		for i := 0; i < len(good); i += 4000 {
			w.Write(good[i:min(i+4000, len(good))])
			w.(http.Flusher).Flush()
			time.Sleep(15 * time.Millisecond)
		}
	})
	f, _ := serverFinder(t, fs)
	f.ProgressDelay = 30 * time.Millisecond
	var ps []Progress
	f.Progress = func(p Progress) { ps = append(ps, p) }
	if _, err := f.Find(context.Background(), testKey, v); err != nil {
		t.Fatal(err)
	}
	if len(ps) < 2 {
		t.Fatalf("progress calls %v", ps)
	}
	last := ps[len(ps)-1]
	if !last.Finished || last.Done != int64(len(good)) || last.Total != int64(len(good)) {
		t.Errorf("last progress %+v", last)
	}
	for _, p := range ps[:len(ps)-1] {
		if p.Finished || p.Done > p.Total {
			t.Errorf("progress %+v", p)
		}
	}
	// A quick download reports nothing.
	ps = nil
	k2 := Key{Name: "quick.pdb", ID: "AB"}
	fs.file(keyPath(k2, "quick.pdb"), []byte("q"))
	if _, err := f.Find(context.Background(), k2, nil); err != nil || len(ps) != 0 {
		t.Errorf("quick download: %v, %v", err, ps)
	}
}

// Hostile names from a dump against a server that answers everything:
// files land only under the cache, as base names; bad names never reach
// the network.
func TestHostileNamesServer(t *testing.T) {
	root := t.TempDir()
	cache := filepath.Join(root, "sub", "cache")
	fs := newFakeServer(t)
	fs.handle("*", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "index2.txt") {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("payload"))
	})
	f, _ := newFinder(t, "srv*"+cache+"*"+fs.URL)
	for _, name := range []string{`..\..\x.pdb`, `/etc/passwd`, `C:\Windows\x.pdb`, `..%2f..%2fy.pdb`, `C:..\z.pdb`} {
		if _, err := f.Find(context.Background(), Key{Name: name, ID: "ABCDEF1"}, nil); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	before := len(fs.requests())
	for _, k := range []Key{{Name: "x\x00.pdb", ID: "1"}, {Name: `a\..`, ID: "1"}, {Name: "x.pdb", ID: `..\..\1`}, {Name: "x.pdb", ID: "1/../.."}, {Name: "nul", ID: "1"}} {
		if _, err := f.Find(context.Background(), k, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v", k, err)
		}
	}
	if n := len(fs.requests()); n != before {
		t.Errorf("refused names reached the network: %v", fs.requests()[before:])
	}
	want := []string{
		"sub/cache/..%2f..%2fy.pdb/ABCDEF1/..%2f..%2fy.pdb",
		"sub/cache/passwd/ABCDEF1/passwd",
		"sub/cache/x.pdb/ABCDEF1/x.pdb",
		"sub/cache/z.pdb/ABCDEF1/z.pdb",
	}
	if got := files(t, root); !slices.Equal(got, want) {
		t.Errorf("files under the test root:\n%v\nwant\n%v", got, want)
	}
	for _, r := range fs.requests() {
		if strings.Contains(r, "..") && !strings.Contains(r, "%2f") {
			t.Errorf("request path %q", r)
		}
	}
}

// srv*URL with no cache uses DefaultCache; with no default cache the
// server is skipped without a request.
func TestDefaultCache(t *testing.T) {
	fs := newFakeServer(t)
	fs.file(keyPath(testKey, "ntdll.pdb"), fakePDB(testGUID, testAge, 100))
	f, _ := newFinder(t, "srv*"+fs.URL)
	if _, err := f.Find(context.Background(), testKey, v); !errors.Is(err, ErrNotFound) || len(fs.requests()) != 0 {
		t.Errorf("no cache: %v, %v", err, fs.requests())
	}
	f.DefaultCache = t.TempDir()
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil || !strings.HasPrefix(got, f.DefaultCache) {
		t.Errorf("default cache: %s %v", got, err)
	}
	// cache*DIR to the left serves as the server's downstream store
	// (.symfix CACHE expands to cache*CACHE;srv*URL).
	c := t.TempDir()
	f2, _ := newFinder(t, "cache*"+c+";srv*"+fs.URL)
	if got, err := f2.Find(context.Background(), testKey, v); err != nil || !strings.HasPrefix(got, c) {
		t.Errorf("cache*: %s %v", got, err)
	}
}

// A file.ptr naming a local CAB (a .pd_ on a share) is expanded into the
// cache, not returned raw.
func TestServerFilePtrToCab(t *testing.T) {
	good := fakePDB(testGUID, testAge, 70000)
	local := filepath.Join(t.TempDir(), "share", "ntdll.pd_")
	mustWrite(t, local, mszipCab("ntdll.pdb", good))
	fs := newFakeServer(t)
	fs.file(keyPath(testKey, "file.ptr"), []byte(local+"\r\n"))
	f, cache := serverFinder(t, fs)
	got, err := f.Find(context.Background(), testKey, v)
	if err != nil || got != filepath.Join(cache, "ntdll.pdb", testKey.ID, "ntdll.pdb") {
		t.Fatal(got, err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, good) {
		t.Error("contents differ")
	}
}

// MaxDownload bounds what a server can make us write, with or without a
// Content-Length.
func TestMaxDownload(t *testing.T) {
	big := fakePDB(testGUID, testAge, 5000)
	fs := newFakeServer(t)
	fs.handle(keyPath(testKey, "ntdll.pdb"), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	})
	fs.handle(keyPath(testKey, "ntdll.pd_"), func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ { // chunked, no length
			w.Write(big[:1000])
			w.(http.Flusher).Flush()
		}
	})
	cache := filepath.Join(t.TempDir(), "cache")
	f, lines := newFinder(t, "srv*"+cache+"*"+fs.URL)
	f.MaxDownload = 2000
	_, err := f.Find(context.Background(), testKey, v)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "5000 bytes, over the 2000-byte limit") {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(*lines, "\n"), "ntdll.pd_ - refused: more than 2000 bytes") {
		t.Error("chunked body not cut at the limit")
	}
	if got := files(t, filepath.Dir(cache)); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}
