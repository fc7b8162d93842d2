package undname

// StripC removes the x86 C decorations that dbghelp strips for display and
// name matching: "_name" (cdecl), "_name@N" (stdcall), "@name@N" (fastcall) and
// "name@@N" (vectorcall) all become "name". Anything else, including C++
// decorations, "__imp_" thunks' special forms and names with characters that
// cannot appear in a C identifier, is returned unchanged. Only apply it to x86
// modules: x64 C names are not decorated and may legitimately start with '_'.
func StripC(s string) string {
	switch {
	case len(s) > 1 && s[0] == '@':
		// fastcall: @name@N
		if name, ok := cutArgBytes(s[1:], "@"); ok && isCIdent(name) {
			return name
		}
	case len(s) > 1 && s[0] == '_':
		if name, ok := cutArgBytes(s[1:], "@"); ok && isCIdent(name) {
			return name // stdcall
		}
		if isCIdent(s[1:]) {
			return s[1:] // cdecl
		}
	default:
		if name, ok := cutArgBytes(s, "@@"); ok && isCIdent(name) {
			return name // vectorcall
		}
	}
	return s
}

// cutArgBytes splits "name<sep>digits" and reports whether s had that shape.
func cutArgBytes(s, sep string) (string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if i == len(s)-1 || i+1 < len(sep) || s[i+1-len(sep):i+1] != sep {
			return "", false
		}
		return s[:i+1-len(sep)], true
	}
	return "", false
}

// isCIdent reports whether s is a non-empty C identifier ('$' allowed, as
// MSVC accepts it).
func isCIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '$':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
