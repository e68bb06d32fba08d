package codec

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Null consumes a null and reports true, or reports false and consumes
// nothing. Generated code calls it only for pointers, slices and maps, the
// fields where null has a meaning; elsewhere null is a type mismatch.
func (r *Reader) Null() bool {
	if r.failed || r.ws() != 'n' {
		return false
	}
	return r.literal("null")
}

// String reads a string value, resolving escapes. It allocates only the
// returned string, so reading a model costs one allocation per string field.
func (r *Reader) String() string {
	if r.failed {
		return ""
	}
	if c := r.ws(); c != '"' {
		r.mismatch("string", c)
		return ""
	}
	b, ok := r.stringBytes()
	if !ok {
		return ""
	}
	return string(b)
}

// Bool reads true or false. Strings such as "true" and numbers are type
// mismatches, not conversions: a strict reader does not guess.
func (r *Reader) Bool() bool {
	if r.failed {
		return false
	}
	switch c := r.ws(); c {
	case 't':
		return r.literal("true")
	case 'f':
		r.literal("false")
		return false
	default:
		r.mismatch("boolean", c)
		return false
	}
}

// intName names the Go integer type for range messages.
func intName(prefix string, bits int) string {
	if bits == 0 {
		return prefix
	}
	return prefix + strconv.Itoa(bits)
}

// normBits maps bits to a supported size: 0 is the size of int, and
// anything unusual is treated as 64 rather than trusted.
func normBits(bits int) (size, name int) {
	switch bits {
	case 0:
		return strconv.IntSize, 0
	case 8, 16, 32, 64:
		return bits, bits
	}
	return 64, 64
}

// Int reads an integer for a Go signed integer type of the given size
// (8, 16, 32 or 64; 0 means int). Unlike encoding/json it accepts any
// spelling of an integer, such as 1e3 or 2.50e1, but rejects fractions and
// values that do not fit, naming the allowed range.
func (r *Reader) Int(bits int) int64 {
	if r.failed {
		return 0
	}
	tok, ok := r.intToken()
	if !ok {
		return 0
	}
	size, nameBits := normBits(bits)
	neg, mag, st := integer(tok)
	limit := uint64(1) << (size - 1) // magnitude of the minimum
	switch {
	case st == notInteger:
		r.record(clip(tok) + " is not an integer")
		return 0
	case st == overflow:
	case neg && mag <= limit:
		return int64(-mag)
	case !neg && mag < limit:
		return int64(mag)
	}
	r.record(clip(tok) + " is out of range for " + intName("int", nameBits) +
		" (" + strconv.FormatInt(-int64(limit-1)-1, 10) + " to " + strconv.FormatUint(limit-1, 10) + ")")
	return 0
}

// Uint reads an integer for a Go unsigned integer type of the given size
// (8, 16, 32 or 64; 0 means uint). It rejects negative numbers, fractions
// and values that do not fit, naming the allowed range.
func (r *Reader) Uint(bits int) uint64 {
	if r.failed {
		return 0
	}
	tok, ok := r.intToken()
	if !ok {
		return 0
	}
	size, nameBits := normBits(bits)
	neg, mag, st := integer(tok)
	max := uint64(math.MaxUint64) >> (64 - size)
	switch {
	case st == notInteger:
		r.record(clip(tok) + " is not an integer")
		return 0
	case st == overflow:
	case mag == 0 || !neg && mag <= max:
		return mag
	}
	r.record(clip(tok) + " is out of range for " + intName("uint", nameBits) +
		" (0 to " + strconv.FormatUint(max, 10) + ")")
	return 0
}

// intToken reads a number token where an integer is expected.
func (r *Reader) intToken() ([]byte, bool) {
	c := r.ws()
	if c != '-' && !isDigit(c) {
		r.mismatch("integer", c)
		return nil, false
	}
	return r.number()
}

// Outcomes of integer.
const (
	isInteger = iota
	notInteger
	overflow // the magnitude needs more than 64 bits
)

// integer converts a number token to a sign and magnitude.
func integer(tok []byte) (neg bool, mag uint64, status int) {
	i := 0
	if tok[0] == '-' {
		neg = true
		i = 1
	}
	// Fast path: plain digits.
	j := i
	for j < len(tok) && isDigit(tok[j]) {
		j++
	}
	if j == len(tok) {
		for _, c := range tok[i:] {
			d := uint64(c - '0')
			if mag > (math.MaxUint64-d)/10 {
				return neg, 0, overflow
			}
			mag = mag*10 + d
		}
		return neg, mag, isInteger
	}
	return integerSlow(tok, neg, i, j)
}

