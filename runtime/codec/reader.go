package codec

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

const (
	// maxErrors caps how many problems one decode records. A document that
	// is wrong in more places than this is probably not the document the
	// sender meant, and the list would only bury the first useful errors.
	maxErrors = 20
	// maxDepth bounds nesting, so hostile input cannot make a decode use
	// unbounded memory or time.
	maxDepth = 1000
	// inlineFrames is how many nesting levels the Reader tracks without
	// allocating; models nest far less than this.
	inlineFrames = 16
)

// frame is one open object or array.
type frame struct {
	// key is, for an object, the offset of the current member name in the
	// input (after its opening quote); for an array, the index of the
	// current element, or -1 before the first.
	key    int
	keyEnd int  // end of the member name (its closing quote)
	kind   byte // '{' or '['
	esc    bool // the member name contains escapes
	open   bool // no member or element has been read yet
	cur    bool // a member or element is being read: key is part of the path
	// canon, when set, is the name errors give the current member in
	// place of the key as written: the field's json name, when the
	// document spelt it another way.
	canon string
}

// Reader is a strict, pull-style JSON decoder driven by generated code: the
// decoder asks for the value it expects next, and the Reader either returns
// it or records why it could not.
//
// Wrong values do not stop a decode. A Reader records a [FieldError] at the
// current JSON path, skips the offending value and returns a zero value, so
// the generated code carries on and one decode reports every problem (at
// most 20, then "too many errors"). Malformed JSON does stop it: the Reader
// records the byte offset, and from then on every call returns zero values
// at once. [Reader.End] returns what was collected.
//
// A Reader keeps the path as a few offsets into the input and formats it
// only when it records an error, so correct input pays nearly nothing for
// precise error messages. Apart from the strings it returns, it does not
// allocate for inputs nested up to 16 levels.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	data   []byte
	pos    int
	depth  int
	failed bool // a syntax error or the error cap: stop reading
	errs   Errors
	keyBuf []byte // unescaped member names; Key's result aliases it
	valBuf []byte // unescaped string values before conversion
	frames [inlineFrames]frame
	more   []frame // frames beyond inlineFrames
}

// NewReader returns a Reader positioned before the single JSON value in
// data. The Reader does not copy data; it must not change during the
// decode.
func NewReader(data []byte) *Reader {
	return &Reader{data: data}
}

// Reset makes r read data from the start, keeping its buffers, so a
// long-lived Reader can decode many documents without allocating. Errors
// returned by an earlier End stay valid.
func (r *Reader) Reset(data []byte) {
	r.data = data
	r.pos = 0
	r.depth = 0
	r.failed = false
	r.errs = nil
	r.keyBuf = r.keyBuf[:0]
	r.valBuf = r.valBuf[:0]
}

func (r *Reader) frameAt(i int) *frame {
	if i < inlineFrames {
		return &r.frames[i]
	}
	return &r.more[i-inlineFrames]
}

func (r *Reader) push(kind byte) bool {
	if r.depth >= maxDepth {
		r.syntaxError(r.pos-1, "exceeds the maximum nesting depth of "+strconv.Itoa(maxDepth))
		return false
	}
	f := frame{key: -1, kind: kind, open: true}
	if r.depth < inlineFrames {
		r.frames[r.depth] = f
	} else if i := r.depth - inlineFrames; i < len(r.more) {
		r.more[i] = f
	} else {
		r.more = append(r.more, f)
	}
	r.depth++
	return true
}

// BeginObject starts reading an object. When the next value is something
// else it records "expected object, got <kind>", skips the value and
// returns false: the caller leaves the field at its zero value and moves on.
func (r *Reader) BeginObject() bool {
	if r.failed {
		return false
	}
	if c := r.ws(); c != '{' {
		r.mismatch("object", c)
		return false
	}
	r.pos++
	return r.push('{')
}

// BeginArray starts reading an array; see [Reader.BeginObject].
func (r *Reader) BeginArray() bool {
	if r.failed {
		return false
	}
	if c := r.ws(); c != '[' {
		r.mismatch("array", c)
		return false
	}
	r.pos++
	return r.push('[')
}

