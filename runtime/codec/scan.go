package codec

import (
	"strconv"
	"unicode/utf8"
)

// This file holds the lexical layer of the Reader: whitespace, strings,
// numbers, literals and skipping whole values. Every function here checks
// the JSON grammar strictly and reports the first violation as a syntax
// error with its byte offset.

// plainSet marks the bytes that stand for themselves inside a string: no
// quote, backslash, control character or start of a multi-byte sequence.
var plainSet = func() (s [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		s[c] = c != '"' && c != '\\'
	}
	return s
}()

// ws skips whitespace and returns the next byte without consuming it, or 0
// at the end of the input.
func (r *Reader) ws() byte {
	d, p := r.data, r.pos
	for ; p < len(d); p++ {
		if c := d[p]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			r.pos = p
			return c
		}
	}
	r.pos = p
	return 0
}

// scanString checks the string whose content starts at start (just after
// the opening quote) and returns the offset of its closing quote and
// whether it contains escapes. It does not move r.pos.
func (r *Reader) scanString(start int) (end int, esc, ok bool) {
	d := r.data
	i := start
	for {
		for i+8 <= len(d) && !special8(load8(d, i)) {
			i += 8
		}
		for i < len(d) && plainSet[d[i]] {
			i++
		}
		if i >= len(d) {
			r.syntaxError(start-1, "unterminated string")
			return 0, false, false
		}
		switch c := d[i]; {
		case c == '"':
			return i, esc, true
		case c == '\\':
			n := r.checkEscape(i)
			if n == 0 {
				return 0, false, false
			}
			esc = true
			i += n
		case c < ' ':
			r.syntaxError(i, "invalid control character "+quoteChar(c)+" in string")
			return 0, false, false
		default:
			rn, size := utf8.DecodeRune(d[i:])
			if rn == utf8.RuneError && size <= 1 {
				r.syntaxError(i, "invalid UTF-8 in string")
				return 0, false, false
			}
			i += size
		}
	}
}

// checkEscape validates the escape sequence at d[i] == '\\' and returns its
// length, or 0 after recording a syntax error. A \u escape of a UTF-16
// surrogate must be a complete pair: a lone surrogate is no character at
// all, and accepting it would mean inventing one.
func (r *Reader) checkEscape(i int) int {
	d := r.data
	if i+1 >= len(d) {
		r.syntaxError(i, "unterminated string")
		return 0
	}
	switch d[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
	default:
		r.syntaxError(i, "invalid escape "+strconv.Quote(string(d[i:i+2]))+" in string")
		return 0
	}
	c, ok := hex4(d, i+2)
	if !ok {
		r.syntaxError(i, "invalid \\u escape in string")
		return 0
	}
	switch {
	case c < 0xD800 || c > 0xDFFF:
		return 6
	case c >= 0xDC00:
		r.syntaxError(i, "unpaired surrogate in \\u escape")
		return 0
	}
	if i+7 < len(d) && d[i+6] == '\\' && d[i+7] == 'u' {
		if lo, ok := hex4(d, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
			return 12
		}
	}
	r.syntaxError(i, "unpaired surrogate in \\u escape")
	return 0
}

// hex4 decodes the four hex digits at d[i:].
func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var v rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// appendUnescaped appends the content of a string that scanString has
// already checked, with its escapes resolved.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] != '\\' {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j >= len(s) {
			break
		}
		switch c := s[j+1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			c, _ := hex4(s, j+2)
			if c >= 0xD800 && c <= 0xDBFF {
				lo, _ := hex4(s, j+8)
				c = (c-0xD800)<<10 | (lo - 0xDC00) + 0x10000
				j += 6
			}
			dst = utf8.AppendRune(dst, c)
			i = j + 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		i = j + 2
	}
	return dst
}

// stringBytes reads a string value and returns its content, unescaped into
// r.valBuf when needed; the result is valid until the next read.
func (r *Reader) stringBytes() ([]byte, bool) {
	start := r.pos + 1
	end, esc, ok := r.scanString(start)
	if !ok {
		return nil, false
	}
	r.pos = end + 1
	if !esc {
		return r.data[start:end], true
	}
	r.valBuf = appendUnescaped(r.valBuf[:0], r.data[start:end])
	return r.valBuf, true
}

