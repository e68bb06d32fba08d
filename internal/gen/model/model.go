// Package model turns the //skald: markers of loaded packages into the
// description the renderer works from, and checks everything about the
// user's code that the generated code relies on. Every problem becomes a
// Diagnostic at a source position; Build reports all of them in one run.
package model

import (
	"go/token"
	"go/types"
	"strings"
)

// Package is the generator's view of one Go package with markers.
type Package struct {
	Name  string         // package name
	Path  string         // import path
	Dir   string         // directory of the package's files
	Types *types.Package // the type-checked package, without skaldgen's output
	// Out is the absolute path of the file skaldgen writes.
	Out string
	// Workers are the //skald:worker types, in source order.
	Workers []*Worker
	// Models are the //skald:model types, in source order.
	Models []*Struct
	// Structs are every struct type the models reach, models included, in
	// source order; each gets its own decode and encode function.
	Structs []*Struct
	// Validations are the //skald:validation functions, in source order.
	Validations []*Validation
}

// Validation is a custom validate tag and the function that checks it.
type Validation struct {
	Tag  string
	Func string
	Pos  token.Position // of the marker
}

// Worker is one //skald:worker type.
type Worker struct {
	Name  string // Go type name
	Class string // class name stored in a task's className
	Model *Struct
	// Progress and Result are the types of progress= and result=, or nil.
	Progress, Result *Struct
	// Hooks are the marked methods, ordered as the fields of skald.Hooks.
	Hooks []*Hook
	Pos   token.Position // of the //skald:worker marker
}

// Hook returns w's hook of kind k, or nil.
func (w *Worker) Hook(k HookKind) *Hook {
	for _, h := range w.Hooks {
		if h.Kind == k {
			return h
		}
	}
	return nil
}

// HookKind is one lifecycle hook of skald.Hooks.
type HookKind int

// The hook kinds, in the order of the fields of skald.Hooks.
const (
	Init HookKind = iota
	Before
	Main
	After
	Release
	Update
)

// HookKinds lists every kind in field order.
var HookKinds = []HookKind{Init, Before, Main, After, Release, Update}

var hookNames = [...]string{"init", "before", "main", "after", "release", "update"}

// Marker returns the marker name of k, such as "main".
func (k HookKind) Marker() string { return hookNames[k] }

// Field returns the skald.Hooks field of k, such as "Main".
func (k HookKind) Field() string {
	n := hookNames[k]
	return strings.ToUpper(n[:1]) + n[1:]
}

// Hook is a marked method of a worker.
type Hook struct {
	Kind   HookKind
	Method string
	Pos    token.Position // of the marker
}

// Struct is a named struct type of the package that the generated code
// decodes and encodes.
type Struct struct {
	Name   string
	Fields []*Field
	Pos    token.Position // of the type name in its declaration
	// Fallback, when set, says why the validate tags of this struct are
	// not generated as code: its validation calls validator/v10 through
	// codec instead, for the whole struct and what it reaches, so that
	// tags skaldgen does not know keep working exactly as before.
	Fallback string
}

// Field is one JSON member of a Struct.
type Field struct {
	GoName   string
	JSONName string // the key written by Encode
	// Keys are the keys Decode accepts: JSONName, the aliases, then GoName
	// if different and not another field's name.
	Keys []string
	// Aliases are the names declared with //skald:alias, in source order.
	Aliases    []string
	aliasMarks []*aliasMark
	// Required fields must be present in the input (validate:"required").
	Required bool
	// OmitEmpty leaves the member out of the output when the value is
	// empty, as encoding/json does.
	OmitEmpty bool
	Type      *Type
	// Rules are the parsed validate tag; nil without one. RulesErr, when
	// set, says why generated code cannot check them, so that the struct
	// falls back to validator/v10.
	Rules    *Rules
	RulesErr string
	// pos is where the field is named, tagPos where the value of its
	// validate tag starts (NoPos when unknown); tagProbs are the problems
	// of the tag found while parsing it.
	pos, tagPos token.Pos
	tagProbs    []tagProblem
	// NoValidate is set by validate:"-": validator/v10 skips the field
	// and everything in it.
	NoValidate bool
	// Policy says what a change of the field means to a running task.
	Policy Policy
	// PolicyPos is where the policy marker stands.
	PolicyPos token.Position
	// Doc is the field's doc comment (its line comment when it has none)
	// on one line, without markers; the schema's description of the field.
	Doc string
}

// Policy is what a change of a field means while its task runs.
type Policy int

// The update policies. Hot is the default.
const (
	// Hot: the worker's update hook receives the new value.
	Hot Policy = iota
	// Restart: the worker is stopped and started again with the new
	// attachments.
	Restart
	// Immutable: a change is rejected as long as the task exists.
	Immutable
)

func (p Policy) String() string {
	return [...]string{"hot", "restart", "immutable"}[p]
}

// Kind classifies a Type by how it is read and written.
type Kind int

// The kinds of field types.
const (
	String Kind = iota
	Bool
	Int
	Uint
	Float
	Time     // time.Time
	Duration // time.Duration
	Raw      // json.RawMessage
	StructKind
	Pointer
	Slice
	Array
	Map
)

// Type is a field type the generated code can handle.
type Type struct {
	Kind Kind
	// Go is the type as declared, for conversions, literals and variables.
	Go types.Type
	// Bits is the size for Int, Uint and Float: 0 for int and uint, whose
	// size depends on the platform.
	Bits int
	// Exact is set when Go is exactly the type the codec call returns or
	// takes (string, bool, int64, uint64, float64), so no conversion is
	// needed.
	Exact  bool
	Elem   *Type   // Pointer, Slice, Array and Map values
	Key    *Type   // Map keys; always of Kind String
	Len    int64   // Array
	Struct *Struct // StructKind
}
