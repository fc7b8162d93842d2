// Package symsrv finds symbol files (PDBs, images) along a WinDbg symbol
// path: plain directories, symbol stores (one- and two-tier), cache*
// elements and HTTP symbol servers (srv*CACHE*URL), downloading into a
// local downstream store.
//
// Safety rules it keeps (PRODUCT.md "Bad input and safety"): no socket is
// opened unless the path names a server; names taken from a dump are
// reduced to base names and checked, and every path built is proved to lie
// inside its store; downloads are validated before they are cached, written
// to a temporary file and renamed, time out, and stop on context
// cancellation (Ctrl-C) without leaving partial files.
package symsrv

import (
	"errors"
	"fmt"
	"strings"
)

// MicrosoftURL is Microsoft's public symbol server, used by .symfix and by
// a server element with no upstream ("srv*").
const MicrosoftURL = "https://msdl.microsoft.com/download/symbols"

// Kind says what an Element is.
type Kind int

const (
	// Dir is a plain directory: flat files, or a store laid out by symstore.
	Dir Kind = iota
	// Cache is cache*DIR: a store searched in place that also receives a copy
	// of whatever elements to its right find.
	Cache
	// Server is srv*[CACHE*...]*UPSTREAM: downstream stores searched first,
	// then the upstream (an http(s) URL or a store directory).
	Server
)

