package symsrv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Default timeouts. A symbol server that accepts a connection and then
// says nothing must not hang .reload.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultHeaderTimeout  = 30 * time.Second
	DefaultIdleTimeout    = 30 * time.Second
	DefaultProgressDelay  = time.Second
	DefaultMaxDownload    = 8 << 30 // larger than any PDB seen in the wild
	progressInterval      = 100 * time.Millisecond
	userAgent             = "Microsoft-Symbol-Server/10.0.0.0 (wdb)"
)

// retryDelay is the pause before the one retry of a transient failure.
var retryDelay = 250 * time.Millisecond

// NewClient is the HTTP client a Finder uses when none is given: the
// default transport (proxy from the environment, gzip decoded
// transparently, redirects followed) with connect, TLS and response-header
// timeouts.
func NewClient(connect time.Duration) *http.Client {
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	t.DialContext = d.DialContext
	t.TLSHandshakeTimeout = connect
	t.ResponseHeaderTimeout = DefaultHeaderTimeout
	return &http.Client{Transport: t}
}

// Progress describes a download that has run longer than ProgressDelay.
// Calls come at most every 100 ms; the last has Finished set (also when
// the download failed), so the caller can end its progress line.
type Progress struct {
	URL         string
	Done, Total int64 // Total is -1 when the server did not say
	Finished    bool
}

// Outcomes of one HTTP request, wrapped by the errors fetch returns.
var (
	errMissing = errors.New("not found")                // 404, 410 and other refusals of one file
	errDown    = errors.New("server not usable")        // timeouts, connection failures, repeated 5xx
	errRetry   = errors.New("transient server failure") // 408, 5xx, truncated body: try once more
	errTimeout = errors.New("timed out")
)

// serverState is what a session has learnt about one server.
type serverState struct {
	probeMu sync.Mutex // serialises the index2.txt probe
	probed  bool
	two     bool
	down    string // why the server is not used any more; guarded by Finder.mu
}

// sink receives a 200 response body.
type sink interface {
	open(resp *http.Response) (io.Writer, error)
	reset() error // discard a partial body before a retry
}

// fileSink streams into a temporary file made on the first 200.
type fileSink struct {
	create func() (*os.File, error)
	f      *os.File
}

func (k *fileSink) open(*http.Response) (io.Writer, error) {
	if k.f == nil {
		f, err := k.create()
		if err != nil {
			return nil, err
		}
		k.f = f
	}
	return k.f, nil
}

func (k *fileSink) reset() error {
	if k.f == nil {
		return nil
	}
	if err := k.f.Truncate(0); err != nil {
		return err
	}
	_, err := k.f.Seek(0, io.SeekStart)
	return err
}

// memSink keeps a small body (file.ptr, index2.txt) in memory.
type memSink struct {
	limit int64
	buf   bytes.Buffer
	ctype string
}

func (m *memSink) open(resp *http.Response) (io.Writer, error) {
	m.ctype = resp.Header.Get("Content-Type")
	return limitWriter{&m.buf, m.limit}, nil
}

func (m *memSink) reset() error { m.buf.Reset(); return nil }

type limitWriter struct {
	b     *bytes.Buffer
	limit int64
}

func (l limitWriter) Write(p []byte) (int, error) {
	if int64(l.b.Len()+len(p)) > l.limit {
		return 0, fail(errRefused, "response longer than %d bytes", l.limit)
	}
	return l.b.Write(p)
}

func (f *Finder) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	f.clientOnce.Do(func() { f.defClient = NewClient(f.ConnectTimeout) })
	return f.defClient
}

func (f *Finder) serverState(base string) *serverState {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.servers == nil {
		f.servers = map[string]*serverState{}
	}
	st := f.servers[base]
	if st == nil {
		st = &serverState{}
		f.servers[base] = st
	}
	return st
}

func (f *Finder) isDown(st *serverState) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return st.down
}

// markDown stops using a server for the rest of the session (dotnet
// symstore's MarkClientFailure): a dead server must not cost a timeout per
// module.
func (f *Finder) markDown(base string, st *serverState, why string) {
	f.mu.Lock()
	first := st.down == ""
	if first {
		st.down = why
	}
	f.mu.Unlock()
	if first {
		f.warn(fmt.Sprintf("SYMSRV:  %s is not usable (%s); it will not be asked again this session", base, why))
	}
}

