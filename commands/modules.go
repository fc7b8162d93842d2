package commands

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
	"wdb/symbols"

	"wdb/dump"
)

// lm and its glued-option family (lmv, lmvm ntdll, lmf, lm m k*, lmsm …):
// the loaded (and unloaded) modules of the dump, windbg-commands.md §8.

func init() {
	Register(&Command{
		Name:    "lm",
		Usage:   "lm[v|f|n|t|c|sm|1m|o|u|k|l|e] [a <address>] [m <pattern> | M <pattern>]",
		Summary: "list modules",
		Help: "lm              all modules: start, end (first byte after), name, symbol status\n" +
			"lm m k*         modules whose name matches a wildcard (* ? [..], case-insensitive)\n" +
			"lm M *\\sys*     modules whose image path matches\n" +
			"lm a <addr>     the module that contains an address\n" +
			"lmv, lmvm ntdll verbose: image path, time stamp, checksum, size, version\n" +
			"lmf             image paths instead of the symbol status (lmn names, lmt times, c checksums)\n" +
			"lmsm, lm1m      sorted by name / names only\n" +
			"Options may be glued to lm or to each other: lmvm ntdll, lmsmf.",
		Family: func(name string) bool { return strings.HasPrefix(name, "lm") },
		Run:    runModules,
	})
}

// lmOptions are the parsed lm options.
type lmOptions struct {
	verbose, checksum, namesOnly, sortByName bool
	column                                   byte // 0 symbol status; 'f' path, 'i' image file, 'n' image name, 'p' mapped name, 't' time stamp
	kernelOnly, symbolsLoaded, problems      bool
	pattern, pathPattern                     string
	hasPattern, hasPathPattern, hasAddr      bool
	addr                                     uint64
}

// parseLmOptions reads the option letters glued to "lm" (inv.Raw keeps
// their case: m and M differ) and those in the arguments.
func parseLmOptions(s *Session, inv *Invocation) (*lmOptions, error) {
	o := &lmOptions{}
	text := inv.Raw[2:] + " " + inv.Args
	word := func(i int) (string, int) {
		for i < len(text) && isSpace(text[i]) {
			i++
		}
		j := i
		for j < len(text) && !isSpace(text[j]) {
			j++
		}
		return text[i:j], j
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case isSpace(c):
			i++
		case c == 'm' || c == 'M':
			w, j := word(i + 1)
			if w == "" {
				return nil, fmt.Errorf("Syntax error: lm %c needs a pattern", c)
			}
			if c == 'm' {
				o.pattern, o.hasPattern = w, true
			} else {
				o.pathPattern, o.hasPathPattern = w, true
			}
			i = j
		case c == 'a':
			v, rest, err := s.ParseExpr(text[i+1:])
			if err != nil {
				return nil, exprError(s, inv, strings.TrimSpace(text[i+1:]), err)
			}
			o.addr, o.hasAddr = v, true
			i = len(text) - len(rest)
		case (c == '1' || c == 's') && i+1 < len(text) && text[i+1] == 'm':
			if c == '1' {
				o.namesOnly = true
			} else {
				o.sortByName = true
			}
			i += 2
		case c == 'v':
			o.verbose = true
			i++
		case c == 'f' || c == 'i' || c == 'n' || c == 'p' || c == 't':
			o.column = c
			i++
		case c == 'c':
			o.checksum = true
			i++
		case c == 'k':
			o.kernelOnly = true
			i++
		case c == 'l':
			o.symbolsLoaded = true
			i++
		case c == 'e':
			o.problems = true
			i++
		case c == 'o' || c == 'u' || c == 'D':
			// o (loaded only) and u (user only) select every module of a
			// user-mode dump; D (DML links) has no text form.
			i++
		default:
			return nil, fmt.Errorf("Syntax error at '%s'", strings.TrimSpace(text[i:]))
		}
	}
	return o, nil
}

// PDBInfo is a module's CodeView identity: which PDB matches it.
type PDBInfo struct {
	Name string `json:"name"`
	GUID string `json:"guid,omitempty"`
	Sig  uint32 `json:"signature,omitempty"` // NB10
	Age  uint32 `json:"age"`
}

