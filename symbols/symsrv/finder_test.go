package symsrv

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Plain directories: WinDbg's flat places in its order, then the store
// layout (one- and two-tier), compressed files and file.ptr — and never a
// socket.
func TestPlainDirectoryLayouts(t *testing.T) {
	good := fakePDB(testGUID, testAge, 3000)
	other := fakePDB([16]byte{9}, 1, 3000)
	v := pdbValidator(testGUID, testAge)
	k := testKey
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, d string)
		want  string // relative to d, or to the cache when prefixed "cache:"
		key   Key
	}{
		{"symbols/ext", func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, "symbols", "dll", k.Name), good) }, "symbols/dll/ntdll.pdb", Key{Name: k.Name, ID: k.ID, ImageExt: "DLL"}},
		{"ext", func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, "pdb", k.Name), good) }, "pdb/ntdll.pdb", k},
		{"flat", func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, k.Name), good) }, "ntdll.pdb", k},
		{"flat wrong GUID, store right", func(t *testing.T, d string) {
			mustWrite(t, filepath.Join(d, "pdb", k.Name), other)
			mustWrite(t, filepath.Join(d, k.Name, k.ID, k.Name), good)
		}, "ntdll.pdb/" + k.ID + "/ntdll.pdb", k},
		{"one-tier", func(t *testing.T, d string) { mustWrite(t, filepath.Join(d, k.Name, k.ID, k.Name), good) }, "ntdll.pdb/" + k.ID + "/ntdll.pdb", k},
		{"one-tier other case", func(t *testing.T, d string) {
			mustWrite(t, filepath.Join(d, "NTDLL.PDB", strings.ToLower(k.ID), "NtDll.pdb"), good)
		}, "NTDLL.PDB/" + strings.ToLower(k.ID) + "/NtDll.pdb", k},
		{"two-tier", func(t *testing.T, d string) {
			mustWrite(t, filepath.Join(d, "index2.txt"), []byte("two tier\n"))
			mustWrite(t, filepath.Join(d, "nt", k.Name, k.ID, k.Name), good)
		}, "nt/ntdll.pdb/" + k.ID + "/ntdll.pdb", k},
		{"compressed in store", func(t *testing.T, d string) {
			mustWrite(t, filepath.Join(d, k.Name, k.ID, "ntdll.pd_"), mszipCab("ntdll.pdb", good))
		}, "cache:ntdll.pdb/" + k.ID + "/ntdll.pdb", k},
		{"file.ptr", func(t *testing.T, d string) {
			target := filepath.Join(d, "elsewhere", "real.pdb")
			mustWrite(t, target, good)
			mustWrite(t, filepath.Join(d, k.Name, k.ID, "file.ptr"), []byte("PATH:"+target+"\r\n"))
		}, "elsewhere/real.pdb", k},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, cache := t.TempDir(), t.TempDir()
			c.setup(t, d)
			f, _ := newFinder(t, d)
			f.Client = noNetwork(t)
			f.DefaultCache = cache
			got, err := f.Find(context.Background(), c.key, v)
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(d, filepath.FromSlash(c.want))
			if rest, ok := strings.CutPrefix(c.want, "cache:"); ok {
				want = filepath.Join(cache, filepath.FromSlash(rest))
			}
			if got != want {
				t.Errorf("found %s, want %s", got, want)
			}
			if b, _ := os.ReadFile(got); !bytes.Equal(b, good) {
				t.Error("wrong contents")
			}
			noTemps(t, cache)
		})
	}
}

