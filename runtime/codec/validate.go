package codec

import (
	"errors"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// validate is shared: a validator caches what it learns about each struct
// type, so one instance for the process makes every later check cheap.
var validate = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
})

// Validate checks the validate tags of the struct v points to and reports
// each failure as a [FieldError] with a JSON path and a readable message
// ("$.fixFrame: must be at least 1"), so that validation errors look like
// decode errors to whoever sent the task. It returns nil when v is valid,
// [Errors] when a tag fails, and the validator's own error when v is not a
// struct or a pointer to one.
//
// `required` also applies to struct-typed fields (the behaviour validator
// v11 will make the default): a zero struct counts as missing.
func Validate(v any) error {
	err := validate().Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return err
	}
	top := ""
	if t := reflect.TypeOf(v); t != nil {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		top = t.Name()
	}
	errs := make(Errors, 0, len(verrs))
	for _, fe := range verrs {
		errs = append(errs, &FieldError{
			Path: jsonPath(fe.Namespace(), top),
			Msg:  message(fe),
		})
	}
	return errs
}

// jsonPath turns a validator namespace such as "Model.cameras[2].fixFrame"
// into "$.cameras[2].fixFrame". Names come from json tags through the tag
// name function; map keys (validator writes them as [key]) become members.
func jsonPath(ns, top string) string {
	if top != "" && strings.HasPrefix(ns, top) && (len(ns) == len(top) || ns[len(top)] == '.' || ns[len(top)] == '[') {
		ns = ns[len(top):]
	} else if i := strings.IndexAny(ns, ".["); i >= 0 {
		ns = ns[i:]
	} else {
		ns = ""
	}
	b := make([]byte, 0, len(ns)+8)
	b = append(b, '$')
	for len(ns) > 0 {
		switch ns[0] {
		case '.':
			ns = ns[1:]
			i := strings.IndexAny(ns, ".[")
			if i < 0 {
				i = len(ns)
			}
			b = appendPathKey(b, []byte(ns[:i]))
			ns = ns[i:]
		case '[':
			i := strings.IndexByte(ns, ']')
			if i < 0 {
				i = len(ns)
			}
			key := ns[1:i]
			if isIndex(key) {
				b = append(b, ns[:min(i+1, len(ns))]...)
			} else {
				b = appendPathKey(b, []byte(key))
			}
			ns = ns[min(i+1, len(ns)):]
		default: // not produced by validator; keep the rest as one key
			b = appendPathKey(b, []byte(ns))
			ns = ""
		}
	}
	return string(b)
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// message phrases a failed tag for people; see [Message].
func message(fe validator.FieldError) string {
	return Message(fe.Tag(), fe.Param(), kindOfValue(fe.Kind()))
}