// integerSlow handles integers written with a fraction or an exponent:
// the value is the digits times a power of ten, which must not be negative
// once trailing zeros are dropped.
func integerSlow(tok []byte, neg bool, i, j int) (bool, uint64, int) {
	intPart := tok[i:j]
	var frac []byte
	k := j
	if k < len(tok) && tok[k] == '.' {
		k++
		start := k
		for k < len(tok) && isDigit(tok[k]) {
			k++
		}
		frac = tok[start:k]
	}
	exp := 0
	if k < len(tok) { // 'e' or 'E'
		k++
		eneg := false
		if tok[k] == '+' || tok[k] == '-' {
			eneg = tok[k] == '-'
			k++
		}
		for ; k < len(tok); k++ {
			if exp < 1<<20 { // saturate: far beyond any 64-bit integer
				exp = exp*10 + int(tok[k]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	n := len(intPart) + len(frac)
	digit := func(p int) byte {
		if p < len(intPart) {
			return intPart[p]
		}
		return frac[p-len(intPart)]
	}
	lo := 0
	for lo < n && digit(lo) == '0' {
		lo++
	}
	if lo == n {
		return neg, 0, isInteger // zero however it is written
	}
	hi := n
	for digit(hi-1) == '0' {
		hi--
	}
	exp += n - hi - len(frac)
	if exp < 0 {
		return neg, 0, notInteger
	}
	if hi-lo+exp > 20 {
		return neg, 0, overflow
	}
	var mag uint64
	for p := lo; p < hi+exp; p++ {
		d := uint64(0)
		if p < hi {
			d = uint64(digit(p) - '0')
		}
		if mag > (math.MaxUint64-d)/10 {
			return neg, 0, overflow
		}
		mag = mag*10 + d
	}
	return neg, mag, isInteger
}

// clip shortens a number token for an error message, so a megabyte of
// digits does not end up in a log line.
func clip(tok []byte) string {
	const max = 40
	if len(tok) <= max {
		return string(tok)
	}
	return ClipText(string(tok[:max+utf8.UTFMax]), max)
}

// Float reads a number for a float32 (bits 32) or float64 (any other
// bits). A value too large for the type is an error rather than an
// infinity.
func (r *Reader) Float(bits int) float64 {
	if r.failed {
		return 0
	}
	c := r.ws()
	if c != '-' && !isDigit(c) {
		r.mismatch("number", c)
		return 0
	}
	tok, ok := r.number()
	if !ok {
		return 0
	}
	if bits != 32 {
		bits = 64
	}
	// Fast path: short plain integers convert exactly.
	if len(tok) <= 15 {
		var v int64
		i := 0
		if tok[0] == '-' {
			i = 1
		}
		for ; i < len(tok) && isDigit(tok[i]); i++ {
			v = v*10 + int64(tok[i]-'0')
		}
		if i == len(tok) {
			if tok[0] == '-' {
				if v == 0 {
					return math.Copysign(0, -1)
				}
				v = -v
			}
			if bits == 32 {
				return float64(float32(v))
			}
			return float64(v)
		}
	}
	f, err := strconv.ParseFloat(string(tok), bits)
	if err != nil {
		r.record(clip(tok) + " is out of range for float" + strconv.Itoa(bits))
		return 0
	}
	return f
}

// Raw returns a copy of the next value's JSON text, checked for syntax,
// for json.RawMessage fields whose content is interpreted later.
func (r *Reader) Raw() []byte {
	if r.failed {
		return nil
	}
	r.ws()
	start := r.pos
	if !r.skipValue() {
		return nil
	}
	return append([]byte(nil), r.data[start:r.pos]...)
}

// Time reads an RFC 3339 time string, the form encoding/json uses for
// time.Time, and rejects anything else, including out-of-range fields.
func (r *Reader) Time() time.Time {
	if r.failed {
		return time.Time{}
	}
	if c := r.ws(); c != '"' {
		r.mismatch("string", c)
		return time.Time{}
	}
	b, ok := r.stringBytes()
	if !ok {
		return time.Time{}
	}
	var t time.Time
	if err := t.UnmarshalText(b); err != nil {
		r.record("invalid time " + strconv.Quote(clip(b)) + ", want RFC 3339 like \"2006-01-02T15:04:05Z\"")
		return time.Time{}
	}
	return t
}

// Duration reads a Go duration string such as "1m30s", which people can
// write by hand, or an integer count of nanoseconds, which is what
// encoding/json writes for a time.Duration.
func (r *Reader) Duration() time.Duration {
	if r.failed {
		return 0
	}
	switch c := r.ws(); {
	case c == '"':
		b, ok := r.stringBytes()
		if !ok {
			return 0
		}
		d, ok := parseDuration(b)
		if !ok {
			r.record("invalid duration " + strconv.Quote(clip(b)) + ", want a duration like \"1m30s\"")
			return 0
		}
		return d
	case c == '-' || isDigit(c):
		return time.Duration(r.Int(64))
	default:
		r.mismatch("duration", c)
		return 0
	}
}
