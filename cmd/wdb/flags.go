package main

import (
	"fmt"
	"strings"

	"wdb/repl"
)

// The command line follows cdb (windbg-commands.md §1.1): single-dash long
// options taking the next argument as their value, so that cdb habits and
// scripts carry over. Go's flag package would accept these too, but it
// cannot tell "-logo" (log, overwrite) from a typo'd flag with a helpful
// message, nor take the dump as a trailing positional after options, so the
// few options are parsed by hand. Every option also works with "--".

const usage = `usage: wdb [options] [dumpfile]
       wdb sample --out FILE [--arch x86|x64] [--scale seed]

Opens a Windows user-mode minidump and runs WinDbg commands on it. Without a
dump it opens the built-in sample (a process leaking memory-mapped views;
.tutorial walks through its analysis). "wdb sample" writes that sample.

Options (cdb conventions; "--name" works as well as "-name"):
  -z FILE        dump file to open (same as the positional dumpfile)
  -c "CMDS"      commands to run at start-up, separated by ';'
  -cf FILE       command file to run at start-up, one command line per line
  -y PATH        symbol search path (default: $_NT_ALT_SYMBOL_PATH;$_NT_SYMBOL_PATH)
  -i PATH        executable image search path (default: $_NT_EXECUTABLE_IMAGE_PATH)
  -logo FILE     log the session to FILE, overwriting it
  -loga FILE     log the session to FILE, appending to it
  --json         print each command's result as one JSON object per line
  --version      print wdb's version and exit
  -h, --help, -? print this help and exit

With commands from -c or -cf, wdb stays at the prompt afterwards when its
input is a terminal and exits otherwise; without them, commands are read
from standard input when it is not a terminal. The exit status is 1 when the
dump cannot be opened or a scripted command fails, 2 for usage errors.
`

// config is the parsed command line.
type config struct {
	dump        string
	commands    string
	commandFile string
	symbolPath  string
	imagePath   string
	logFile     string
	logAppend   bool
	json        bool
	help        bool
	version     bool
}

// usageError is a command-line mistake: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + " (see wdb --help)" }

// parseArgs reads the command line; getenv supplies the _NT_* fallbacks.
func parseArgs(args []string, getenv func(string) string) (*config, error) {
	cfg := &config{}
	var commands []string
	set := map[string]bool{}
	// value takes the argument after option name, once.
	value := func(i *int, name string, dst *string) error {
		if set[name] {
			return &usageError{fmt.Sprintf("option -%s given twice", name)}
		}
		set[name] = true
		if *i+1 >= len(args) {
			return &usageError{fmt.Sprintf("option -%s needs a value", name)}
		}
		*i++
		*dst = args[*i]
		return nil
	}
	var dumps []string
	onlyFiles := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if onlyFiles || !strings.HasPrefix(a, "-") || a == "-" {
			dumps = append(dumps, a)
			continue
		}
		if a == "--" {
			onlyFiles = true
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		var err error
		switch name {
		case "z":
			var d string
			if err = value(&i, name, &d); err == nil {
				dumps = append(dumps, d)
			}
		case "c":
			// -c may be repeated: the scripts run in order.
			if i+1 >= len(args) {
				return nil, &usageError{"option -c needs a value"}
			}
			i++
			commands = append(commands, args[i])
		case "cf":
			err = value(&i, name, &cfg.commandFile)
		case "y":
			err = value(&i, name, &cfg.symbolPath)
		case "i":
			err = value(&i, name, &cfg.imagePath)
		case "logo", "loga":
			if set["logo"] || set["loga"] {
				return nil, &usageError{"only one of -logo and -loga may be given"}
			}
			err = value(&i, name, &cfg.logFile)
			cfg.logAppend = name == "loga"
		case "json":
			cfg.json = true
		case "version":
			cfg.version = true
		case "h", "help", "?":
			cfg.help = true
		default:
			return nil, &usageError{fmt.Sprintf("unknown option %s", a)}
		}
		if err != nil {
			return nil, err
		}
	}
	if len(dumps) > 1 {
		return nil, &usageError{fmt.Sprintf("more than one dump file given (%s); wdb opens one dump at a time", strings.Join(dumps, ", "))}
	}
	if len(dumps) == 1 {
		cfg.dump = dumps[0]
	}
	cfg.commands = strings.Join(commands, "; ")
	if !set["y"] {
		cfg.symbolPath = joinPaths(getenv("_NT_ALT_SYMBOL_PATH"), getenv("_NT_SYMBOL_PATH"))
	}
	if !set["i"] {
		cfg.imagePath = getenv("_NT_EXECUTABLE_IMAGE_PATH")
	}
	return cfg, nil
}

// joinPaths joins the non-empty search paths with ';' (the alternate symbol
// path is searched first, §1.2).
func joinPaths(paths ...string) string {
	var out []string
	for _, p := range paths {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ";")
}

// options is what the shell needs from the command line.
func (c *config) options(version string) repl.Options {
	return repl.Options{
		Version:     version,
		SymbolPath:  c.symbolPath,
		ImagePath:   c.imagePath,
		Commands:    c.commands,
		CommandFile: c.commandFile,
		LogFile:     c.logFile,
		LogAppend:   c.logAppend,
	}
}
