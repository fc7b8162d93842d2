package expr

import "strings"

// ErrorKind selects the WinDbg message of an Error.
type ErrorKind int

// Error kinds, each printing dbgeng's text.
const (
	ErrSyntax         ErrorKind = iota // Syntax error at '...'
	ErrNumericMissing                  // Numeric expression missing from '...'
	ErrAddressMissing                  // Address expression missing from '...'
	ErrLengthMissing                   // Length of range missing from '...'
	ErrCouldntResolve                  // Couldn't resolve error at '...'
	ErrBadRegister                     // Bad register error at '...'
	ErrMemoryAccess                    // Memory access error at '...'
	ErrOperand                         // Operand error at '...' (division by zero)
	ErrOverflow                        // Overflow error at '...' (number too large, nesting too deep)
	ErrExtraCharacter                  // Extra character error in '...'
	ErrRange                           // Range error in '...'
)

// Error is an expression error. At is the input from the failing token to
// the end (dbgeng quotes the rest of the line); for ErrExtraCharacter and
// ErrRange, which WinDbg reports against the whole command with a caret, At
// is the whole parsed text and Pos the caret column in it.
type Error struct {
	Kind ErrorKind
	At   string
	Pos  int // byte offset in the parsed string where At starts (or the caret column)
}

var kindText = [...]string{
	ErrSyntax:         "Syntax error at",
	ErrNumericMissing: "Numeric expression missing from",
	ErrAddressMissing: "Address expression missing from",
	ErrLengthMissing:  "Length of range missing from",
	ErrCouldntResolve: "Couldn't resolve error at",
	ErrBadRegister:    "Bad register error at",
	ErrMemoryAccess:   "Memory access error at",
	ErrOperand:        "Operand error at",
	ErrOverflow:       "Overflow error at",
	ErrExtraCharacter: "Extra character error in",
	ErrRange:          "Range error in",
}

func (e *Error) Error() string {
	at := e.At
	if at == "" && !e.InCommand() {
		at = "<EOL>"
	}
	text := "Syntax error at"
	if int(e.Kind) >= 0 && int(e.Kind) < len(kindText) {
		text = kindText[e.Kind]
	}
	return text + " '" + at + "'"
}

// InCommand reports whether WinDbg prints the error against the whole
// command with a caret under the failing column instead of "error at".
func (e *Error) InCommand() bool {
	return e.Kind == ErrExtraCharacter || e.Kind == ErrRange
}

// Report renders the error line as WinDbg prints it for command, where column
// is the screen column of the start of the parsed text (prompt width plus its
// offset in command), e.g.
//
//	"                ^ Extra character error in '? 1+1)'"
//
// Errors that are not InCommand print as Error().
func (e *Error) Report(command string, column int) string {
	if !e.InCommand() {
		return e.Error()
	}
	col := column + e.Pos
	if col < 0 {
		col = 0
	}
	return strings.Repeat(" ", col) + "^ " + kindText[e.Kind] + " '" + command + "'"
}