// literal consumes lit (true, false or null) at r.pos.
func (r *Reader) literal(lit string) bool {
	d := r.data
	for i := 0; i < len(lit); i++ {
		p := r.pos + i
		if p >= len(d) {
			r.pos = p
			r.syntaxError(p, "unexpected end of input")
			return false
		}
		if d[p] != lit[i] {
			r.syntaxError(p, "invalid character "+quoteChar(d[p])+" in literal "+lit)
			return false
		}
	}
	r.pos += len(lit)
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number consumes a number at r.pos and returns its text.
func (r *Reader) number() ([]byte, bool) {
	d := r.data
	start := r.pos
	i := start
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return r.badNumber(i)
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		i++
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return r.badNumber(i)
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return r.badNumber(i)
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return r.badNumber(i)
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	r.pos = i
	return d[start:i], true
}

func (r *Reader) badNumber(i int) ([]byte, bool) {
	if i >= len(r.data) {
		r.syntaxError(i, "unexpected end of input")
	} else {
		r.syntaxError(i, "invalid character "+quoteChar(r.data[i])+" in numeric literal")
	}
	return nil, false
}

// skipValue consumes the next value, checking its syntax. It walks nested
// containers with an explicit stack of bits instead of recursion, so deep
// input costs no goroutine stack, and it enforces maxDepth across the
// containers the Reader has already entered and the skipped ones.
func (r *Reader) skipValue() bool {
	if r.failed {
		return false
	}
	var arrays [maxDepth/64 + 1]uint64 // bit n: level n is an array
	depth := 0
	for {
		// A value is expected here.
		switch c := r.ws(); c {
		case '{', '[':
			if r.depth+depth >= maxDepth {
				r.syntaxError(r.pos, "exceeds the maximum nesting depth of "+strconv.Itoa(maxDepth))
				return false
			}
			r.pos++
			if c == '[' {
				arrays[depth/64] |= 1 << (depth % 64)
			} else {
				arrays[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			if r.ws() == c+2 {
				r.pos++
				depth--
				break // an empty container is a complete value
			}
			if c == '{' && !r.skipKey() {
				return false
			}
			continue
		case '"':
			end, _, ok := r.scanString(r.pos + 1)
			if !ok {
				return false
			}
			r.pos = end + 1
		case 't':
			if !r.literal("true") {
				return false
			}
		case 'f':
			if !r.literal("false") {
				return false
			}
		case 'n':
			if !r.literal("null") {
				return false
			}
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if _, ok := r.number(); !ok {
				return false
			}
		default:
			r.badChar(c, "looking for beginning of value")
			return false
		}
		// A value is complete: close containers until one continues.
		for {
			if depth == 0 {
				return true
			}
			isArray := arrays[(depth-1)/64]>>((depth-1)%64)&1 == 1
			closer := byte('}')
			if isArray {
				closer = ']'
			}
			c := r.ws()
			if c == closer {
				r.pos++
				depth--
				continue
			}
			if c != ',' {
				if isArray {
					r.badChar(c, "after array element")
				} else {
					r.badChar(c, "after object key:value pair")
				}
				return false
			}
			r.pos++
			if c := r.ws(); c == closer {
				r.syntaxError(r.pos, "trailing comma before "+quoteChar(c))
				return false
			}
			if !isArray && !r.skipKey() {
				return false
			}
			break
		}
	}
}

// skipKey consumes a member name and its colon.
func (r *Reader) skipKey() bool {
	c := r.ws()
	if c != '"' {
		r.badChar(c, "looking for beginning of object key string")
		return false
	}
	end, _, ok := r.scanString(r.pos + 1)
	if !ok {
		return false
	}
	r.pos = end + 1
	if c := r.ws(); c != ':' {
		r.badChar(c, "after object key")
		return false
	}
	r.pos++
	return true
}
