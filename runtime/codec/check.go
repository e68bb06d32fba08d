package codec

import (
	"bytes"
	"net/mail"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"
)

// This file holds what generated validation code calls. skaldgen turns the
// common validate tags into plain Go comparisons; these helpers keep the
// paths, messages and the few checks that are not one comparison identical
// to what [Validate] reports through validator/v10, so that a model can
// switch between the two without its users noticing.

// Path is the location of a value during generated validation: a chain of
// steps from the document root, kept on the stack of the generated
// functions and formatted only when a check fails, so that valid input
// costs no allocation. The zero Path is the root, "$".
type Path struct {
	up   *Path
	name string
	idx  int
	kind uint8
}

const (
	stepRoot uint8 = iota
	stepMember
	stepIndex
	stepMapKey
)

// Member returns the path of member name of the object at p.
func (p *Path) Member(name string) Path { return Path{up: p, name: name, kind: stepMember} }

// Index returns the path of element i of the array at p.
func (p *Path) Index(i int) Path { return Path{up: p, idx: i, kind: stepIndex} }

// MapKey returns the path of the value under key in the map at p.
func (p *Path) MapKey(key string) Path { return Path{up: p, name: key, kind: stepMapKey} }

// String formats p as a JSON path such as "$.cameras[2].fixFrame", with
// long keys and a long path cut as in every error text.
func (p *Path) String() string { return clipPath(string(p.appendTo(make([]byte, 0, 32)))) }

func (p *Path) appendTo(b []byte) []byte {
	if p == nil || p.kind == stepRoot {
		return append(b, '$')
	}
	b = p.up.appendTo(b)
	switch p.kind {
	case stepMember:
		b = appendPathKey(b, []byte(p.name))
	case stepIndex:
		b = appendPathIndex(b, p.idx)
	case stepMapKey:
		b = appendMapKey(b, p.name)
	}
	return b
}

// appendMapKey appends a map key the way [Validate] renders it:
// validator/v10 writes map keys in brackets like indexes, so a key made of
// digits only reads as an index there; generated code keeps that form, so
// that both report the same path.
func appendMapKey(b []byte, key string) []byte {
	if isIndex(key) {
		b = append(b, '[')
		b = append(b, key...)
		return append(b, ']')
	}
	return appendPathKey(b, []byte(key))
}

// Check collects the failures of one generated validation. The zero value
// is ready to use.
type Check struct {
	errs Errors
}

// Fail records msg for member name of the object at p.
func (c *Check) Fail(p *Path, name, msg string) {
	b := p.appendTo(make([]byte, 0, 32))
	b = appendPathKey(b, []byte(name))
	c.errs = append(c.errs, &FieldError{Path: clipPath(string(b)), Msg: msg})
}

// FailAt records msg for the value at p itself, such as a slice element.
func (c *Check) FailAt(p *Path, msg string) {
	c.errs = append(c.errs, &FieldError{Path: p.String(), Msg: msg})
}

// Len is the number of failures so far. Generated code compares it before
// and after walking a map, to redo the walk in key order when something
// failed, so that messages come out in a stable order.
func (c *Check) Len() int { return len(c.errs) }

// Truncate drops the failures after the first n.
func (c *Check) Truncate(n int) { c.errs = c.errs[:n] }

// Err returns the failures as [Errors], or nil when there are none.
func (c *Check) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// Reflect validates the struct v points to with validator/v10, as
// [Validate] does, and records its failures under p. Generated code calls
// it for struct types whose tags it does not turn into code itself.
func (c *Check) Reflect(p *Path, v any) {
	err := Validate(v)
	if err == nil {
		return
	}
	errs, ok := err.(Errors)
	if !ok {
		c.errs = append(c.errs, &FieldError{Path: p.String(), Msg: err.Error()})
		return
	}
	prefix := p.String()
	for _, fe := range errs {
		c.errs = append(c.errs, &FieldError{Path: prefix + strings.TrimPrefix(fe.Path, "$"), Msg: fe.Msg})
	}
}

// Kinds of value for [Message]: bounds read differently for text, for
// collections and for numbers.
const (
	KindOther      = iota // numbers, booleans, nil pointers, times
	KindString            // counted in characters
	KindCollection        // slices, arrays and maps, counted in items
)