// The noisy log names every place tried, in order, and why a file was
// refused.
func TestNoisyLog(t *testing.T) {
	d := t.TempDir()
	mustWrite(t, filepath.Join(d, "ntdll.pdb"), fakePDB([16]byte{1}, 1, 100))
	f, lines := newFinder(t, d)
	f.Client = noNetwork(t)
	_, err := f.Find(context.Background(), testKey, pdbValidator(testGUID, testAge))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "GUID differs") {
		t.Fatalf("err %v", err)
	}
	log := strings.Join(*lines, "\n")
	var idx []int
	for _, s := range []string{
		filepath.Join(d, "symbols", "pdb", "ntdll.pdb") + " - file not found",
		filepath.Join(d, "pdb", "ntdll.pdb") + " - file not found",
		filepath.Join(d, "ntdll.pdb") + " - refused: GUID differs",
		filepath.Join(d, "ntdll.pd_") + " - file not found",
		filepath.Join(d, "ntdll.pdb", testKey.ID, "ntdll.pdb") + " - file not found",
		filepath.Join(d, "ntdll.pdb", testKey.ID, "file.ptr") + " - file not found",
	} {
		i := strings.Index(log, s)
		if i < 0 {
			t.Errorf("log lacks %q", s)
		}
		idx = append(idx, i)
	}
	if !slices.IsSorted(idx) {
		t.Errorf("steps out of order: %v\n%s", idx, log)
	}
}

// cache*DIR copies what elements to its right find; srv*A*B*STORE copies
// from B (and a store upstream) into A. None of it uses the network.
func TestCacheCopies(t *testing.T) {
	good := fakePDB(testGUID, testAge, 5000)
	v := pdbValidator(testGUID, testAge)
	t.Run("cache*", func(t *testing.T) {
		c, d := t.TempDir(), t.TempDir()
		mustWrite(t, filepath.Join(d, "ntdll.pdb"), good)
		f, _ := newFinder(t, "cache*"+c+";"+d)
		f.Client = noNetwork(t)
		got, err := f.Find(context.Background(), testKey, v)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(c, "ntdll.pdb", testKey.ID, "ntdll.pdb"); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		os.Remove(filepath.Join(d, "ntdll.pdb"))
		if got2, err := f.Find(context.Background(), testKey, v); err != nil || got2 != got {
			t.Errorf("second lookup not served from the cache: %s %v", got2, err)
		}
		noTemps(t, c)
	})
	t.Run("srv cascade", func(t *testing.T) {
		a, b, up := t.TempDir(), t.TempDir(), t.TempDir()
		mustWrite(t, filepath.Join(up, "ntdll.pdb", testKey.ID, "ntdll.pdb"), good)
		f, _ := newFinder(t, "srv*"+a+"*"+b+"*"+up)
		f.Client = noNetwork(t)
		got, err := f.Find(context.Background(), testKey, v)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(a, "ntdll.pdb", testKey.ID, "ntdll.pdb"); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		// Now only in b: copied up into a.
		os.RemoveAll(filepath.Join(a, "ntdll.pdb"))
		os.RemoveAll(filepath.Join(up, "ntdll.pdb"))
		mustWrite(t, filepath.Join(b, "ntdll.pdb", testKey.ID, "ntdll.pdb"), good)
		if got, err := f.Find(context.Background(), testKey, v); err != nil || !strings.HasPrefix(got, a) {
			t.Errorf("from b: %s %v", got, err)
		}
	})
}

// A path of directories, caches and store directories never opens a
// socket, even when nothing is found.
func TestDirectoryOnlyPathNoNetwork(t *testing.T) {
	root := t.TempDir()
	path := strings.Join([]string{filepath.Join(root, "d"), "cache*" + filepath.Join(root, "c"), "srv*" + filepath.Join(root, "s"), "cache*"}, ";")
	f, _ := newFinder(t, path)
	f.Client = noNetwork(t)
	f.DefaultCache = filepath.Join(root, "default")
	if f.Path.HasServer() {
		t.Fatal("HasServer")
	}
	if _, err := f.Find(context.Background(), testKey, nil); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Errorf("files created: %v", got)
	}
}