// More reports whether the innermost object or array has another member,
// consuming the comma before it. At the closing bracket it consumes the
// bracket, leaves the container and returns false, so a plain
// "for r.More()" loop reads a whole container. In an object the caller then
// calls [Reader.Key]; in an array it reads the element, whose index becomes
// part of the error path.
func (r *Reader) More() bool {
	if r.failed || r.depth == 0 {
		return false
	}
	f := r.frameAt(r.depth - 1)
	closer := f.kind + 2 // '{'+2 == '}', '['+2 == ']'
	f.cur = false        // the previous member is complete
	c := r.ws()
	if c == closer {
		r.pos++
		r.depth--
		return false
	}
	if f.open {
		f.open = false
	} else {
		if c != ',' {
			if f.kind == '{' {
				r.badChar(c, "after object key:value pair")
			} else {
				r.badChar(c, "after array element")
			}
			return false
		}
		r.pos++
		c = r.ws()
		if c == closer {
			r.syntaxError(r.pos, "trailing comma before "+quoteChar(c))
			return false
		}
	}
	if f.kind == '[' {
		f.key++
		f.cur = true
		return true
	}
	if c != '"' {
		r.badChar(c, "looking for beginning of object key string")
		return false
	}
	return true
}

// Key reads the next member name and its colon, and makes the name the
// current path element. The result is only valid until the next call to
// Key: it aliases the input or a reused buffer, which is what lets
// "switch string(r.Key())" run without allocating.
func (r *Reader) Key() []byte {
	if r.failed || r.depth == 0 {
		return nil
	}
	f := r.frameAt(r.depth - 1)
	if f.kind != '{' {
		r.Errorf("Key called inside an array")
		return nil
	}
	c := r.ws()
	if c != '"' {
		r.badChar(c, "looking for beginning of object key string")
		return nil
	}
	start := r.pos + 1
	end, esc, ok := r.scanString(start)
	if !ok {
		return nil
	}
	f.key, f.keyEnd, f.esc, f.cur, f.canon = start, end, esc, true, ""
	r.pos = end + 1
	if c := r.ws(); c != ':' {
		r.badChar(c, "after object key")
		return nil
	}
	r.pos++
	if !esc {
		return r.data[start:end]
	}
	r.keyBuf = appendUnescaped(r.keyBuf[:0], r.data[start:end])
	return r.keyBuf
}

// Seen guards against a member given twice, which encoding/json silently
// resolves by keeping the last value. Generated code keeps one flag per
// field, shared by all spellings of its name. When *seen is already set,
// Seen records "field given more than once", skips the value and returns
// true; otherwise it sets *seen and returns false.
func (r *Reader) Seen(seen *bool) bool {
	if r.failed {
		return true
	}
	if *seen {
		r.record("field given more than once")
		r.skipValue()
		return true
	}
	*seen = true
	return false
}

// SeenAs is [Reader.Seen] for a field that has other accepted names
// besides its json name: once the value is known not to repeat the field,
// errors inside it name the field by name, however the document spelt
// it, so that they agree with validation errors.
func (r *Reader) SeenAs(seen *bool, name string) bool {
	if r.Seen(seen) {
		return true
	}
	if r.depth > 0 {
		r.frameAt(r.depth - 1).canon = name
	}
	return false
}

// Finish ends the decode like [Reader.End]. When the document was
// well-formed JSON, it also runs validate on the decoded value and adds
// the failures that decoding does not already explain, the way pydantic
// reports type and value errors together: a failure at or above a path
// where decoding failed is left out, since the value there is the zero
// value the decoder left, not what the sender wrote.
func (r *Reader) Finish(validate func() error) error {
	err := r.End()
	if r.failed {
		return err
	}
	verr := validate()
	if err == nil || verr == nil {
		return cmp.Or(err, verr)
	}
	var vs Errors
	if !errors.As(verr, &vs) {
		return append(r.errs, &FieldError{Path: "$", Msg: ClipText(verr.Error(), maxMsg)})
	}
	for _, v := range vs {
		if !r.explains(v.Path) {
			r.add(v.Path, v.Msg)
			if r.failed {
				break
			}
		}
	}
	return r.errs
}

// explains reports whether a decode error lies at path, inside it or
// above it.
func (r *Reader) explains(path string) bool {
	for _, e := range r.errs {
		if within(path, e.Path) || within(e.Path, path) {
			return true
		}
	}
	return false
}

// within reports whether path p is q or lies inside it.
func within(p, q string) bool {
	if !strings.HasPrefix(p, q) {
		return false
	}
	return len(p) == len(q) || p[len(q)] == '.' || p[len(q)] == '['
}

