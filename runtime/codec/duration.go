package codec

import "time"

// parseDuration parses a Go duration string ("1m30s", "-1.5h", "250ms")
// with the same grammar and arithmetic as time.ParseDuration, but from
// bytes and without allocating: time.ParseDuration keeps its argument
// reachable, so passing it a converted []byte would cost an allocation per
// value.
func parseDuration(s []byte) (time.Duration, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	if len(s) == 0 {
		return 0, false
	}
	var total uint64
	for len(s) > 0 {
		if s[0] != '.' && !isDigit(s[0]) {
			return 0, false
		}
		// Whole part.
		var v uint64
		i := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			if v > 1<<63/10 {
				return 0, false
			}
			v = v*10 + uint64(s[i]-'0')
			if v > 1<<63 {
				return 0, false
			}
		}
		digits := i > 0
		s = s[i:]
		// Fraction: digits beyond what fits in 63 bits are ignored.
		var f uint64
		scale := 1.0
		if len(s) > 0 && s[0] == '.' {
			s = s[1:]
			overflow := false
			i = 0
			for ; i < len(s) && isDigit(s[i]); i++ {
				if overflow {
					continue
				}
				if f > (1<<63-1)/10 {
					overflow = true
					continue
				}
				y := f*10 + uint64(s[i]-'0')
				if y > 1<<63 {
					overflow = true
					continue
				}
				f = y
				scale *= 10
			}
			digits = digits || i > 0
			s = s[i:]
		}
		if !digits {
			return 0, false
		}
		// Unit.
		i = 0
		for i < len(s) && s[i] != '.' && !isDigit(s[i]) {
			i++
		}
		unit, ok := durationUnit(s[:i])
		if !ok {
			return 0, false
		}
		s = s[i:]
		if v > 1<<63/unit {
			return 0, false
		}
		v *= unit
		if f > 0 {
			// A float64 keeps fractions of an hour exact to the nanosecond.
			v += uint64(float64(f) * (float64(unit) / scale))
			if v > 1<<63 {
				return 0, false
			}
		}
		total += v
		if total > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return -time.Duration(total), true
	}
	if total > 1<<63-1 {
		return 0, false
	}
	return time.Duration(total), true
}

func durationUnit(u []byte) (uint64, bool) {
	switch string(u) {
	case "ns":
		return uint64(time.Nanosecond), true
	case "us", "µs", "μs": // micro sign U+00B5, Greek mu U+03BC
		return uint64(time.Microsecond), true
	case "ms":
		return uint64(time.Millisecond), true
	case "s":
		return uint64(time.Second), true
	case "m":
		return uint64(time.Minute), true
	case "h":
		return uint64(time.Hour), true
	}
	return 0, false
}
