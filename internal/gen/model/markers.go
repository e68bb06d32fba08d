package model

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MarkerPrefix starts every marker. Like //go: directives, a marker has no
// space after the slashes, so prose that mentions "skald:" is never taken
// for one.
const MarkerPrefix = "//skald:"

// Where a marker may stand.
const (
	onStructType = "struct type declaration"
	onType       = "type declaration"
	onMethod     = "method of a //skald:worker type"
	onFunc       = "function of the package"
	onField      = "field of a struct type that a //skald:model reaches, in the field's doc comment"
)

// MarkerDef describes one marker for the parser and for skaldgen -markers.
type MarkerDef struct {
	Name string
	On   string // where it may stand
	// Signature is the method signature a hook marker requires, with W for
	// the worker type and M for its model; empty for other markers.
	Signature string
	Args      []ArgDef
	Doc       string
	hook      HookKind
	isHook    bool
	policy    Policy
	isPolicy  bool
	isAlias   bool
}

// ArgDef is one key=value argument of a marker.
type ArgDef struct {
	Key      string
	Value    string // placeholder shown in the help, such as <TypeName>
	Required bool
	Doc      string
}

// Markers lists every marker skaldgen understands, in the order -markers
// prints them.
var Markers = []*MarkerDef{
	{
		Name: "model",
		On:   onStructType,
		Doc: "Marks the attachments model of one or more workers. skaldgen generates\n" +
			"Decode<T> (strict JSON decoding, then validation), Encode<T> and\n" +
			"Validate<T>, and a decoder and encoder for every struct type the model\n" +
			"reaches. Fields are read under their json tag name and under their Go\n" +
			"name; a field whose validate tag contains \"required\" must be present.\n" +
			"The validate tags " + strings.Join(GeneratedTags(), ", ") + "\n" +
			"are generated as code; a struct with another tag of validator/v10, or\n" +
			"one declared with //skald:validation, is validated by validator/v10,\n" +
			"with the same messages. Any other tag, a parameter a tag cannot take,\n" +
			"or dive on a value that is not a collection is an error.",
	},
	{
		Name: "worker",
		On:   onType,
		Args: []ArgDef{
			{Key: "model", Value: "<TypeName>", Required: true,
				Doc: "the //skald:model struct type of this package that holds the attachments"},
			{Key: "name", Value: "<ClassName>",
				Doc: "the class name stored in a task's className; default: the Go type name"},
			{Key: "progress", Value: "<TypeName>",
				Doc: "a struct type of this package that the worker reports as its progress"},
			{Key: "result", Value: "<TypeName>",
				Doc: "a struct type of this package that the worker sets as its result"},
		},
		Doc: "Marks a worker type. skaldgen generates <W>Class, a *skald.Class that\n" +
			"creates a fresh <W> for every task and binds its marked methods, adds\n" +
			"it to Register, and generates New<W>Client, a typed client.\n" +
			"With progress=P, it generates Report<W>Progress(ctx, P), which any hook\n" +
			"calls with its context; the node stores the newest report with the task\n" +
			"at most once per its progress interval. With result=R, it generates\n" +
			"Set<W>Result(ctx, R); the last result set is stored with the task's\n" +
			"terminal status. P and R are encoded and decoded like models (they\n" +
			"need no //skald:model marker); their JSON Schemas are in the class\n" +
			"(ProgressSchema, ResultSchema) and written by -schema, and the typed\n" +
			"client, then a <W>Client, reads them typed and can watch the progress.",
	},
	hookDef(Init, "func (w *W) X(m M) error",
		"Receives the decoded attachments before any other hook runs."),
	hookDef(Before, "func (w *W) X(ctx context.Context) error",
		"Runs after init and before main."),
	hookDef(Main, "func (w *W) X(ctx context.Context) error",
		"Does the work; required. ctx is cancelled when the task is cancelled.\n"+
			"An error from any hook fails the task, and the controller retries it\n"+
			"after its backoff; return skald.Terminal(err) to fail for good, or\n"+
			"skald.RetryLater(d, err) to be retried no sooner than after d."),
	hookDef(After, "func (w *W) X(ctx context.Context) error",
		"Runs after main returns without error, unless the task was cancelled, reassigned\nor its node stopped meanwhile: then main was interrupted, and only release runs."),
	hookDef(Release, "func (w *W) X(ctx context.Context) error",
		"Always runs last, also after a cancel or a failure."),
	hookDef(Update, "func (w *W) X(ctx context.Context, m M) error",
		"Receives every accepted change of the attachments while the task runs,\n"+
			"one at a time and in order, concurrently with main. An error refuses the\n"+
			"update and the worker runs on; skald.Terminal or skald.RetryLater fails\n"+
			"the task."),
	{
		Name:      "validation",
		On:        onFunc,
		Signature: "func X(fl validator.FieldLevel) bool",
		Args: []ArgDef{
			{Key: "tag", Value: "<name>", Required: true,
				Doc: "the validate tag that runs the function, as in validate:\"<name>\""},
		},
		Doc: "Declares a custom validate tag (validator.FieldLevel is from\n" +
			"github.com/go-playground/validator/v10). skaldgen accepts the tag in\n" +
			"the models of this package, and the generated file registers the\n" +
			"function with codec.RegisterValidation from an init function, so the\n" +
			"tag works before the first decode. A struct that uses it is validated\n" +
			"by validator/v10. Any validate tag that is neither generated, built into\n" +
			"validator/v10 nor declared so is an error.",
	},
	{
		Name:    "alias",
		On:      onField,
		Args:    []ArgDef{{Key: "name", Value: "<key>", Required: true, Doc: "another key the decoder accepts for the field"}},
		isAlias: true,
		Doc: "Declares another accepted name of the field, such as the Python field\n" +
			"name of a model ported from Python Skalds (//skald:alias name=rtsp_url\n" +
			"on a field tagged json:\"rtspUrl\"). Repeat the marker for more names.\n" +
			"The decoder accepts every name; a document that gives the field under\n" +
			"two of them is refused, as a field given twice. The encoder writes the\n" +
			"json name only. The JSON Schema lists each alias as a property that\n" +
			"refers to the field's own.",
	},
	policyDef(Hot, "The default update policy, written out for clarity: a change of the field\n"+
		"reaches the running worker through its update hook."),
	policyDef(Restart, "A change of the field restarts the worker: the node stops it and starts\n"+
		"it again with the new attachments, instead of calling its update hook.\n"+
		"For parameters a worker only reads when it starts."),
	policyDef(Immutable, "A change of the field is rejected while the task exists, by the node and\n"+
		"by the typed client's Update before it writes anything, with the error\n"+
		"\"<path>: may not change while the task runs\"."),
}

