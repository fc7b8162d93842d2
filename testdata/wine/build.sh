#!/usr/bin/env bash
# Rebuilds leak.exe from leak.c and regenerates leak.dmp by running it under Wine.
#
#   ./build.sh          rebuild leak.exe, run it under Wine, write leak.dmp and leak.txt
#
# Needs Debian's clang, lld, llvm (llvm-dlltool), wine (8.0~repack-4 made the committed
# files; `apt-get install -y wine wine64`) and python3. No X server is needed.
#
# What happens: leak.exe leaks LEAK_VIEWS views (see leak.c), then starts a second copy of
# itself ("leak.exe dump PID") that writes leak.dmp of the first with Wine's dbghelp
# MiniDumpWriteDump(MiniDumpWithFullMemory | MiniDumpWithDataSegs | MiniDumpWithHandleData)
# while the first waits. Wine's full-memory dump is ~45 MB (every committed page, Wine's
# own DLLs included); shrink.py keeps the stream layout Wine wrote and cuts the
# Memory64ListStream down to the ranges the analysis needs (see shrink.py), ~0.5 MB.
# leak.txt is leak.exe's own account: heap, vftable, globals, and each view with the
# serializer that leaked it.
#
# The dump is not byte-for-byte reproducible: addresses, thread ids and the time stamp
# come from the run. The Wine prefix is a fresh temporary one, the environment is
# emptied (the PEB's environment block is in the dump) and the program runs as
# C:\wdb\leak.exe so that no path of the build machine ends up in the dump.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
for t in clang lld-link llvm-dlltool wine python3; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if ((${#missing[@]})); then
    echo "build.sh: missing tools: ${missing[*]}" >&2
    echo "build.sh: apt-get update && apt-get install -y clang lld llvm wine wine64 python3" >&2
    exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp "$here/leak.c" "$here/kernel32.def" "$here/dbghelp.def" "$work/"
(
    cd "$work"
    llvm-dlltool -m i386:x86-64 -d kernel32.def -l kernel32.lib
    llvm-dlltool -m i386:x86-64 -d dbghelp.def -l dbghelp.lib
    clang --target=x86_64-pc-windows-msvc -c -Os -ffreestanding -fno-builtin \
        -fno-stack-protector -Wall -Wextra -Werror leak.c -o leak.obj
    # No /debug: like most programs found in the wild, no CodeView record to look for.
    lld-link /nologo /nodefaultlib /dynamicbase /Brepro /subsystem:console \
        /entry:LeakMain /out:leak.exe leak.obj kernel32.lib dbghelp.lib
)

prefix="$work/prefix"
mkdir -p "$prefix"
wine_env=(env -i "PATH=/usr/bin:/bin" "HOME=$work" "WINEPREFIX=$prefix" WINEDEBUG=-all
          WINEDLLOVERRIDES="mscoree,mshtml=")
# First run creates the prefix (wineboot); its noise goes to a log.
"${wine_env[@]}" wine cmd /c exit >"$work/wineboot.log" 2>&1 || true
"${wine_env[@]}" wineserver -w
mkdir -p "$prefix/drive_c/wdb"
cp "$work/leak.exe" "$prefix/drive_c/wdb/"
(
    cd "$prefix/drive_c/wdb"
    "${wine_env[@]}" wine 'C:\wdb\leak.exe' >leak.txt 2>"$work/leak.log" || {
        echo "build.sh: leak.exe failed under wine (exit $?):" >&2
        cat "$work/leak.log" >&2
        exit 1
    }
)
"${wine_env[@]}" wineserver -w
tr -d '\r' <"$prefix/drive_c/wdb/leak.txt" >"$work/leak.txt"
python3 "$here/shrink.py" "$prefix/drive_c/wdb/leak.dmp" "$work/leak.dmp" "$work/leak.txt"
full=$(stat -c %s "$prefix/drive_c/wdb/leak.dmp")
{ echo "wine $("${wine_env[@]}" wine --version)"; echo "full dump $full bytes"; cat "$work/leak.txt"; } >"$here/leak.txt"
cp "$work/leak.exe" "$work/leak.dmp" "$here/"
ls -l "$here/leak.exe" "$here/leak.dmp"