// Repeated guards a map against a key given twice, which encoding/json
// resolves silently by keeping the last value. Generated code passes
// whether the map already holds the key just read. When dup is set,
// Repeated records "key given more than once", skips the value and
// returns true; the first value stays.
func (r *Reader) Repeated(dup bool) bool {
	if r.failed {
		return true
	}
	if dup {
		r.record("key given more than once")
		r.skipValue()
		return true
	}
	return false
}

// Unknown records "unknown field" for the current member and skips its
// value; a misspelt field name is reported instead of being ignored.
func (r *Reader) Unknown() {
	if r.failed {
		return
	}
	r.record("unknown field")
	r.skipValue()
}

// Missing records "required field missing" at <object path>.<key>. Call it
// after More has returned false for the object, when its path is current
// again.
func (r *Reader) Missing(key string) {
	if r.failed {
		return
	}
	r.add(r.path(key, true), "required field missing")
}

// Errorf records an error at the current path. Generated code uses it for
// checks of its own; the value, if any, is not skipped.
func (r *Reader) Errorf(format string, args ...any) {
	if r.failed {
		return
	}
	r.record(fmt.Sprintf(format, args...))
}

// End finishes the decode: it checks that nothing but whitespace follows
// the value and returns the collected [Errors], or nil when there were
// none. The returned Errors is not reused by a later [Reader.Reset].
func (r *Reader) End() error {
	if !r.failed {
		if r.depth > 0 {
			r.syntaxError(r.pos, "decode stopped inside an unfinished object or array")
		} else if c := r.ws(); r.pos < len(r.data) {
			r.syntaxError(r.pos, "invalid character "+quoteChar(c)+" after top-level value")
		}
	}
	if len(r.errs) == 0 {
		return nil
	}
	return r.errs
}

// record adds an error at the current path.
func (r *Reader) record(msg string) {
	if r.failed {
		return
	}
	r.add(r.path("", false), msg)
}

func (r *Reader) add(path, msg string) {
	if len(r.errs) >= maxErrors {
		r.errs = append(r.errs, &FieldError{Path: "$", Msg: "too many errors, stopped after " + strconv.Itoa(maxErrors)})
		r.failed = true
		return
	}
	r.errs = append(r.errs, &FieldError{Path: clipPath(path), Msg: ClipText(msg, maxMsg)})
}

// syntaxError records malformed input at byte offset off and stops the
// decode.
func (r *Reader) syntaxError(off int, msg string) {
	if r.failed {
		return
	}
	r.record("invalid JSON at offset " + strconv.Itoa(off) + ": " + msg)
	r.failed = true
}

// badChar reports the byte at r.pos as unexpected, or the end of input.
func (r *Reader) badChar(c byte, context string) {
	if r.pos >= len(r.data) {
		r.syntaxError(r.pos, "unexpected end of input")
		return
	}
	r.syntaxError(r.pos, "invalid character "+quoteChar(c)+" "+context)
}

// path formats the current JSON path, with member key appended when
// withKey is set.
func (r *Reader) path(key string, withKey bool) string {
	b := make([]byte, 0, 32)
	b = append(b, '$')
	for i := 0; i < r.depth; i++ {
		f := r.frameAt(i)
		switch {
		case !f.cur:
		case f.kind == '[':
			b = appendPathIndex(b, f.key)
		case f.kind == '{' && f.canon != "":
			b = appendPathKey(b, []byte(f.canon))
		case f.esc:
			b = appendPathKey(b, appendUnescaped(nil, r.data[f.key:f.keyEnd]))
		default:
			b = appendPathKey(b, r.data[f.key:f.keyEnd])
		}
	}
	if withKey {
		b = appendPathKey(b, []byte(key))
	}
	return string(b)
}

// kindOf names the kind of JSON value that starts with c, or returns "" if
// no value starts with c.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "number"
	}
	return ""
}

// mismatch handles a value of the wrong kind: it records "expected <want>,
// got <kind>" and skips the value, or reports a syntax error when no value
// starts here.
func (r *Reader) mismatch(want string, c byte) {
	kind := kindOf(c)
	if kind == "" || r.pos >= len(r.data) {
		r.badChar(c, "looking for beginning of value")
		return
	}
	r.record("expected " + want + ", got " + kind)
	r.skipValue()
}

// quoteChar formats a byte for a syntax error message.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c >= 0x80 {
		return "byte 0x" + strconv.FormatUint(uint64(c), 16)
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}
