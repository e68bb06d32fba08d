// Package schema checks task attachments against the JSON Schema of their
// class, as the nodes that run the class publish it, so that the API can
// refuse bad attachments with every failing field before anything is
// written, instead of a node failing the task (or rejecting the update)
// seconds later.
//
// The contract with nodes: each node keeps the Redis hash
// skalds:{nodeId}:schemas, field = class name, value = the class's JSON
// Schema (draft 2020-12) document. The node rewrites it with its heartbeat
// and gives it the TTL of its other registry keys, so a dead node's
// schemas expire with it. The monitor reads the hash of every online node.
//
// Policy:
//
//   - No online node publishes a schema for the class (no node of the
//     class is up yet, or its nodes predate schema publishing, such as
//     Python Skalds): the attachments are accepted unchecked. The node
//     still validates them when it starts the task or applies the update,
//     and records any failure with its field paths. Refusing instead would
//     make it impossible to queue tasks before their nodes start.
//   - Several online nodes publish different schemas for one class (a
//     rolling upgrade, or a node that should not be there): the
//     attachments must satisfy every one of them. Accepting a match with
//     any one would let a rogue or outdated node loosen the validation of
//     the whole class; requiring all of them means the attachments can run
//     on every node the dispatcher may pick. The errors of every failing
//     schema are reported, with the nodes that publish it. Such conflicts
//     are listed by the API (GET /api/classes, the schema endpoint and the
//     node list) and the dashboard, so that an operator sees them.
//
// Formats ("uri", "email", ...) are asserted, not only annotated, because
// the generated decoders of Go nodes check them too. Schemas may not load
// other documents: a "$ref" to anything outside the document fails to
// compile, so a published schema cannot make the controller read files or
// fetch URLs.
package schema

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/skalds-go/skalds/runtime/codec"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// FieldError is one failing value, located by a JSON path such as
// "$.fixFrame" or "$.zones[2].name" ("$" is the whole document).
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Source is one published schema of a class and the nodes that publish it.
type Source struct {
	Schema []byte
	Nodes  []string
}

// Result is the outcome of a check.
type Result struct {
	// Checked is false when no schema was available, and the attachments
	// were accepted unchecked.
	Checked bool
	// Errors are the failing fields; empty when the attachments are valid.
	Errors []FieldError
	// Nodes are the nodes whose schema was used for the errors.
	Nodes []string
}

// Valid reports whether the attachments may be written.
func (r Result) Valid() bool { return len(r.Errors) == 0 }

// maxCache bounds the compiled schemas kept; schemas change only when
// nodes are upgraded, so a handful per class is the normal case.
const maxCache = 512

// Validator compiles published schemas once per distinct document and
// checks attachments against them. It is safe for concurrent use.
type Validator struct {
	mu    sync.Mutex
	cache map[[32]byte]compiled
}

type compiled struct {
	sch *jsonschema.Schema
	err error
}

// NewValidator returns an empty validator.
func NewValidator() *Validator {
	return &Validator{cache: map[[32]byte]compiled{}}
}

// noLoader refuses every external document.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("loading %s: schemas must be self-contained", url)
}

// nodeFormats check the formats that skaldgen's schemas use with the
// checks of the nodes' generated decoders, so that a value passes here
// exactly when a node accepts it (RFC 3986's "uri", for one, is not
// validator/v10's url).
var nodeFormats = []*jsonschema.Format{
	stringFormat("uri", codec.IsURL),
	stringFormat("email", codec.IsEmail),
	stringFormat("uuid", codec.IsUUID),
	stringFormat("date-time", codec.IsTime),
	stringFormat("x-skald-duration", codec.IsDuration),
}

func stringFormat(name string, ok func(string) bool) *jsonschema.Format {
	return &jsonschema.Format{Name: name, Validate: func(v any) error {
		if s, isString := v.(string); isString && !ok(s) {
			return fmt.Errorf("not a valid %s", name)
		}
		return nil
	}}
}

// Compile compiles doc, from the cache when it was compiled before.
func (v *Validator) Compile(doc []byte) (*jsonschema.Schema, error) {
	sum := sha256.Sum256(doc)
	v.mu.Lock()
	c, ok := v.cache[sum]
	v.mu.Unlock()
	if ok {
		return c.sch, c.err
	}
	c.sch, c.err = compile(doc)
	v.mu.Lock()
	if len(v.cache) >= maxCache {
		clear(v.cache)
	}
	v.cache[sum] = c
	v.mu.Unlock()
	return c.sch, c.err
}

func compile(doc []byte) (*jsonschema.Schema, error) {
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("the published schema is not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	for _, f := range nodeFormats {
		c.RegisterFormat(f)
	}
	c.UseLoader(noLoader{})
	const loc = "skalds:///attachments.schema.json"
	if err := c.AddResource(loc, parsed); err != nil {
		return nil, err
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compiling the published schema: %w", err)
	}
	return sch, nil
}