// Message phrases a failed validate tag for people, exactly as [Validate]
// does; skaldgen calls it while generating code, so that generated checks
// and the reflective fallback word their failures alike.
func Message(tag, param string, kind int) string {
	var unit string
	switch kind {
	case KindString:
		unit = " characters long"
	case KindCollection:
		unit = " items"
	}
	bound := func(numeric, sized string) string {
		if param == "" {
			return "failed the " + tag + " check"
		}
		if unit == " items" {
			return "must contain " + sized + " " + param + unit
		}
		if unit != "" {
			return "must be " + sized + " " + param + unit
		}
		return "must be " + numeric + " " + param
	}
	switch tag {
	case "required":
		return "is required"
	case "min", "gte":
		return bound("at least", "at least")
	case "max", "lte":
		return bound("at most", "at most")
	case "gt":
		return bound("greater than", "more than")
	case "lt":
		return bound("less than", "fewer than")
	case "len":
		return bound("equal to", "exactly")
	case "eq":
		return "must be equal to " + param
	case "ne":
		return "must not be equal to " + param
	case "oneof":
		return "must be one of " + strings.Join(strings.Fields(param), ", ")
	case "url":
		return "must be a valid URL"
	case "email":
		return "must be a valid email address"
	case "uuid", "uuid3", "uuid4", "uuid5", "uuid_rfc4122", "uuid3_rfc4122", "uuid4_rfc4122", "uuid5_rfc4122":
		return "must be a valid UUID"
	}
	if param != "" {
		return "failed the " + tag + "=" + param + " check"
	}
	return "failed the " + tag + " check"
}

// IsURL reports whether s passes validator/v10's url tag: it parses, has
// a scheme, and has a host (or, for file URLs, a path).
func IsURL(s string) bool {
	if s == "" {
		return false
	}
	u, err := url.Parse(strings.ToLower(s))
	if err != nil || u.Scheme == "" {
		return false
	}
	if u.Scheme == "file" {
		return u.Path != "" && u.Path != "/"
	}
	return u.Host != "" || u.Fragment != "" || u.Opaque != ""
}

// emailPattern is validator/v10's email expression, so that both accept
// the same addresses.
const emailPattern = "^(?:(?:(?:(?:[a-zA-Z]|\\d|[!#\\$%&'\\*\\+\\-\\/=\\?\\^_`{\\|}~]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])+(?:\\.([a-zA-Z]|\\d|[!#\\$%&'\\*\\+\\-\\/=\\?\\^_`{\\|}~]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])+)*)|(?:(?:\\x22)(?:(?:(?:(?:\\x20|\\x09)*(?:\\x0d\\x0a))?(?:\\x20|\\x09)+)?(?:(?:[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]|\\x21|[\\x23-\\x5b]|[\\x5d-\\x7e]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])|(?:(?:[\\x01-\\x09\\x0b\\x0c\\x0d-\\x7f]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}]))))*(?:(?:(?:\\x20|\\x09)*(?:\\x0d\\x0a))?(\\x20|\\x09)+)?(?:\\x22))))@(?:(?:(?:[a-zA-Z]|\\d|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])|(?:(?:[a-zA-Z]|\\d|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])(?:[a-zA-Z]|\\d|-|\\.|~|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])*(?:[a-zA-Z]|\\d|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])))\\.)+(?:(?:[a-zA-Z]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])|(?:(?:[a-zA-Z]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])(?:[a-zA-Z]|\\d|-|\\.|~|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])*(?:[a-zA-Z]|[\\x{00A0}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFEF}])))\\.?$"

var emailRegexp = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(emailPattern) })

// IsEmail reports whether s passes validator/v10's email tag.
func IsEmail(s string) bool {
	if _, err := mail.ParseAddress(s); err != nil {
		return false
	}
	return emailRegexp().MatchString(s)
}

// IsUUID reports whether s is a UUID in its 8-4-4-4-12 hex form, as
// validator/v10's uuid tag wants.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// IsTime reports whether s is a time the decoder accepts for a time.Time:
// RFC 3339, as time.Time.UnmarshalText reads it.
func IsTime(s string) bool {
	var t time.Time
	return t.UnmarshalText([]byte(s)) == nil
}

// IsDuration reports whether s is a duration string the decoder accepts
// for a time.Duration: time.ParseDuration's grammar, within its range.
func IsDuration(s string) bool {
	_, ok := parseDuration([]byte(s))
	return ok
}

// SameJSON reports whether two encoders write the same JSON. Generated
// update-policy code compares field values this way: two values are equal
// when a task's attachments would store them alike.
func SameJSON(a, b func(*Writer)) bool {
	var wa, wb Writer
	a(&wa)
	b(&wb)
	return bytes.Equal(wa.Bytes(), wb.Bytes())
}

// kindOfValue maps a reflect kind to the kinds of [Message].
func kindOfValue(k reflect.Kind) int {
	switch k {
	case reflect.String:
		return KindString
	case reflect.Slice, reflect.Array, reflect.Map:
		return KindCollection
	}
	return KindOther
}

// SameKeys reports whether two maps have the same keys. Generated
// update-policy code compares maps element by element only when they do.
func SameKeys[K comparable, A, B any](a map[K]A, b map[K]B) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
