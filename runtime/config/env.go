package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Env fills settings from environment variables and collects every
// malformed one, so that a single error names them all. Nodes, clients and
// the controller read their settings through it.
type Env struct {
	lookup func(string) (string, bool)
	errs   []string
}

// NewEnv returns an Env that reads variables with lookup (os.LookupEnv, or
// a map in tests).
func NewEnv(lookup func(string) (string, bool)) *Env { return &Env{lookup: lookup} }

// Lookup returns a variable's value and whether it is set.
func (e *Env) Lookup(name string) (string, bool) { return e.lookup(name) }

// Int sets an unset (zero) *dst from variable name, or else to def.
func (e *Env) Int(dst *int, name string, def int) {
	if *dst != 0 {
		return
	}
	*dst = def
	if v, ok := e.lookup(name); ok && v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			e.Errorf("%s=%q is not a whole number", name, v)
			return
		}
		*dst = n
	}
}

// Duration sets an unset (zero) *dst from variable name, read by
// ParseSeconds, or else to def.
func (e *Env) Duration(dst *time.Duration, name string, def time.Duration) {
	if *dst != 0 {
		return
	}
	*dst = def
	if v, ok := e.lookup(name); ok && v != "" {
		d, err := ParseSeconds(v)
		if err != nil {
			e.Errorf("%s: %v", name, err)
			return
		}
		*dst = d
	}
}

// Errorf records a malformed setting.
func (e *Env) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// Err returns every recorded problem in one error that starts with what,
// or nil.
func (e *Env) Err(what string) error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", what, strings.Join(e.errs, "; "))
}

// ParseSeconds reads a duration given as seconds ("5", "0.5"), as Python
// Skalds writes its intervals, or as a Go duration ("500ms").
func ParseSeconds(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("%q is negative", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a number of seconds or a duration like 500ms", v)
	}
	return d, nil
}

// Masked stands for a secret that is set.
const Masked = "******"

// Mask hides a secret, keeping whether it is set: "" stays "".
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	return Masked
}

// MaskURI hides the password of a connection URI, in its user info and in
// query parameters that carry secrets, so that the URI can be logged or
// shown.
func MaskURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		// Unparseable: show the scheme at most, never what may be a secret.
		if scheme, _, ok := strings.Cut(uri, "://"); ok {
			return scheme + "://" + Masked
		}
		return Masked
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxxx")
	}
	q := u.Query()
	changed := false
	for k := range q {
		switch strings.ToLower(k) {
		case "password", "pass", "pwd", "secret", "token", "authmechanismproperties":
			q.Set(k, "xxxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return strings.ReplaceAll(u.String(), "xxxxxx", Masked)
}

// MaskError returns err with every credential of the connection URI uri
// taken out of its text, for errors of drivers that quote the URI or a
// part of it (the MongoDB driver quotes a badly escaped password, for
// example). When the text holds a piece of a secret that cannot be cut
// out cleanly, the driver's text is dropped for a generic one. An error
// whose text held a secret is replaced, not wrapped (its text is the
// leak); one without is returned as it is.
func MaskError(err error, uri string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	secrets := uriSecrets(uri)
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, Masked)
	}
	for _, s := range secrets {
		// A fragment of a secret, such as the tail after a bad escape.
		for i := 0; i < len(s); i++ {
			// Four characters of a secret, or a bad escape of it, which
			// net/url quotes as its three characters ("%pw").
			frag := s[i:min(i+4, len(s))]
			if s[i] == '%' {
				frag = s[i:min(i+3, len(s))]
			}
			if len(frag) >= 3 && strings.Contains(text, frag) {
				return errors.New("the URI's credentials are malformed (percent-encode special characters in the user name and password): " + MaskURI(uri))
			}
		}
	}
	if strings.Contains(text, uri) {
		text = strings.ReplaceAll(text, uri, MaskURI(uri))
	}
	if text == err.Error() {
		return err // nothing to hide: keep the chain for errors.Is
	}
	return errors.New(text)
}

// uriSecrets returns the password of uri's user info and the values of its
// secret query parameters, as written (escaped) and unescaped, found
// without parsing the URI, since an unparseable URI leaks too.
func uriSecrets(uri string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 {
			out = append(out, s)
			if u, err := url.PathUnescape(s); err == nil && u != s {
				out = append(out, u)
			}
		}
	}
	rest := uri
	if _, after, ok := strings.Cut(rest, "://"); ok {
		rest = after
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
			add(pw)
		}
	}
	if _, query, ok := strings.Cut(uri, "?"); ok {
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.ToLower(k) {
			case "password", "pass", "pwd", "secret", "token", "authmechanismproperties":
				add(v)
			}
		}
	}
	return out
}
