package codec

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Writer builds JSON for generated encoders. The encoder knows the shape of
// its model, so the Writer does not check structure: it only places commas
// and escapes strings. It cannot fail, which keeps generated encoders free
// of error plumbing; values JSON cannot represent are written as null (see
// [Writer.Float]).
//
// The zero value is ready to use. A Writer is not safe for concurrent use.
type Writer struct {
	buf   []byte
	comma bool // a value was written at this level, so the next needs a ','
}

// initialCap sizes the first buffer for a small model, so that encoding one
// usually costs one allocation instead of a chain of regrowths.
const initialCap = 512

func (w *Writer) sep() {
	if w.comma {
		w.buf = append(w.buf, ',')
	}
}

// BeginObject opens an object, as a value at the current position.
func (w *Writer) BeginObject() {
	if w.buf == nil {
		w.buf = make([]byte, 0, initialCap)
	}
	w.sep()
	w.buf = append(w.buf, '{')
	w.comma = false
}

// EndObject closes the innermost object.
func (w *Writer) EndObject() {
	w.buf = append(w.buf, '}')
	w.comma = true
}

// BeginArray opens an array, as a value at the current position.
func (w *Writer) BeginArray() {
	if w.buf == nil {
		w.buf = make([]byte, 0, initialCap)
	}
	w.sep()
	w.buf = append(w.buf, '[')
	w.comma = false
}

// EndArray closes the innermost array.
func (w *Writer) EndArray() {
	w.buf = append(w.buf, ']')
	w.comma = true
}

// Key writes a member name; the member's value must follow. Generated code
// passes its json key names, which need no escaping, but any string is
// escaped correctly.
func (w *Writer) Key(name string) {
	w.sep()
	w.buf = appendString(w.buf, name)
	w.buf = append(w.buf, ':')
	w.comma = false
}

// String writes s as a JSON string, escaped as encoding/json does without
// HTML escaping. Invalid UTF-8 is replaced by U+FFFD so the output is always
// valid JSON.
func (w *Writer) String(s string) {
	w.sep()
	w.buf = appendString(w.buf, s)
	w.comma = true
}

// Bool writes true or false; there is no other spelling to choose.
func (w *Writer) Bool(b bool) {
	w.sep()
	w.buf = strconv.AppendBool(w.buf, b)
	w.comma = true
}

// Int writes a signed integer; every Go signed integer type fits.
func (w *Writer) Int(v int64) {
	w.sep()
	w.buf = strconv.AppendInt(w.buf, v, 10)
	w.comma = true
}

// Uint writes an unsigned integer; every Go unsigned integer type fits.
func (w *Writer) Uint(v uint64) {
	w.sep()
	w.buf = strconv.AppendUint(w.buf, v, 10)
	w.comma = true
}

// Float writes v in the shortest form that reads back as the same float of
// the given size (32 or 64), choosing between plain and exponent notation
// exactly as encoding/json does, so output matches the standard library.
//
// JSON has no NaN or infinity. encoding/json fails on them; a Writer cannot
// fail, so it writes null, which the Reader rejects for non-pointer float
// fields: the problem surfaces when the value is read, not silently as a
// made-up number.
func (w *Writer) Float(v float64, bits int) {
	w.sep()
	w.comma = true
	if math.IsNaN(v) || math.IsInf(v, 0) {
		w.buf = append(w.buf, "null"...)
		return
	}
	if bits != 32 {
		bits = 64
	}
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b := strconv.AppendFloat(w.buf, v, format, -1, bits)
	if format == 'e' {
		// Turn e-09 into e-9, as encoding/json does.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	w.buf = b
}

// Null writes null, for nil pointers, slices and maps.
func (w *Writer) Null() {
	w.sep()
	w.buf = append(w.buf, "null"...)
	w.comma = true
}

// Raw writes b, which must be valid JSON, unchanged; it is how a
// json.RawMessage field is written. Empty b is written as null, as
// encoding/json does for a nil RawMessage.
func (w *Writer) Raw(b []byte) {
	w.sep()
	w.comma = true
	if len(b) == 0 {
		w.buf = append(w.buf, "null"...)
		return
	}
	w.buf = append(w.buf, b...)
}

// Time writes t as an RFC 3339 string with nanoseconds, the form
// [Reader.Time] and encoding/json read back to the same instant. Years
// outside 0 to 9999 have no RFC 3339 form: encoding/json refuses them, the
// Writer writes what [time.Time.AppendFormat] gives, which will not read
// back.
func (w *Writer) Time(t time.Time) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = t.AppendFormat(w.buf, time.RFC3339Nano)
	w.buf = append(w.buf, '"')
	w.comma = true
}

// Duration writes d as a string such as "1m30s": readable in a task
// document, and read back exactly by [Reader.Duration]. encoding/json writes
// integer nanoseconds instead and cannot read this form into a
// time.Duration; the Reader accepts both.
func (w *Writer) Duration(d time.Duration) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, d.String()...)
	w.buf = append(w.buf, '"')
	w.comma = true
}

// Bytes returns the JSON written so far. The slice aliases the Writer's
// buffer: it stays valid until the next write or [Writer.Reset].
func (w *Writer) Bytes() []byte {
	return w.buf
}

// Reset empties the Writer but keeps its buffer, so a Writer can encode
// many values without allocating again.
func (w *Writer) Reset() {
	w.buf = w.buf[:0]
	w.comma = false
}

const hex = "0123456789abcdef"

// safeSet marks the ASCII bytes that go into a JSON string unescaped.
var safeSet = func() (s [utf8.RuneSelf]bool) {
	for b := ' '; b < utf8.RuneSelf; b++ {
		s[b] = b != '"' && b != '\\'
	}
	return s
}()

// appendString appends src as a quoted JSON string, escaping it the way
// encoding/json does with HTML escaping off.
func appendString[S []byte | string](dst []byte, src S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		// Skip eight plain bytes at a time; most strings are all plain.
		if i+8 <= len(src) && !special8(load8(src, i)) {
			i += 8
			continue
		}
		if b := src[i]; b < utf8.RuneSelf {
			if safeSet[b] {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		n := min(len(src)-i, utf8.UTFMax)
		c, size := utf8.DecodeRuneInString(string(src[i : i+n]))
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid in JSON but end lines in JavaScript.
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load8 reads eight bytes of s at i as a little-endian word; the compiler
// turns it into a single load.
func load8[S []byte | string](s S, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// special8 reports whether any of the eight bytes in x is not plain string
// content: a control character, '"', '\\', or a byte of a multi-byte UTF-8
// sequence. It may not say which, only whether.
func special8(x uint64) bool {
	quote := x ^ (lsb * '"')
	backslash := x ^ (lsb * '\\')
	return (x|(x-lsb*' ')|(quote-lsb)|(backslash-lsb))&msb != 0
}