// ResetServers forgets failed servers and index2.txt answers, e.g. after
// .sympath or .reload.
func (f *Finder) ResetServers() {
	f.mu.Lock()
	f.servers = nil
	f.mu.Unlock()
}

// storeURL is base/<parts...>, each part escaped.
func storeURL(base string, parts ...string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// probeHTTP asks the server at base for the file, its compressed form and
// file.ptr, in that order, writing what it finds into the store dest.
func (s *search) probeHTTP(base, dest string) (string, error) {
	st := s.f.serverState(base)
	if why := s.f.isDown(st); why != "" {
		s.logf("SYMSRV:  %s skipped: %s", base, why)
		return "", nil
	}
	two, err := s.index2(base, st)
	if err != nil {
		return "", s.stop(base, err)
	}
	parts := keyParts(s.key, two)
	u := storeURL(base, append(parts, s.key.Name)...)
	p, err := s.download(base, st, u, dest, false)
	if p != "" || err != nil {
		return p, s.stop(base, err)
	}
	if c := compressedName(s.key.Name); c != "" {
		u := storeURL(base, append(parts, c)...)
		p, err := s.download(base, st, u, dest, true)
		if p != "" || err != nil {
			return p, s.stop(base, err)
		}
	}
	u = storeURL(base, append(parts, "file.ptr")...)
	ms := &memSink{limit: maxPtrSize}
	if err := s.fetch(base, st, u, ms); err != nil {
		return "", s.stop(base, err)
	}
	return s.followPtr(u, ms.buf.Bytes(), dest)
}

// stop turns an error that ends the use of a server into the result for
// the search: cancellation aborts it, anything else moves on to the next
// element.
func (s *search) stop(base string, err error) error {
	if err == nil || errors.Is(err, errMissing) {
		return nil
	}
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	s.logf("SYMSRV:  %s: %v", base, err)
	return nil
}

// index2 learns once per session whether the server is a two-tier store.
func (s *search) index2(base string, st *serverState) (bool, error) {
	st.probeMu.Lock()
	defer st.probeMu.Unlock()
	if st.probed {
		return st.two, nil
	}
	ms := &memSink{limit: 64 << 10}
	err := s.fetch(base, st, base+"/index2.txt", ms)
	switch {
	case err == nil:
		// A misconfigured server answers everything with a 200 HTML page;
		// index2.txt is plain text.
		st.two = !strings.HasPrefix(strings.ToLower(ms.ctype), "text/html")
		if !st.two {
			s.logf("SYMSRV:  %s/index2.txt is an HTML page; taking the store as one-tier", base)
		}
	case errors.Is(err, errMissing), errors.Is(err, errRefused):
		st.two = false
	default:
		return false, err
	}
	st.probed = true
	return st.two, nil
}

// download fetches u into the store dest, expanding a CAB when compressed.
// A refused or missing file gives ("", nil); errDown and cancellation are
// returned.
func (s *search) download(base string, st *serverState, u, dest string, compressed bool) (string, error) {
	if why := s.f.isDown(st); why != "" {
		return "", nil
	}
	final, err := s.install(dest, func(create func() (*os.File, error)) (*os.File, error) {
		fs := &fileSink{create: create}
		if err := s.fetch(base, st, u, fs); err != nil {
			return nil, err
		}
		if !compressed {
			return fs.f, nil
		}
		out, err := create()
		if err != nil {
			return nil, err
		}
		return out, s.expandCab(fs.f, out)
	}, false)
	switch {
	case err == nil:
		s.logf("SYMSRV:  %s - OK, stored as %s", u, final)
		return final, nil
	case s.ctx.Err() != nil:
		return "", s.ctx.Err()
	case errors.Is(err, errMissing):
		return "", nil
	case errors.Is(err, errDown):
		return "", err
	}
	s.refuse(u, err.Error())
	return "", nil
}

// fetch GETs u into k, retrying a transient failure once; a second one,
// or a timeout or connection failure, marks the server down.
func (s *search) fetch(base string, st *serverState, u string, k sink) error {
	for attempt := 0; ; attempt++ {
		err := s.fetchOnce(u, k)
		if err == nil || !errors.Is(err, errRetry) && !errors.Is(err, errDown) {
			return err
		}
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		if errors.Is(err, errDown) || attempt == 1 {
			s.f.markDown(base, st, err.Error())
			return fail(errDown, "%v", err)
		}
		s.logf("SYMSRV:  %s: %v; retrying", u, err)
		if err := k.reset(); err != nil {
			return err
		}
		t := time.NewTimer(retryDelay)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return s.ctx.Err()
		case <-t.C:
		}
	}
}