// Check validates attachments (a JSON document) against every source, by
// the policy in the package documentation. Sources should be ordered by
// preference, the most published first (see Sort), which orders the
// errors. A source whose schema does not compile is skipped, and reported
// through the returned error only when no source compiles (the
// attachments are then accepted unchecked, as when nothing is published).
func (v *Validator) Check(attachments []byte, sources []Source) (Result, error) {
	if len(sources) == 0 {
		return Result{}, nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(attachments))
	if err != nil {
		return Result{Checked: true, Errors: []FieldError{{Path: "$", Message: "not valid JSON: " + err.Error()}}}, nil
	}
	var res Result
	var compileErrs []error
	seen := map[FieldError]bool{}
	for _, src := range sources {
		sch, err := v.Compile(src.Schema)
		if err != nil {
			compileErrs = append(compileErrs, fmt.Errorf("schema of %s: %w", strings.Join(src.Nodes, ", "), err))
			continue
		}
		res.Checked = true
		verr := sch.Validate(inst)
		if verr == nil {
			continue
		}
		var ve *jsonschema.ValidationError
		if !errors.As(verr, &ve) {
			return Result{}, verr
		}
		res.Nodes = append(res.Nodes, src.Nodes...)
		for _, fe := range Fields(ve, inst) {
			if !seen[fe] {
				seen[fe] = true
				res.Errors = append(res.Errors, fe)
			}
		}
	}
	if !res.Checked {
		return Result{}, errors.Join(compileErrs...)
	}
	if res.Valid() {
		res.Nodes = nil
		for _, src := range sources {
			res.Nodes = append(res.Nodes, src.Nodes...)
		}
	}
	return res, nil
}

// Sort orders sources by the number of nodes publishing them, most first,
// then by the first node's id, so that reports are stable.
func Sort(sources []Source) {
	for i := range sources {
		sort.Strings(sources[i].Nodes)
	}
	sort.SliceStable(sources, func(i, j int) bool {
		if len(sources[i].Nodes) != len(sources[j].Nodes) {
			return len(sources[i].Nodes) > len(sources[j].Nodes)
		}
		return sources[i].Nodes[0] < sources[j].Nodes[0]
	})
}

var printer = message.NewPrinter(language.English)

// num writes an exact number as JSON would.
func num(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// describe phrases an error for a person filling a form. The library's
// messages group digits ("1,000"), which reads as two values in a JSON
// context, so the bounds are written here; other kinds keep its text.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s (got %s)", num(k.Want), num(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s (got %s)", num(k.Want), num(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be greater than %s (got %s)", num(k.Want), num(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be less than %s (got %s)", num(k.Want), num(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("must be a multiple of %s (got %s)", num(k.Want), num(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("must have at least %d characters (got %d)", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must have at most %d characters (got %d)", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items (got %d)", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items (got %d)", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d fields (got %d)", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d fields (got %d)", k.Want, k.Got)
	}
	return k.LocalizedString(printer)
}

// Fields flattens a validation error into one FieldError per failing
// value: the leaves of the error tree, with a missing required property
// and an unexpected property reported at the property's own path, as a
// form shows them. inst is the validated document, used to tell array
// indexes from object keys that look like numbers.
func Fields(ve *jsonschema.ValidationError, inst any) []FieldError {
	var out []FieldError
	seen := map[FieldError]bool{}
	add := func(fe FieldError) {
		if !seen[fe] {
			seen[fe] = true
			out = append(out, fe)
		}
	}
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, name := range k.Missing {
				add(FieldError{Path: Path(inst, append(e.InstanceLocation[:len(e.InstanceLocation):len(e.InstanceLocation)], name)), Message: "required"})
			}
		case *kind.AdditionalProperties:
			for _, name := range k.Properties {
				add(FieldError{Path: Path(inst, append(e.InstanceLocation[:len(e.InstanceLocation):len(e.InstanceLocation)], name)), Message: "unknown field; the class does not accept it"})
			}
		default:
			add(FieldError{Path: Path(inst, e.InstanceLocation), Message: describe(e.ErrorKind)})
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Path writes a JSON Pointer's tokens as a JSON path in the style of the
// node's decoders: "$", then ".name" for identifier keys, `["odd key"]`
// for other keys and "[3]" for array elements.
func Path(inst any, tokens []string) string {
	// Each step points at the one before it, so the slice must not grow.
	steps := make([]codec.Path, len(tokens)+1)
	cur := inst
	for k, tok := range tokens {
		at := &steps[k]
		if arr, ok := cur.([]any); ok {
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 {
				steps[k+1], cur = at.Index(i), nil
				if i < len(arr) {
					cur = arr[i]
				}
				continue
			}
		}
		steps[k+1] = at.Member(tok)
		m, _ := cur.(map[string]any)
		cur = m[tok]
	}
	return steps[len(tokens)].String()
}
