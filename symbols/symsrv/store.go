package symsrv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"wdb/symbols/cab"
)

// maxPtrSize bounds a file.ptr: it holds one path or message.
const maxPtrSize = 4096

// errRefused marks a candidate that exists but was rejected (validate
// failed, CAB did not expand); the search goes on.
var errRefused = errors.New("refused")

// failure is an error of a known kind (errRefused, errDown, ...) whose
// message is only the reason, so logs need no prefix trimming.
type failure struct {
	kind error
	msg  string
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.kind }

func fail(kind error, format string, args ...any) error {
	return &failure{kind, fmt.Sprintf(format, args...)}
}

// twoTier reports whether the store at root is two-tier: symstore puts an
// index2.txt at the root of such stores.
func twoTier(root string) bool {
	return isRegular(filepath.Join(root, "index2.txt"))
}

// tierPrefix is the extra directory of a two-tier store: the file name's
// first two characters, lower case (case is compared loosely when reading).
func tierPrefix(name string) string {
	r := []rune(strings.ToLower(name))
	if len(r) > 2 {
		r = r[:2]
	}
	return string(r)
}

// keyParts are the directories of k's key directory inside a store.
func keyParts(k Key, two bool) []string {
	if two {
		return []string{tierPrefix(k.Name), k.Name, k.ID}
	}
	return []string{k.Name, k.ID}
}

// lookupFold finds root/parts... matching each component exactly or,
// failing that, case-insensitively: stores copied from Windows keep
// whatever case the writer used ("NTDLL.PDB", lower-case GUIDs), and Linux
// file systems are case-sensitive. It returns "" when nothing matches.
func lookupFold(root string, parts ...string) string {
	if _, err := safeJoin(root, parts...); err != nil {
		return ""
	}
	cur := root
	for _, p := range parts {
		next := filepath.Join(cur, p)
		if _, err := os.Lstat(next); err != nil {
			ents, err := os.ReadDir(cur)
			if err != nil {
				return ""
			}
			next = ""
			for _, e := range ents {
				if strings.EqualFold(e.Name(), p) {
					next = filepath.Join(cur, e.Name())
					break
				}
			}
			if next == "" {
				return ""
			}
		}
		cur = next
	}
	return cur
}

// probeFlat searches a plain directory as WinDbg does for a file of this
// type: D\symbols\<ext>\name, D\<ext>\name, D\name (each also compressed),
// then the store layout under D.
func (s *search) probeFlat(dir, dest string) (string, error) {
	ext := s.key.ImageExt
	if ext == "" {
		ext = extOf(s.key.Name)
	}
	var subdirs [][]string
	if ext != "" {
		subdirs = append(subdirs, []string{"symbols", ext}, []string{ext})
	}
	subdirs = append(subdirs, nil)
	for _, sub := range subdirs {
		where := filepath.Join(append([]string{dir}, sub...)...)
		if p, err := s.tryFile(where, dir, sub, dest, "DBGHELP: "); p != "" || err != nil {
			return p, err
		}
	}
	return s.probeStore(dir, dest)
}

// tryFile looks for the key's file, then its compressed form, in
// root/sub; where is that directory for the log.
func (s *search) tryFile(where, root string, sub []string, dest, tag string) (string, error) {
	if p := lookupFold(root, append(sub, s.key.Name)...); p != "" && isRegular(p) {
		if r, err := s.acceptLocal(p, dest, tag); r != "" || err != nil {
			return r, err
		}
	} else {
		s.logf("%s%s - file not found", tag, filepath.Join(where, s.key.Name))
	}
	if c := compressedName(s.key.Name); c != "" {
		if p := lookupFold(root, append(sub, c)...); p != "" && isRegular(p) {
			return s.expandLocal(p, dest, tag)
		}
		s.logf("%s%s - file not found", tag, filepath.Join(where, c))
	}
	return "", nil
}