// ModuleRow is one module as lm shows it.
type ModuleRow struct {
	Start          uint64   `json:"start"`
	End            uint64   `json:"end"`
	Name           string   `json:"name"` // WinDbg's module name (ntdll, ntdll_77cf0000 for a second ntdll)
	ImageName      string   `json:"imageName"`
	Path           string   `json:"path"`
	SymbolFlag     string   `json:"symbolFlag,omitempty"`
	SymbolStatus   string   `json:"symbolStatus"`
	SymbolFile     string   `json:"symbolFile,omitempty"`
	TimeDateStamp  uint32   `json:"timeDateStamp"`
	CheckSum       uint32   `json:"checkSum"`
	ImageSize      uint32   `json:"imageSize"`
	FileVersion    string   `json:"fileVersion,omitempty"`
	ProductVersion string   `json:"productVersion,omitempty"`
	PDB            *PDBInfo `json:"pdb,omitempty"`
	Unloaded       bool     `json:"unloaded,omitempty"`

	version dump.FixedFileInfo
}

// ModuleList is the lm result.
type ModuleList struct {
	Modules  []ModuleRow `json:"modules"`
	Unloaded []ModuleRow `json:"unloaded,omitempty"`

	ptrSize int
	opts    *lmOptions
}

// WriteText prints the lm table (§8.2 layout).
func (l *ModuleList) WriteText(w io.Writer) {
	o := l.opts
	if o.namesOnly {
		for _, m := range l.Modules {
			fmt.Fprintln(w, m.Name)
		}
		return
	}
	if l.ptrSize == 4 {
		fmt.Fprintln(w, "start    end        module name")
	} else {
		fmt.Fprintln(w, "start             end                 module name")
	}
	for i := range l.Modules {
		m := &l.Modules[i]
		fmt.Fprintln(w, l.row(m))
		if o.verbose {
			for _, v := range lmVerbose(m) {
				fmt.Fprintln(w, v)
			}
		}
	}
	if len(l.Unloaded) > 0 {
		fmt.Fprintln(w, "\nUnloaded modules:")
		for _, m := range l.Unloaded {
			fmt.Fprintf(w, "%s %s   %s\n", FormatAddr(l.ptrSize, m.Start), FormatAddr(l.ptrSize, m.End), m.ImageName)
		}
	}
}

// row is one table line: start, end (first byte after the module), 3
// spaces, the name left-aligned in 8, then either the flag and symbol
// status (status padded to 22, then the symbol file) or the column that f,
// i, n, p or t chose (padded to 12; c adds the checksum).
func (l *ModuleList) row(m *ModuleRow) string {
	head := fmt.Sprintf("%s %s   %-8s", FormatAddr(l.ptrSize, m.Start), FormatAddr(l.ptrSize, m.End), m.Name)
	var col string
	switch l.opts.column {
	case 0:
		flag := m.SymbolFlag
		if flag == "" {
			flag = " "
		}
		return fmt.Sprintf("%s %s %-22s %s", head, flag, "("+m.SymbolStatus+")", m.SymbolFile)
	case 'f', 'i':
		col = m.Path
	case 'n', 'p':
		col = m.ImageName
	case 't':
		col = lmTimestamp(m.TimeDateStamp)
	}
	line := fmt.Sprintf("%s %-12s", head, col)
	if l.opts.checksum {
		line += fmt.Sprintf(" %08X", m.CheckSum)
	}
	return line
}

// lmTimestamp prints a PE time stamp as lmv does: "Tue Jan 30 18:21:13 2024 (65B9AE99)".
// WinDbg uses the debugger machine's zone; wdb prints UTC so the output does
// not depend on the reader. The day is zero padded as in the samples (which
// only show two-digit days: UNCONFIRMED for 1-9). Zero and -1 are not times.
func lmTimestamp(ts uint32) string {
	if ts == 0 || ts == 0xffffffff {
		return fmt.Sprintf("unavailable (%08X)", ts)
	}
	return time.Unix(int64(ts), 0).UTC().Format("Mon Jan 02 15:04:05 2006") + fmt.Sprintf(" (%08X)", ts)
}

