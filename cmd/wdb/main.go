// Command wdb is a WinDbg-style post-mortem debugger for Windows minidumps.
//
//	wdb [options] [dumpfile]
//
// See flags.go for the options. This file only wires the pieces together:
// parse the command line, open the dump, make a session, hand it to the
// shell. The version that --version, the banner and the version command
// print is commands.DebuggerVersion (set at release with
// -ldflags "-X wdb/commands.DebuggerVersion=…").
package main

import (
	"fmt"
	"io"
	"os"

	"wdb/commands"
	"wdb/repl"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, returning the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sample" {
		return runSample(args[1:], stdout, stderr) // sample.go
	}
	cfg, err := parseArgs(args, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "wdb: %v\n", err)
		return 2
	}
	switch {
	case cfg.help:
		fmt.Fprint(stdout, usage)
		return 0
	case cfg.version:
		fmt.Fprintf(stdout, "wdb version %s\n", commands.DebuggerVersion)
		return 0
	}
	builtIn := cfg.dump == ""
	if builtIn {
		// No dump: the built-in sample (sample.go).
		if err := useSample(cfg); err != nil {
			fmt.Fprintf(stderr, "wdb: no dump file given, and the built-in sample could not be written: %v\n", err)
			return 1
		}
	}

	f, closeDump, err := commands.OpenDump(cfg.dump)
	if err != nil {
		// dump errors name the file and where it went wrong: one line.
		fmt.Fprintf(stderr, "wdb: %v\n", err)
		return 1
	}
	defer closeDump()

	s := commands.NewSession(f, stdout, stderr)
	s.JSON = cfg.json
	if err := s.SetSymbolPath(cfg.symbolPath); err != nil {
		fmt.Fprintf(stderr, "wdb: symbol path: %v\n", err)
	}
	s.SetImagePath(cfg.imagePath)
	opts := cfg.options(commands.DebuggerVersion)
	if builtIn {
		opts.BannerNote = sampleBannerLine
	}
	return repl.Run(s, opts)
}
