package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"wdb/commands"
	"wdb/sample"
)

// The built-in sample: "wdb" with no dump opens the memory-mapped-file leak
// of PRODUCT.md, generated once into the user's cache directory; "wdb
// sample --out FILE" writes it for other tools.

const sampleUsage = `usage: wdb sample --out FILE [--arch x64|x86] [--scale default|seed] [--views N]

Writes wdb's built-in sample dump (a process that leaks memory-mapped views
until MapViewOfFile fails) to FILE, and app.pdb beside it. Open it with
  wdb -y DIR FILE
where DIR is FILE's directory. --scale seed writes the seed dump's numbers
(2300 views, MEM_MAPPED ≈ 934 MB) as a sparse file; the x86 variant always
fills its 2 GB address space. (To open a dump file named "sample", write
./sample or use -z.)
`

// sampleBannerLine is the line the banner gains for the built-in sample.
const sampleBannerLine = "This is wdb's built-in sample dump (no dump file was given); .tutorial starts a guided analysis of this dump"

// runSample is "wdb sample ...".
func runSample(args []string, stdout, stderr io.Writer) int {
	var o sample.Options
	out := ""
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") {
			fmt.Fprintf(stderr, "wdb sample: unexpected argument %q\n\n%s", args[i], sampleUsage)
			return 2
		}
		switch name {
		case "h", "help", "?":
			fmt.Fprint(stdout, sampleUsage)
			return 0
		case "out", "o", "arch", "scale", "views", "seed":
		default:
			fmt.Fprintf(stderr, "wdb sample: unknown option %s\n\n%s", args[i], sampleUsage)
			return 2
		}
		if !hasVal {
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "wdb sample: option %s needs a value\n", args[i])
				return 2
			}
			i++
			val = args[i]
		}
		var err error
		switch name {
		case "out", "o":
			out = val
		case "arch":
			o.Arch = val
		case "scale":
			o.Scale = val
		case "views":
			o.Views, err = strconv.Atoi(val)
		case "seed":
			o.Seed, err = strconv.ParseUint(val, 0, 64)
		}
		if err != nil {
			fmt.Fprintf(stderr, "wdb sample: --%s %q: not a number\n", name, val)
			return 2
		}
	}
	if out == "" {
		fmt.Fprintf(stderr, "wdb sample: --out FILE is required\n\n%s", sampleUsage)
		return 2
	}
	s, err := sample.Generate(o)
	if err != nil {
		fmt.Fprintf(stderr, "wdb %v\n", err)
		return 2
	}
	if err := s.WriteFile(out); err != nil {
		fmt.Fprintf(stderr, "wdb sample: %v\n", err)
		return 1
	}
	t := s.Truth
	dir := filepath.Dir(out)
	fmt.Fprintf(stdout, "wrote %s (%s, %d leaked views, MEM_MAPPED %s, MEM_PRIVATE %s) and %s\n",
		out, t.Arch, len(t.Views), commands.HumanSize(t.MappedBytes), commands.HumanSize(t.PrivateBytes), filepath.Join(dir, sample.PDBName))
	fmt.Fprintf(stdout, "open it with: wdb -y %s %s\n", dir, out)
	return 0
}

// sampleDir is where the built-in sample is cached.
func sampleDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "wdb", "sample")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("wdb-sample-%d", os.Getuid()))
}

// useSample points cfg at the built-in sample, writing it first if this
// wdb has not, and puts its directory first on the symbol path.
func useSample(cfg *config) error {
	path, err := sample.Ensure(sampleDir(), sample.Options{})
	if err != nil {
		return err
	}
	cfg.dump = path
	cfg.symbolPath = joinPaths(filepath.Dir(path), cfg.symbolPath)
	return nil
}
