package symsrv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// ErrBadName is returned for a file name or key that cannot be used safely
// as a path component (it came from a dump and may be hostile).
var ErrBadName = errors.New("unsafe symbol file name")

// maxNameLen is the longest component NTFS and ext4 accept (255).
const maxNameLen = 255

// baseName strips every directory from a name taken from a dump: a
// CodeView path is a Windows path ("C:\build\x.pdb"), and a drive-relative
// "C:x.pdb" or a stream name "x.pdb:s" must not survive either, so
// everything up to the last '\', '/' or ':' goes.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `\/:`); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// checkName refuses a base name that could name something other than a
// file inside the directory it is joined to, or that Windows would treat
// specially (device names, characters NTFS forbids).
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrBadName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrBadName, name)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: name is %d bytes long (limit %d)", ErrBadName, len(name), maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrBadName, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q contains control character %#x", ErrBadName, name, r)
		}
		if strings.ContainsRune(`\/:*?"<>|`, r) {
			return fmt.Errorf("%w: %q contains %q", ErrBadName, name, r)
		}
	}
	// "nul.pdb" opens the NUL device on Windows, whatever the extension.
	stem := strings.ToUpper(strings.TrimRight(name, ". "))
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		stem = stem[:i]
	}
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return fmt.Errorf("%w: %q is a Windows device name", ErrBadName, name)
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		// Windows drops these, so two keys could share one file.
		return fmt.Errorf("%w: %q ends in a dot or space", ErrBadName, name)
	}
	return nil
}

// checkID refuses a key that is not 1..64 hex digits: every key format we
// build (GUID+age, timestamp+size) is hex.
func checkID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: key %q must be 1..64 hex digits", ErrBadName, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return fmt.Errorf("%w: key %q is not hex", ErrBadName, id)
		}
	}
	return nil
}

// sanitizeKey reduces k.Name to a base name and checks both parts, so
// every path built from the key stays inside the store it is joined to.
func sanitizeKey(k Key) (Key, error) {
	k.Name = baseName(k.Name)
	if err := checkName(k.Name); err != nil {
		return k, err
	}
	if err := checkID(k.ID); err != nil {
		return k, err
	}
	ext := strings.ToLower(k.ImageExt)
	ext = strings.TrimPrefix(ext, ".")
	if ext != "" && checkName(ext) != nil {
		ext = ""
	}
	k.ImageExt = ext
	return k, nil
}

// safeJoin joins components under root and proves the result is inside
// root (lexically). Components are base names already; this is the second
// line of defence, so a mistake elsewhere gives an error, never a path
// outside the store.
func safeJoin(root string, parts ...string) (string, error) {
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, `/\`+"\x00") {
			return "", fmt.Errorf("%w: path component %q", ErrBadName, p)
		}
	}
	full := filepath.Join(append([]string{root}, parts...)...)
	rel, err := filepath.Rel(filepath.Clean(root), full)
	if err != nil || rel == "." || rel == ".." || filepath.IsAbs(rel) ||
		strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q escapes %q", ErrBadName, full, root)
	}
	return full, nil
}

// checkInside makes sure dir, after resolving symbolic links, is still
// under root: a link planted in a cache must not redirect our writes.
func checkInside(root, dir string) error {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(r, d)
	if err != nil || rel == ".." || filepath.IsAbs(rel) || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%w: %s resolves to %s, outside %s", ErrBadName, dir, d, r)
	}
	return nil
}

// isRegular reports whether path names an existing regular file (after
// links), so a directory or device named like a symbol file is skipped.
func isRegular(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// cleanText makes text from a server or file.ptr safe to print: control
// characters (terminal escapes) become '?', and it is cut to n bytes.
func cleanText(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	s = strings.ToValidUTF8(s, "?")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}
