package commands

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"wdb/dump"
	"wdb/symbols/cab"
)

// OpenDump opens a dump file, or the dump packed in a CAB archive as WinDbg
// does for "-z file.cab": the dump member is extracted to a temporary file
// (mapped like any dump) that close removes.
func OpenDump(path string) (f *dump.File, close func(), err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	var magic [8]byte
	n, _ := io.ReadFull(fh, magic[:])
	if !cab.IsCab(magic[:n]) {
		fh.Close()
		f, err := dump.Open(path)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	c, err := cab.Open(fh, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	member := pickDumpMember(c.Files)
	if member == nil {
		return nil, nil, fmt.Errorf("%s: the CAB archive holds no dump file", path)
	}
	tmp, err := os.CreateTemp("", "wdb-*-"+sanitizedBase(member.Name))
	if err != nil {
		return nil, nil, err
	}
	remove := func() { os.Remove(tmp.Name()) }
	if err := c.Extract(member, tmp); err != nil {
		tmp.Close()
		remove()
		return nil, nil, fmt.Errorf("%s: extracting %s: %w", path, member.Name, err)
	}
	tmp.Close()
	f, err = dump.Open(tmp.Name())
	if err != nil {
		remove()
		return nil, nil, fmt.Errorf("%s (member %s): %w", path, member.Name, err)
	}
	f.Path = path + ":" + member.Name
	return f, func() { f.Close(); remove() }, nil
}

// pickDumpMember prefers a member named *.dmp or *.mdmp, else the largest.
func pickDumpMember(files []cab.File) *cab.File {
	var best *cab.File
	for i := range files {
		name := strings.ToLower(files[i].Name)
		if strings.HasSuffix(name, ".dmp") || strings.HasSuffix(name, ".mdmp") {
			return &files[i]
		}
		if best == nil || files[i].Size > best.Size {
			best = &files[i]
		}
	}
	return best
}

// sanitizedBase keeps a member name from choosing where the temp file goes.
func sanitizedBase(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == '/' || r == '*' {
			return '_'
		}
		return r
	}, name)
}