// probeStore searches a symstore-layout store (one- or two-tier) for the
// file, its compressed form and file.ptr, in that order (symsrv's order).
// dest, when set, is the store that receives a copy.
func (s *search) probeStore(root, dest string) (string, error) {
	if !isDir(root) {
		s.logf("SYMSRV:  %s - store not found", root)
		return "", nil
	}
	parts := keyParts(s.key, twoTier(root))
	if _, err := safeJoin(root, parts...); err != nil {
		s.logf("SYMSRV:  %s: %v", root, err)
		return "", nil
	}
	where := filepath.Join(append([]string{root}, parts...)...)
	if p, err := s.tryFile(where, root, parts, dest, "SYMSRV:  "); p != "" || err != nil {
		return p, err
	}
	ptr := lookupFold(root, append(parts, "file.ptr")...)
	if ptr == "" || !isRegular(ptr) {
		s.logf("SYMSRV:  %s - file not found", filepath.Join(where, "file.ptr"))
		return "", nil
	}
	b, err := readLimited(ptr, maxPtrSize)
	if err != nil {
		s.logf("SYMSRV:  %s: %v", ptr, err)
		return "", nil
	}
	return s.followPtr(ptr, b, dest)
}

// within reports whether p lies lexically under root (a file already in
// the cache needs no copy into it).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// isCabFile reports whether p starts with the cabinet signature: a
// file.ptr may point at a compressed .pd_ under any name.
func isCabFile(p string) bool {
	b, err := readLimited(p, 4)
	return err == nil && cab.IsCab(b)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func readLimited(p string, n int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// parsePtr reads a file.ptr: "PATH:<path>", "MSG:<text>" or a bare path,
// on its first line.
func parsePtr(b []byte) (path, msg string) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	switch {
	case len(line) >= 4 && strings.EqualFold(line[:4], "MSG:"):
		return "", strings.TrimSpace(line[4:])
	case len(line) >= 5 && strings.EqualFold(line[:5], "PATH:"):
		return strings.TrimSpace(line[5:]), ""
	}
	return line, ""
}

// followPtr acts on a file.ptr read from where: a MSG is shown to the user;
// a path is followed only when it is a local absolute path to a regular
// file (never a URL, never relative). The target is validated like any
// other candidate; a compressed target is expanded into a store.
func (s *search) followPtr(where string, b []byte, dest string) (string, error) {
	target, msg := parsePtr(b)
	if msg != "" {
		msg = cleanText(msg, 512)
		s.logf("SYMSRV:  %s: MSG: %s", where, msg)
		s.f.warn(fmt.Sprintf("SYMSRV:  %s: %s", s.key.Name, msg))
		return "", nil
	}
	shown := cleanText(target, 512)
	switch {
	case target == "":
		s.refuse(where, "empty file.ptr")
		return "", nil
	case isURL(target) || strings.Contains(target, "://"):
		s.refuse(where, fmt.Sprintf("file.ptr points to %s: only local paths are followed", shown))
		return "", nil
	case strings.ContainsRune(target, 0) || !filepath.IsAbs(target):
		s.refuse(where, fmt.Sprintf("file.ptr points to %s: not a local absolute path", shown))
		return "", nil
	}
	target = filepath.Clean(target)
	if !isRegular(target) {
		s.refuse(where, fmt.Sprintf("file.ptr points to %s: file not found", shown))
		return "", nil
	}
	s.logf("SYMSRV:  %s -> %s", where, shown)
	if isCabFile(target) {
		return s.expandLocal(target, dest, "SYMSRV:  ")
	}
	return s.acceptLocal(target, "", "SYMSRV:  ")
}

// acceptLocal validates an existing local file and, when dest is set,
// copies it into dest (cache* semantics) and returns the copy.
func (s *search) acceptLocal(p, dest, tag string) (string, error) {
	if err := s.check(p); err != nil {
		s.refuse(p, err.Error())
		return "", nil
	}
	if dest == "" || within(dest, p) {
		s.logf("%s%s - OK", tag, p)
		return p, nil
	}
	final, err := s.install(dest, func(create func() (*os.File, error)) (*os.File, error) {
		src, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		w, err := create()
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(w, ctxReader{s.ctx, src})
		return w, err
	}, true)
	if err != nil {
		if s.ctx.Err() != nil {
			return "", s.ctx.Err()
		}
		// The cache is a convenience; the file itself is good.
		s.logf("%s%s - OK (not copied to %s: %v)", tag, p, dest, err)
		return p, nil
	}
	s.logf("%s%s - OK, copied to %s", tag, p, final)
	return final, nil
}

// expandLocal expands a local CAB (name_) into dest or the default cache.
func (s *search) expandLocal(p, dest, tag string) (string, error) {
	if dest == "" {
		dest = s.f.DefaultCache
	}
	if dest == "" {
		s.refuse(p, "compressed, and there is no cache to expand it into")
		return "", nil
	}
	final, err := s.install(dest, func(create func() (*os.File, error)) (*os.File, error) {
		src, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		w, err := create()
		if err != nil {
			return nil, err
		}
		return w, s.expandCab(src, w)
	}, false)
	switch {
	case err == nil:
		s.logf("%s%s - OK, expanded to %s", tag, p, final)
		return final, nil
	case s.ctx.Err() != nil:
		return "", s.ctx.Err()
	}
	s.refuse(p, err.Error())
	return "", nil
}

// expandCab writes the member of the CAB in src that holds the key's file
// to w. A symbol-store CAB holds one file; with several, the one named
// like the key is taken. The member's name is never used as a path.
func (s *search) expandCab(src *os.File, w io.Writer) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	var sig [4]byte
	if _, err := src.ReadAt(sig[:], 0); err != nil || !cab.IsCab(sig[:]) {
		return fail(errRefused, "compressed file is not a cabinet")
	}
	c, err := cab.Open(src, fi.Size())
	if err != nil {
		return fail(errRefused, "%v", err)
	}
	var pick *cab.File
	for i := range c.Files {
		if strings.EqualFold(baseName(c.Files[i].Name), s.key.Name) {
			pick = &c.Files[i]
			break
		}
	}
	if pick == nil && len(c.Files) == 1 {
		pick = &c.Files[0]
	}
	if pick == nil {
		return fail(errRefused, "cabinet holds %d files, none named %s", len(c.Files), s.key.Name)
	}
	if int64(pick.Size) > s.f.maxDownload() {
		return fail(errRefused, "cabinet member is %d bytes (limit %d)", pick.Size, s.f.maxDownload())
	}
	if err := c.Extract(pick, ctxWriter{s.ctx, w}); err != nil {
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		return fail(errRefused, "expanding %s: %v", cleanText(pick.Name, 260), err)
	}
	return nil
}

