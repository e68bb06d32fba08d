package codec

import (
	"strconv"
	"unicode/utf8"
)

// Bounds on the text of an error. Keys and values quoted in an error come
// from the sender, and an error ends up in a log line, in a task's
// attachmentsRejection in MongoDB and in API responses: a megabyte of key
// must not become a megabyte in each of them.
const (
	// maxQuoted is how much of one key or value an error quotes.
	maxQuoted = 64
	// maxPath is the longest path an error names; a longer one keeps its
	// start and its end, the part that says which value is meant.
	maxPath = 512
	// maxMsg is the longest message of one error.
	maxMsg = 512
)

// ClipText shortens s to at most max bytes plus "...", cutting at a rune
// boundary so that the result stays valid UTF-8. Whatever stores or logs
// an error text taken from a sender's input bounds it with ClipText.
func ClipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max] + "..."
}

// clipPath shortens a path longer than maxPath to its first and last parts
// with "..." between them.
func clipPath(p string) string {
	if len(p) <= maxPath {
		return p
	}
	head, tail := maxPath/4, len(p)-maxPath*3/4
	for head > 0 && !utf8.RuneStart(p[head]) {
		head--
	}
	for tail < len(p) && !utf8.RuneStart(p[tail]) {
		tail++
	}
	return p[:head] + "..." + p[tail:]
}

// FieldError is one problem found while decoding or validating, tied to the
// place in the document where it was found, so that the sender of a task can
// fix the input without guessing which field was meant.
type FieldError struct {
	// Path locates the value as a JSON path: "$" for the whole document,
	// "$.rtspUrl", "$.cameras[2].fixFrame"; keys that are not plain
	// identifiers are bracketed and quoted, as in $["a b"].
	Path string
	// Msg says what is wrong, for example "expected integer, got string".
	Msg string
}

// Error formats the error as "<path>: <msg>", the form shown to users.
func (e *FieldError) Error() string {
	return e.Path + ": " + e.Msg
}

// Errors collects every problem of one decode or validation, so a sender
// can fix all of them in one round trip instead of one per attempt.
type Errors []*FieldError

// Error prints a single error as itself and several as
// "3 errors: <e1>; <e2>; <e3>".
func (e Errors) Error() string {
	switch len(e) {
	case 0:
		return "no errors"
	case 1:
		return e[0].Error()
	}
	b := make([]byte, 0, 32*len(e))
	b = strconv.AppendInt(b, int64(len(e)), 10)
	b = append(b, " errors: "...)
	for i, fe := range e {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = append(b, fe.Path...)
		b = append(b, ": "...)
		b = append(b, fe.Msg...)
	}
	return string(b)
}

// Unwrap exposes the individual errors, so errors.As can find a
// *FieldError in an Errors value.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, fe := range e {
		errs[i] = fe
	}
	return errs
}

// appendPathKey appends one object member to a JSON path: ".name" when the
// key is an identifier, `["key"]` otherwise. A key longer than maxQuoted
// is cut, and then always bracketed, ending in "...".
func appendPathKey(b []byte, key []byte) []byte {
	if len(key) > maxQuoted {
		b = append(b, '[')
		b = appendString(b, []byte(ClipText(string(key), maxQuoted)))
		return append(b, ']')
	}
	if isIdent(key) {
		b = append(b, '.')
		return append(b, key...)
	}
	b = append(b, '[')
	b = appendString(b, key)
	return append(b, ']')
}

// appendPathIndex appends one array element to a JSON path.
func appendPathIndex(b []byte, i int) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(i), 10)
	return append(b, ']')
}

// isIdent reports whether key can follow a dot in a path: an ASCII letter
// or underscore, then letters, digits or underscores.
func isIdent(key []byte) bool {
	if len(key) == 0 {
		return false
	}
	for i, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
