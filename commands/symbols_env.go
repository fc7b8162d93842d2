package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"wdb/symbols/symsrv"
)

// defaultSymbolCache is where .symfix and srv*URL keep downloaded files:
// the user's cache directory, as WinDbg keeps its "sym" store.
func defaultSymbolCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "wdb", "sym")
}

// downloadProgress shows a download on stderr, on a terminal only.
func (s *Session) downloadProgress(p symsrv.Progress) {
	if !s.Interactive {
		return
	}
	if p.Finished {
		fmt.Fprintf(s.stderr, "\r%*s\r", 79, "")
		return
	}
	if p.Total > 0 {
		fmt.Fprintf(s.stderr, "\rDownloading %s: %d%% (%d of %d kB)", filepath.Base(p.URL), p.Done*100/p.Total, p.Done>>10, p.Total>>10)
	} else {
		fmt.Fprintf(s.stderr, "\rDownloading %s: %d kB", filepath.Base(p.URL), p.Done>>10)
	}
}

// SetSymbolPath replaces the symbol path (-y, _NT_SYMBOL_PATH, .sympath).
func (s *Session) SetSymbolPath(path string) error {
	if s.Symbols == nil {
		return errNoTarget
	}
	p, err := symsrv.ParsePath(path)
	if err != nil {
		return err
	}
	s.Symbols.SetPath(p)
	return nil
}

// SetImagePath replaces the executable image path (-i, .exepath).
func (s *Session) SetImagePath(path string) {
	if s.Symbols != nil {
		s.Symbols.SetImagePath(splitSearchPath(path))
	}
}

// splitSearchPath splits a ';'-separated list of directories, dropping empty ones.
func splitSearchPath(path string) []string {
	var out []string
	for _, d := range strings.Split(path, ";") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}
