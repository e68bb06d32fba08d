package model

import (
	"cmp"
	"fmt"
	"go/token"
	"slices"
	"strings"
)

// relatedMark stands in a Diagnostic's message where its Related position
// goes; the position is only formatted when the diagnostic is printed, so
// that it can be made relative to the same directory as the main one.
const relatedMark = "\x00"

// Diagnostic is one problem in the user's code (or in loading it).
type Diagnostic struct {
	Pos token.Position // invalid for problems without a place
	Msg string
	// Related is a second place the message refers to, such as the first
	// of two conflicting markers.
	Related token.Position
}

// Format renders d as "file:line:col: message", with file names passed
// through rel (which may return its argument).
func (d Diagnostic) Format(rel func(string) string) string {
	msg := d.Msg
	if strings.Contains(msg, relatedMark) {
		msg = strings.Replace(msg, relatedMark, formatPos(d.Related, rel), 1)
	}
	if d.Pos.Filename == "" {
		return msg
	}
	return formatPos(d.Pos, rel) + ": " + msg
}

func formatPos(p token.Position, rel func(string) string) string {
	s := rel(p.Filename)
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
		if p.Column > 0 {
			s += fmt.Sprintf(":%d", p.Column)
		}
	}
	return s
}

// SortDiagnostics orders ds by file, line and column, and drops exact
// duplicates (a package loaded twice reports its errors twice).
func SortDiagnostics(ds []Diagnostic) []Diagnostic {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
		)
	})
	return slices.Compact(ds)
}