// file.ptr: PATH: and bare paths are followed to local files only; MSG:
// reaches the user; URLs and relative paths are refused.
func TestLocalFilePtr(t *testing.T) {
	good := fakePDB(testGUID, testAge, 500)
	for _, c := range []struct{ ptr, want, warn string }{
		{"PATH:%T", "%T", ""},
		{"%T\n", "%T", ""},
		{"MSG: Symbols for this build are archived; ask build@example", "", "archived"},
		{"PATH:https://example.test/x.pdb", "", ""},
		{"PATH:relative/real.pdb", "", ""},
		{"PATH:%T.missing", "", ""},
	} {
		d := t.TempDir()
		target := filepath.Join(d, "real.pdb")
		mustWrite(t, target, good)
		mustWrite(t, filepath.Join(d, "store", "ntdll.pdb", testKey.ID, "file.ptr"), []byte(strings.ReplaceAll(c.ptr, "%T", target)))
		f, _ := newFinder(t, "srv*"+filepath.Join(d, "store"))
		f.Client = noNetwork(t)
		var warned []string
		f.Warn = func(s string) { warned = append(warned, s) }
		got, err := f.Find(context.Background(), testKey, pdbValidator(testGUID, testAge))
		want := strings.ReplaceAll(c.want, "%T", target)
		if got != want || (want == "") != errors.Is(err, ErrNotFound) {
			t.Errorf("%q: got %q, %v; want %q", c.ptr, got, err, want)
		}
		if c.warn != "" && (len(warned) != 1 || !strings.Contains(warned[0], c.warn)) {
			t.Errorf("%q: warnings %q", c.ptr, warned)
		}
	}
}

// Hostile names are reduced to base names or refused before any file
// system or network access; nothing is written outside the cache.
func TestHostileNamesLocal(t *testing.T) {
	root := t.TempDir()
	cache := filepath.Join(root, "cache")
	d := filepath.Join(root, "dir")
	mustWrite(t, filepath.Join(d, "x.pdb"), []byte("x"))
	f, _ := newFinder(t, "cache*"+cache+";"+d)
	f.Client = noNetwork(t)
	for _, name := range []string{`..\..\x.pdb`, `../../x.pdb`, `C:\Windows\x.pdb`, `/etc/x.pdb`} {
		got, err := f.Find(context.Background(), Key{Name: name, ID: "0123ABCD1"}, nil)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if want := filepath.Join(cache, "x.pdb", "0123ABCD1", "x.pdb"); got != want {
			t.Errorf("%q: %s, want %s", name, got, want)
		}
	}
	for _, k := range []Key{{Name: "x\x00.pdb", ID: "1"}, {Name: "..", ID: "1"}, {Name: "x.pdb", ID: "../1"}, {Name: `x.pdb\..`, ID: "1"}} {
		if _, err := f.Find(context.Background(), k, nil); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v", k, err)
		}
	}
	want := []string{"cache/x.pdb/0123ABCD1/x.pdb", "dir/x.pdb"}
	if got := files(t, root); !slices.Equal(got, want) {
		t.Errorf("files %v, want %v", got, want)
	}
}

// A symbolic link planted in the cache must not redirect a write outside.
func TestCacheSymlinkNotFollowedOut(t *testing.T) {
	root := t.TempDir()
	cache, outside, d := filepath.Join(root, "cache"), filepath.Join(root, "outside"), filepath.Join(root, "d")
	os.MkdirAll(cache, 0o755)
	os.MkdirAll(outside, 0o755)
	if err := os.Symlink(outside, filepath.Join(cache, "x.pdb")); err != nil {
		t.Skip("no symlinks:", err)
	}
	mustWrite(t, filepath.Join(d, "x.pdb"), []byte("x"))
	f, _ := newFinder(t, "cache*"+cache+";"+d)
	f.Client = noNetwork(t)
	got, err := f.Find(context.Background(), Key{Name: "x.pdb", ID: "AB"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(d, "x.pdb") {
		t.Errorf("got %s (expected the uncached original)", got)
	}
	if got := files(t, outside); len(got) != 0 {
		t.Errorf("written through the link: %v", got)
	}
}