func policyDef(p Policy, doc string) *MarkerDef {
	return &MarkerDef{Name: p.String(), On: onField, Doc: doc, policy: p, isPolicy: true}
}

func hookDef(k HookKind, sig, doc string) *MarkerDef {
	return &MarkerDef{Name: k.Marker(), On: onMethod, Signature: sig, Doc: doc, hook: k, isHook: true}
}

func lookupMarker(name string) *MarkerDef {
	for _, d := range Markers {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Usage returns the marker as written with its arguments, such as
// "//skald:worker model=<TypeName> [name=<ClassName>]".
func (d *MarkerDef) Usage() string {
	s := MarkerPrefix + d.Name
	for _, a := range d.Args {
		if a.Required {
			s += " " + a.Key + "=" + a.Value
		} else {
			s += " [" + a.Key + "=" + a.Value + "]"
		}
	}
	return s
}

// PrintMarkers writes the help that skaldgen -markers prints: every
// marker, where it may stand and its arguments.
func PrintMarkers(w io.Writer) error {
	var b strings.Builder
	b.WriteString("Markers are comment lines in the doc comment of a declaration, written\n" +
		"without a space after the slashes. W is the worker type, M its model type;\n" +
		"receivers may be pointers or values.\n")
	for _, d := range Markers {
		b.WriteString("\n" + d.Usage() + "\n")
		fmt.Fprintf(&b, "\ton: %s\n", d.On)
		if d.Signature != "" {
			fmt.Fprintf(&b, "\tsignature: %s\n", d.Signature)
		}
		for _, a := range d.Args {
			req := "optional"
			if a.Required {
				req = "required"
			}
			fmt.Fprintf(&b, "\t%s=%s (%s): %s\n", a.Key, a.Value, req, a.Doc)
		}
		for line := range strings.SplitSeq(d.Doc, "\n") {
			b.WriteString("\t" + line + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// marker is one parsed marker comment.
type marker struct {
	def  *MarkerDef // nil for an unknown marker
	name string
	args []markerArg
	pos  int // byte offset of the comment in its file
}

// markerArg is one key=value argument; off is its offset in the comment.
type markerArg struct {
	key, value string
	off        int
	valueOff   int
}

// parseMarker splits a comment text that starts with MarkerPrefix into its
// name and arguments. Values may be Go string literals, for class names
// with spaces. It returns an error message and the offset it refers to.
func parseMarker(text string) (name string, args []markerArg, errOff int, err string) {
	rest := text[len(MarkerPrefix):]
	off := len(MarkerPrefix)
	i := strings.IndexAny(rest, " \t")
	if i < 0 {
		return rest, nil, 0, ""
	}
	name = rest[:i]
	for i < len(rest) {
		for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
			i++
		}
		if i == len(rest) {
			break
		}
		start := i
		for i < len(rest) && rest[i] != '=' && rest[i] != ' ' && rest[i] != '\t' {
			i++
		}
		key := rest[start:i]
		if i == len(rest) || rest[i] != '=' {
			return name, args, off + start, fmt.Sprintf("marker argument %q is not key=value", key)
		}
		i++ // '='
		vstart := i
		var value string
		if i < len(rest) && rest[i] == '"' {
			lit, perr := strconv.QuotedPrefix(rest[i:])
			if perr != nil {
				return name, args, off + vstart, fmt.Sprintf("argument %s= has an unterminated string", key)
			}
			value, _ = strconv.Unquote(lit)
			i += len(lit)
			if i < len(rest) && rest[i] != ' ' && rest[i] != '\t' {
				return name, args, off + i, fmt.Sprintf("argument %s= has text after its closing quote", key)
			}
		} else {
			for i < len(rest) && rest[i] != ' ' && rest[i] != '\t' {
				i++
			}
			value = rest[vstart:i]
		}
		args = append(args, markerArg{key: key, value: value, off: off + start, valueOff: off + vstart})
	}
	return name, args, 0, ""
}

// suggest returns the known marker name closest to name, if it is a
// likely typo.
// Short names allow one edit, longer ones two, so that "foo" is not taken
// for a typo of "hot".
func suggest(name string) string {
	best, bestDist := "", 3
	for _, d := range Markers {
		allowed := 1
		if len(d.Name) >= 6 {
			allowed = 2
		}
		if dist := editDistance(name, d.Name); dist <= allowed && dist < bestDist {
			best, bestDist = d.Name, dist
		}
	}
	return best
}

// editDistance counts insertions, deletions, substitutions and swaps of
// adjacent letters ("mian" is one edit from "main").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := d[i-1][j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			d[i][j] = min(c, d[i-1][j]+1, d[i][j-1]+1)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
