package symsrv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// ErrNotFound is wrapped by Find when no element of the path had the file.
var ErrNotFound = errors.New("symbol file not found")

// Finder searches a symbol path. One Finder lives for a debugging session:
// it remembers which servers are two-tier and which have failed. It is
// safe for concurrent use once configured.
type Finder struct {
	Path Path
	// Client makes the HTTP requests; nil means NewClient(ConnectTimeout).
	// Its redirect policy is used as is (the default follows 10).
	Client *http.Client
	// DefaultCache is the downstream store used by srv*URL, srv**URL,
	// cache* and .symfix without a directory, e.g.
	// os.UserCacheDir()/wdb/sym. Empty means such elements cannot store
	// downloads, and their servers are skipped.
	DefaultCache string
	// Log receives each step of a lookup (!sym noisy); nil is silent.
	Log func(string)
	// Warn receives messages the user should always see: a file.ptr MSG:,
	// a server being given up on.
	Warn func(string)
	// Progress is called for downloads that take longer than ProgressDelay.
	Progress func(Progress)

	ConnectTimeout time.Duration // default client only; 0 means 10 s
	HeaderTimeout  time.Duration // request sent to headers received; 0 means 30 s
	IdleTimeout    time.Duration // longest pause in a body; 0 means 30 s
	ProgressDelay  time.Duration // 0 means 1 s
	MaxDownload    int64         // largest file accepted; 0 means 8 GiB

	mu         sync.Mutex
	servers    map[string]*serverState
	clientOnce sync.Once
	defClient  *http.Client
}

func (f *Finder) headerTimeout() time.Duration {
	return orDefault(f.HeaderTimeout, DefaultHeaderTimeout)
}

func (f *Finder) idleTimeout() time.Duration {
	return orDefault(f.IdleTimeout, DefaultIdleTimeout)
}

func (f *Finder) progressDelay() time.Duration {
	return orDefault(f.ProgressDelay, DefaultProgressDelay)
}

func (f *Finder) maxDownload() int64 {
	if f.MaxDownload > 0 {
		return f.MaxDownload
	}
	return DefaultMaxDownload
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (f *Finder) warn(msg string) {
	if f.Warn != nil {
		f.Warn(msg)
	}
}

// search is the state of one Find call.
type search struct {
	f        *Finder
	ctx      context.Context
	key      Key
	validate func(string) error
	refused  []string
}

func (s *search) logf(format string, args ...any) {
	if s.f.Log != nil {
		s.f.Log(fmt.Sprintf(format, args...))
	}
}

// refuse records a candidate that exists but is not the file wanted.
func (s *search) refuse(where, why string) {
	s.logf("SYMSRV:  %s - refused: %s", where, why)
	s.refused = append(s.refused, why)
}

// Find returns the local path of the file named by key, searching the path
// left to right and stopping at the first candidate validate accepts.
// validate (nil accepts any non-empty file) sees every candidate before it
// is used or cached — a PDB's GUID and age, an image's timestamp — and its
// error is logged as the reason for refusing the file. Downloads land in
// the element's downstream store. The error wraps ErrNotFound when nothing
// matched, ErrBadName for a name that cannot be used safely, or ctx's
// error when the search was cancelled.
func (f *Finder) Find(ctx context.Context, key Key, validate func(path string) error) (string, error) {
	k, err := sanitizeKey(key)
	if err != nil {
		if f.Log != nil {
			f.Log(fmt.Sprintf("SYMSRV:  %s - refused: %v", cleanText(key.Name, 300), err))
		}
		return "", err
	}
	s := &search{f: f, ctx: ctx, key: k, validate: validate}
	active := "" // the store of the nearest cache* to the left
	for _, e := range f.Path.Elements {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		var p string
		switch e.Kind {
		case Dir:
			p, err = s.probeFlat(e.Dir, active)
		case Cache:
			dir := e.Dir
			if dir == "" {
				dir = f.DefaultCache
			}
			if dir == "" {
				s.logf("SYMSRV:  %s: no default cache directory", e)
				continue
			}
			p, err = s.probeStore(dir, "")
			active = dir
		case Server:
			p, err = s.probeServer(e, active)
		}
		if err != nil {
			return "", err
		}
		if p != "" {
			return p, nil
		}
	}
	if n := len(s.refused); n > 0 {
		// The first refusal is usually the real file (wrong GUID, HTML page);
		// later ones are its compressed and pointer forms.
		return "", fmt.Errorf("%s %s: %w (%d candidate(s) refused; first: %s)", k.Name, k.ID, ErrNotFound, n, s.refused[0])
	}
	return "", fmt.Errorf("%s %s: %w", k.Name, k.ID, ErrNotFound)
}

// probeServer searches a srv* element: its downstream stores in order
// (a file found in a later one is copied into the first), then the
// upstream. Only an http(s) upstream touches the network.
func (s *search) probeServer(e Element, active string) (string, error) {
	var caches []string
	for _, c := range e.Caches {
		if c == "" {
			c = s.f.DefaultCache
		}
		if c == "" {
			s.logf("SYMSRV:  %s: no default downstream store", e)
			continue
		}
		caches = append(caches, c)
	}
	for i, c := range caches {
		dest := ""
		if i > 0 {
			dest = caches[0]
		}
		if p, err := s.probeStore(c, dest); p != "" || err != nil {
			return p, err
		}
	}
	dest := active
	if len(caches) > 0 {
		dest = caches[0]
	}
	up := e.URL
	if up == "" {
		up = MicrosoftURL
	}
	if !isURL(up) {
		return s.probeStore(up, dest)
	}
	if dest == "" {
		dest = s.f.DefaultCache
	}
	if dest == "" {
		s.logf("SYMSRV:  %s skipped: an HTTP store needs a downstream store and none is set", up)
		return "", nil
	}
	return s.probeHTTP(up, dest)
}