// install writes the key's file into store: fill obtains temporary files
// in the final directory from create (the directory is made only then, so
// a miss leaves no empty directories) and returns the one holding the file.
// That one is validated (unless validated) and renamed into place; every
// other temporary file, and all of them on failure or Ctrl-C, is removed,
// so readers never see a partial file.
func (s *search) install(store string, fill func(create func() (*os.File, error)) (*os.File, error), validated bool) (string, error) {
	var dir, final string
	var temps []*os.File
	committed := ""
	defer func() {
		for _, t := range temps {
			t.Close()
			if t.Name() != committed {
				os.Remove(t.Name())
			}
		}
	}()
	create := func() (*os.File, error) {
		if dir == "" {
			var err error
			if dir, final, err = s.cachePaths(store); err != nil {
				dir = ""
				return nil, err
			}
		}
		t, err := os.CreateTemp(dir, ".wdb-*.tmp")
		if err != nil {
			return nil, err
		}
		temps = append(temps, t)
		return t, nil
	}
	out, err := fill(create)
	if err != nil {
		return "", err
	}
	if err := out.Chmod(0o644); err != nil {
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	if !validated {
		if err := s.check(out.Name()); err != nil {
			return "", fail(errRefused, "%v", err)
		}
	}
	if err := s.ctx.Err(); err != nil {
		return "", err
	}
	if err := os.Rename(out.Name(), final); err != nil {
		return "", err
	}
	committed = out.Name()
	return final, nil
}

// cachePaths creates the key directory in store and returns it with the
// final file's path, proving both stay inside store (also after links).
func (s *search) cachePaths(store string) (dir, final string, err error) {
	if err := os.MkdirAll(store, 0o755); err != nil {
		return "", "", err
	}
	parts := keyParts(s.key, twoTier(store))
	dir, err = safeJoin(store, parts...)
	if err != nil {
		return "", "", err
	}
	if final, err = safeJoin(dir, s.key.Name); err != nil {
		return "", "", err
	}
	// Reuse directories whose case differs (a store copied from Windows).
	if d := lookupFold(store, parts...); d != "" && isDir(d) {
		dir = d
		final = filepath.Join(d, filepath.Base(final))
		if f := lookupFold(d, s.key.Name); f != "" {
			final = f
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	if err := checkInside(store, dir); err != nil {
		return "", "", err
	}
	return dir, final, nil
}

// check runs the caller's validate and a minimal sanity check of our own.
func (s *search) check(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		return errors.New("empty file")
	}
	if s.validate != nil {
		return s.validate(p)
	}
	return nil
}

// ctxReader and ctxWriter stop a long copy when the context ends (Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
