#!/usr/bin/env python3
"""shrink.py FULL.dmp OUT.dmp - cut Wine's full-memory minidump down to a test fixture.

Wine's MiniDumpWriteDump (dlls/dbghelp/minidump.c) knows two kinds of dump: thread stacks
only (MemoryListStream; the process heap is not captured) or every committed page of the
process (Memory64ListStream, MiniDumpWithFullMemory) - about 110 MB for the smallest
program, most of it Wine's own DLL images and zero pages. This keeps the file as Wine
wrote it except for the Memory64ListStream, which is the last stream and whose data runs
to the end of the file: its list of ranges is rewritten to keep only

  * the ranges of the main module (leak.exe: its .rdata vftable and .data holders),
  * the ranges holding a thread's TEB, the PEB, the PEB's ProcessHeap and its
    ProcessParameters, and the thread stacks (StackLimit..StackBase from the TEB),
  * KUSER_SHARED_DATA (0x7ffe0000),
  * the ranges listed in the view list (the leaked views, from leak.exe's output),

each with the all-zero pages at its two ends left out (Wine commits whole stacks, whole
heaps and whole views; the untouched pages are zero). Everything before the
Memory64ListStream - header, directory, SystemInfo with Wine's "WINE" block, ThreadList,
ModuleList without CodeView records, Wine's 0xfff0 ELF-module list, MiscInfo - is copied
byte for byte.
"""
import struct
import sys

PAGE = 0x1000


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: shrink.py FULL.dmp OUT.dmp LEAK-OUTPUT.txt")
    src, dst, listing = sys.argv[1:]
    d = open(src, "rb").read()
    sig, _ver, nstreams, dirrva = struct.unpack_from("<IIII", d, 0)
    if sig != 0x504D444D:
        sys.exit("not a minidump")
    streams = {}
    for i in range(nstreams):
        t, size, rva = struct.unpack_from("<III", d, dirrva + 12 * i)
        if t:
            streams[t] = (i, size, rva)
    if 9 not in streams:
        sys.exit("no Memory64ListStream: dump it with MiniDumpWithFullMemory")
    m64idx, _m64size, m64rva = streams[9]
    count, baserva = struct.unpack_from("<QQ", d, m64rva)
    ranges = []  # (start, size, file offset)
    off = baserva
    for j in range(count):
        start, size = struct.unpack_from("<QQ", d, m64rva + 16 + 16 * j)
        ranges.append((start, size, off))
        off += size
    if off != len(d) or any(rva > m64rva for (_i, _s, rva) in streams.values() if rva != m64rva):
        sys.exit("Memory64ListStream is not the last thing in the file")

    def read(addr, n):
        for start, size, foff in ranges:
            if start <= addr and addr + n <= start + size:
                return d[foff + addr - start: foff + addr - start + n]
        return None

    def q(addr):
        b = read(addr, 8)
        return struct.unpack("<Q", b)[0] if b else None

    want = set()   # addresses whose containing range is kept
    spans = []     # (lo, hi) intervals whose ranges are kept

    # main module: first module of the ModuleListStream
    _i, _s, mrva = streams[4]
    (nmod,) = struct.unpack_from("<I", d, mrva)
    base, size = struct.unpack_from("<QI", d, mrva + 4)
    spans.append((base, base + size))
    # threads: TEB, stack; PEB, heap, process parameters
    _i, _s, trva = streams[3]
    (nthreads,) = struct.unpack_from("<I", d, trva)
    peb = None
    for k in range(nthreads):
        teb = struct.unpack_from("<Q", d, trva + 4 + 48 * k + 16)[0]
        want.add(teb)
        stack_base, stack_limit = q(teb + 8), q(teb + 16)
        if stack_base and stack_limit:
            spans.append((stack_limit, stack_base))
        peb = q(teb + 0x60) or peb
    if peb:
        want.add(peb)
        for field in (0x20, 0x30):  # ProcessParameters, ProcessHeap
            v = q(peb + field)
            if v:
                want.add(v)
    want.add(0x7FFE0000)
    for line in open(listing):
        w = line.split()
        if w and w[0] in ("view", "heap") and len(w) >= 2:
            want.add(int(w[1], 16))

    keep = []
    for start, size, foff in ranges:
        hit = any(start <= a < start + size for a in want) or any(
            lo < start + size and start < hi for lo, hi in spans)
        if not hit:
            continue
        data = d[foff: foff + size]
        zero = bytes(PAGE)
        lo, hi = 0, size
        while lo < hi and data[lo: lo + PAGE] == zero:
            lo += PAGE
        while hi > lo and data[hi - PAGE: hi] == zero:
            hi -= PAGE
        if hi > lo:
            keep.append((start + lo, hi - lo, data[lo:hi]))

    head = bytearray(d[:m64rva])
    body = struct.pack("<QQ", len(keep), m64rva + 16 + 16 * len(keep))
    body += b"".join(struct.pack("<QQ", s, n) for s, n, _ in keep)
    struct.pack_into("<III", head, dirrva + 12 * m64idx, 9, len(body), m64rva)
    with open(dst, "wb") as f:
        f.write(head)
        f.write(body)
        for _s, _n, data in keep:
            f.write(data)
    total = sum(n for _s, n, _ in keep)
    print(f"shrink.py: kept {len(keep)} of {count} ranges, {total:#x} of "
          f"{sum(r[1] for r in ranges):#x} bytes", file=sys.stderr)


main()