// lmVerbose is the lmv block of a module with what a minidump records: the
// module record and its VS_FIXEDFILEINFO. "Loaded symbol image file" and
// "Mapped memory image file" need loaded symbols/images, the "Browse" lines
// are DML links, and Translations and the string table live in resources a
// minidump does not hold, so those lines are not printed.
func lmVerbose(m *ModuleRow) []string {
	out := []string{
		"    Image path: " + m.Path,
		"    Image name: " + m.ImageName,
		"    Timestamp:        " + lmTimestamp(m.TimeDateStamp),
		fmt.Sprintf("    CheckSum:         %08X", m.CheckSum),
		fmt.Sprintf("    ImageSize:        %08X", m.ImageSize),
	}
	v := m.version
	if v.Signature != 0xfeef04bd {
		return out
	}
	return append(out,
		"    File version:     "+v.FileVersion(),
		"    Product version:  "+v.ProductVersion(),
		fmt.Sprintf("    File flags:       %X (Mask %X)", v.FileFlags, v.FileFlagsMask),
		fmt.Sprintf("    File OS:          %X %s", v.FileOS, fileOSName(v.FileOS)),
		fmt.Sprintf("    File type:        %X.%X %s", v.FileType, v.FileSubtype, fileTypeName(v.FileType)),
		fmt.Sprintf("    File date:        %08X.%08X", v.FileDateMS, v.FileDateLS),
	)
}

// fileOSName spells VS_FIXEDFILEINFO.dwFileOS as lmv does ("40004 NT Win32", "4 Unknown Win32").
func fileOSName(os uint32) string {
	hi := map[uint32]string{0: "Unknown", 1: "DOS", 2: "OS/2 16", 3: "OS/2 32", 4: "NT", 5: "WinCE"}[os>>16]
	if hi == "" {
		hi = "Unknown"
	}
	lo := map[uint32]string{0: "Base", 1: "Win16", 2: "PM16", 3: "PM32", 4: "Win32"}[os&0xffff]
	if lo == "" {
		lo = "Unknown"
	}
	return hi + " " + lo
}

// fileTypeName spells dwFileType ("2.0 Dll", "0.0 Unknown").
func fileTypeName(t uint32) string {
	if n := map[uint32]string{1: "App", 2: "Dll", 3: "Driver", 4: "Font", 5: "VXD", 7: "Static library"}[t]; n != "" {
		return n
	}
	return "Unknown"
}

// lmSymbolStatus is the flag, status and symbol file of a module's symbols,
// as lm shows them: "(deferred)" until a command needed the module,
// "(pdb symbols)  PATH", "(export symbols)  NAME" or "(no symbols)".
func lmSymbolStatus(s *Session, m *dump.Module) (flag, status, file string) {
	if s.Symbols == nil {
		return "", "deferred", ""
	}
	ms, ok := s.Symbols.ModuleAt(m.Base)
	if !ok || ms.Module != m {
		return "", "deferred", ""
	}
	st := ms.Status()
	switch st {
	case symbols.PDBSymbols, symbols.ExportSymbols:
		return "", st.String(), ms.SymbolFile()
	}
	return "", st.String(), ""
}