func (k Kind) String() string {
	switch k {
	case Dir:
		return "dir"
	case Cache:
		return "cache"
	case Server:
		return "server"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Element is one ';'-separated part of a symbol path. Empty strings are
// kept as typed (they mean "the default downstream store" or, for URL,
// "Microsoft's server") so that String round-trips; Finder fills them in.
type Element struct {
	Kind Kind
	// Dir is the directory of a Dir element, or of a Cache element ("" means
	// the default downstream store).
	Dir string
	// Caches are a Server element's downstream stores, nearest first; ""
	// means the default downstream store.
	Caches []string
	// URL is a Server element's upstream: an http(s) URL, a store directory
	// (UNC or local), or "" for MicrosoftURL.
	URL string
}

// IsHTTP reports whether the element is a server reached over the network.
func (e Element) IsHTTP() bool {
	if e.Kind != Server {
		return false
	}
	return e.URL == "" || isURL(e.URL)
}

func (e Element) String() string {
	switch e.Kind {
	case Cache:
		return "cache*" + e.Dir
	case Server:
		if len(e.Caches) == 0 {
			return "srv*" + e.URL
		}
		return "srv*" + strings.Join(e.Caches, "*") + "*" + e.URL
	}
	return e.Dir
}

// Path is a parsed symbol path, searched left to right.
type Path struct {
	Elements []Element
}

// String gives the path in symbol-path syntax; ParsePath(p.String())
// yields p again.
func (p Path) String() string {
	s := make([]string, len(p.Elements))
	for i, e := range p.Elements {
		s[i] = e.String()
	}
	return strings.Join(s, ";")
}

// Expanded is the path with defaults filled in, as .sympath shows it on its
// "Expanded Symbol search path is:" line.
func (p Path) Expanded(defaultCache string) string {
	s := make([]string, len(p.Elements))
	for i, e := range p.Elements {
		switch e.Kind {
		case Cache:
			if e.Dir == "" {
				e.Dir = defaultCache
			}
		case Server:
			e.Caches = append([]string(nil), e.Caches...)
			for j, c := range e.Caches {
				if c == "" {
					e.Caches[j] = defaultCache
				}
			}
			if e.URL == "" {
				e.URL = MicrosoftURL
			}
			if len(e.Caches) == 0 && isURL(e.URL) && defaultCache != "" && !cacheToLeft(p.Elements[:i]) {
				e.Caches = []string{defaultCache}
			}
		}
		s[i] = e.String()
	}
	return strings.Join(s, ";")
}

// cacheToLeft reports whether a cache* element precedes a server: it then
// serves as that server's downstream store (.symfix CACHE expands to
// "cache*CACHE;srv*URL").
func cacheToLeft(els []Element) bool {
	for _, e := range els {
		if e.Kind == Cache {
			return true
		}
	}
	return false
}

// Append returns p followed by q (.sympath+, .symfix+).
func (p Path) Append(q Path) Path {
	return Path{Elements: append(append([]Element(nil), p.Elements...), q.Elements...)}
}

// HasServer reports whether searching p can touch the network.
func (p Path) HasServer() bool {
	for _, e := range p.Elements {
		if e.IsHTTP() {
			return true
		}
	}
	return false
}

// ErrSyntax is wrapped by ParsePath errors.
var ErrSyntax = errors.New("bad symbol path")

// ParsePath parses a symbol path (-y, _NT_SYMBOL_PATH, .sympath): elements
// separated by ';', blanks around them ignored, empty elements dropped,
// double quotes around an element or a '*'-part removed. Recognised forms:
//
//	DIR
//	cache*[DIR]
//	srv*[UPSTREAM]                 (Microsoft's server when empty)
//	srv*DOWNSTREAM*...*UPSTREAM    (empty DOWNSTREAM: the default store)
//	symsrv*symsrv.dll*DOWNSTREAM*...*UPSTREAM
//
// Prefixes are case-insensitive. A bare http(s) URL is taken as srv*URL.
func ParsePath(s string) (Path, error) {
	var p Path
	for _, raw := range strings.Split(s, ";") {
		raw = unquote(strings.TrimSpace(raw))
		if raw == "" {
			continue
		}
		e, err := parseElement(raw)
		if err != nil {
			return Path{}, err
		}
		p.Elements = append(p.Elements, e)
	}
	return p, nil
}

func parseElement(s string) (Element, error) {
	parts := strings.Split(s, "*")
	for i := range parts {
		parts[i] = unquote(strings.TrimSpace(parts[i]))
	}
	head := strings.ToLower(parts[0])
	switch {
	case len(parts) == 1:
		if isURL(s) {
			return Element{Kind: Server, URL: trimURL(s)}, nil
		}
		return Element{Kind: Dir, Dir: s}, nil
	case head == "cache":
		if len(parts) > 2 {
			return Element{}, fmt.Errorf("%w: %q: cache* takes one directory", ErrSyntax, s)
		}
		if isURL(parts[1]) {
			return Element{}, fmt.Errorf("%w: %q: a cache must be a directory, not a URL", ErrSyntax, s)
		}
		return Element{Kind: Cache, Dir: parts[1]}, nil
	case head == "srv" || head == "symsrv":
		rest := parts[1:]
		if head == "symsrv" {
			// symsrv*symsrv.dll*...: the DLL is Windows plumbing; ours is built in.
			if len(rest) < 2 || !strings.EqualFold(rest[0], "symsrv.dll") {
				return Element{}, fmt.Errorf("%w: %q: only symsrv*symsrv.dll*... is supported", ErrSyntax, s)
			}
			rest = rest[1:]
		}
		e := Element{Kind: Server, URL: trimURL(rest[len(rest)-1])}
		if len(rest) > 1 {
			e.Caches = append([]string(nil), rest[:len(rest)-1]...)
		}
		for _, c := range e.Caches {
			if isURL(c) {
				return Element{}, fmt.Errorf("%w: %q: downstream store %q must be a directory, not a URL", ErrSyntax, s, c)
			}
		}
		return e, nil
	}
	return Element{}, fmt.Errorf("%w: %q: unknown element type %q (want srv*, symsrv*, cache* or a directory)", ErrSyntax, s, parts[0])
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// trimURL drops a URL's trailing slashes (we add our own); other upstreams
// are directories and stay as typed.
func trimURL(s string) string {
	if isURL(s) {
		return strings.TrimRight(s, "/")
	}
	return s
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// Symfix is the element .symfix adds: Microsoft's server with cache as its
// downstream store. An empty cache gives "srv*" (the default store), which
// is also how WinDbg displays it.
func Symfix(cache string) Element {
	if cache == "" {
		return Element{Kind: Server}
	}
	return Element{Kind: Server, Caches: []string{cache}, URL: MicrosoftURL}
}

// StartupPath is the symbol path a session starts with: -y when given
// (it replaces the environment), otherwise _NT_ALT_SYMBOL_PATH followed by
// _NT_SYMBOL_PATH. getenv is os.Getenv in the debugger.
func StartupPath(y string, getenv func(string) string) (Path, error) {
	if y != "" {
		p, err := ParsePath(y)
		if err != nil {
			return Path{}, fmt.Errorf("-y: %w", err)
		}
		return p, nil
	}
	var p Path
	for _, v := range []string{"_NT_ALT_SYMBOL_PATH", "_NT_SYMBOL_PATH"} {
		q, err := ParsePath(getenv(v))
		if err != nil {
			return Path{}, fmt.Errorf("%s: %w", v, err)
		}
		p = p.Append(q)
	}
	return p, nil
}