// fetchOnce makes one GET. A watchdog cancels the request when the
// response headers take longer than HeaderTimeout or the body stalls for
// IdleTimeout, whatever client is in use.
func (s *search) fetchOnce(u string, k sink) error {
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	ht, it := s.f.headerTimeout(), s.f.idleTimeout()
	wd := time.AfterFunc(ht, func() { cancel(errTimeout) })
	defer wd.Stop()
	timedOut := func() bool { return errors.Is(context.Cause(ctx), errTimeout) }

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail(errDown, "%v", err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.f.client().Do(req)
	if err != nil {
		switch {
		case s.ctx.Err() != nil:
			return s.ctx.Err()
		case timedOut():
			s.logf("SYMSRV:  GET %s - no response within %v", u, ht)
			return fail(errDown, "no response within %v", ht)
		}
		s.logf("SYMSRV:  GET %s - %v", u, err)
		return fail(errDown, "%v", cleanText(err.Error(), 300))
	}
	defer resp.Body.Close()
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		s.logf("SYMSRV:  GET %s - %s", u, status)
		return errMissing
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		s.logf("SYMSRV:  GET %s - %s", u, status)
		return fail(errRetry, "%s", status)
	case http.StatusUnauthorized, http.StatusProxyAuthRequired:
		s.logf("SYMSRV:  GET %s - %s", u, status)
		return fail(errDown, "%s", status)
	default:
		s.logf("SYMSRV:  GET %s - %s (taken as not found)", u, status)
		return errMissing
	}
	max := s.f.maxDownload()
	if resp.ContentLength > max {
		s.logf("SYMSRV:  GET %s - %d bytes, over the %d-byte limit", u, resp.ContentLength, max)
		return fail(errRefused, "%d bytes, over the %d-byte limit", resp.ContentLength, max)
	}
	w, err := k.open(resp)
	if err != nil {
		return err
	}
	wd.Reset(it)
	start := time.Now()
	var last time.Time
	reported := false
	report := func(done int64, finished bool) {
		if s.f.Progress == nil {
			return
		}
		now := time.Now()
		if !reported && now.Sub(start) < s.f.progressDelay() {
			return
		}
		if !finished && reported && now.Sub(last) < progressInterval {
			return
		}
		if finished && !reported {
			return
		}
		reported, last = true, now
		s.f.Progress(Progress{URL: u, Done: done, Total: resp.ContentLength, Finished: finished})
	}
	buf := make([]byte, 64<<10)
	var done int64
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			wd.Reset(it)
			done += int64(n)
			if done > max {
				report(done, true)
				return fail(errRefused, "more than %d bytes, the download limit", max)
			}
			if _, err := w.Write(buf[:n]); err != nil {
				report(done, true)
				return err
			}
			report(done, false)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			report(done, true)
			switch {
			case s.ctx.Err() != nil:
				return s.ctx.Err()
			case timedOut():
				s.logf("SYMSRV:  GET %s - stalled: no data for %v after %d bytes", u, it, done)
				return fail(errDown, "download stalled for %v", it)
			}
			s.logf("SYMSRV:  GET %s - body cut short after %d bytes: %v", u, done, rerr)
			return fail(errRetry, "body cut short after %d bytes", done)
		}
	}
	report(done, true)
	if resp.ContentLength >= 0 && done != resp.ContentLength {
		return fail(errRetry, "body has %d of %d bytes", done, resp.ContentLength)
	}
	s.logf("SYMSRV:  GET %s - %s, %d bytes", u, status, done)
	return nil
}