func runModules(s *Session, inv *Invocation) (Result, error) {
	if s.Target == nil {
		return nil, errNoTarget
	}
	o, err := parseLmOptions(s, inv)
	if err != nil {
		return nil, err
	}
	var nameRe, pathRe *regexp.Regexp
	if o.hasPattern {
		if nameRe, err = lmWildcardRegexp(o.pattern); err != nil {
			return nil, err
		}
	}
	if o.hasPathPattern {
		if pathRe, err = lmWildcardRegexp(o.pathPattern); err != nil {
			return nil, err
		}
	}
	f := s.Target
	l := &ModuleList{ptrSize: s.PointerSize(), opts: o, Modules: []ModuleRow{}}
	names := symbols.ModuleNames(f)
	for i := range f.Modules {
		m := &f.Modules[i]
		if names[i] == "" || o.kernelOnly {
			continue
		}
		row := ModuleRow{Start: m.Base, End: m.End(), Name: names[i], ImageName: m.BaseName(), Path: m.Name,
			TimeDateStamp: m.TimeDateStamp, CheckSum: m.CheckSum, ImageSize: m.Size, version: m.Version}
		row.SymbolFlag, row.SymbolStatus, row.SymbolFile = lmSymbolStatus(s, m)
		if m.Version.Signature == 0xfeef04bd {
			row.FileVersion, row.ProductVersion = m.Version.FileVersion(), m.Version.ProductVersion()
		}
		if cv := m.CodeView; cv != nil {
			row.PDB = &PDBInfo{Name: cv.PDBName, Age: cv.Age}
			if cv.Signature == "RSDS" {
				row.PDB.GUID = cv.GUIDString()
			} else {
				row.PDB.Sig = cv.Sig
			}
		}
		switch {
		case nameRe != nil && !nameRe.MatchString(row.Name):
		case pathRe != nil && !pathRe.MatchString(row.Path):
		case o.hasAddr && (o.addr < row.Start || o.addr >= row.End):
		case o.symbolsLoaded && row.SymbolStatus == "deferred":
		case o.problems && row.SymbolFlag == "":
		default:
			l.Modules = append(l.Modules, row)
		}
	}
	if o.sortByName {
		sort.SliceStable(l.Modules, func(i, j int) bool {
			return strings.ToLower(l.Modules[i].Name) < strings.ToLower(l.Modules[j].Name)
		})
	} else {
		sort.SliceStable(l.Modules, func(i, j int) bool { return l.Modules[i].Start < l.Modules[j].Start })
	}
	// Unloaded modules follow, filtered by the same pattern (the kd sample of
	// "lm m s*" lists only s* unloaded modules); not for lm a, k, l, e or 1m.
	if !o.hasAddr && !o.kernelOnly && !o.symbolsLoaded && !o.problems && !o.namesOnly {
		for _, u := range f.UnloadedModules {
			base := u.Name
			if k := strings.LastIndexAny(base, `\/`); k >= 0 {
				base = base[k+1:]
			}
			stem := base
			if k := strings.LastIndexByte(stem, '.'); k > 0 {
				stem = stem[:k]
			}
			if nameRe != nil && !nameRe.MatchString(stem) && !nameRe.MatchString(base) {
				continue
			}
			if pathRe != nil && !pathRe.MatchString(u.Name) {
				continue
			}
			l.Unloaded = append(l.Unloaded, ModuleRow{Start: u.Base, End: u.Base + uint64(u.Size), Name: stem, ImageName: base,
				Path: u.Name, TimeDateStamp: u.TimeDateStamp, CheckSum: u.CheckSum, ImageSize: u.Size, Unloaded: true, SymbolStatus: "unloaded"})
		}
	}
	return l, nil
}

// lmWildcardRegexp compiles a WinDbg string wildcard (§6.4: * ? [set] # + and
// \ escapes) into a case-insensitive regexp matching the whole string.
func lmWildcardRegexp(pat string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("(?is)^")
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '#':
			b.WriteString("*")
		case '+':
			b.WriteString("+")
		case '[':
			end := strings.IndexByte(pat[i+1:], ']')
			if end < 0 {
				return nil, fmt.Errorf("Syntax error in pattern '%s': unclosed [", pat)
			}
			b.WriteString("[" + strings.ReplaceAll(pat[i+1:i+1+end], `\`, `\\`) + "]")
			i += end + 1
		case '\\':
			// Only the wildcard characters are escaped; any other backslash
			// is literal, so path patterns like *\system32\* work.
			if i+1 < len(pat) && strings.IndexByte(`#?[]*+\`, pat[i+1]) >= 0 {
				i++
				b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
			} else {
				b.WriteString(`\\`)
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("Syntax error in pattern '%s'", pat)
	}
	return re, nil
}
