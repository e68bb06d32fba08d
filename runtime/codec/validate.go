package codec

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// validate is shared: a validator caches what it learns about each struct
// type, so one instance for the process makes every later check cheap.
var validate = sync.OnceValue(func() *validator.Validate {
	customMu.Lock()
	defer customMu.Unlock()
	v := newValidator()
	for tag, fn := range custom {
		// The tag was checked when it was registered.
		_ = v.RegisterValidation(tag, fn)
	}
	customDone = true
	return v
})

// custom holds the validations registered before the shared validator was
// built; customDone says that it has been, after which a registration is
// refused: validator/v10 may not learn tags while it validates.
var (
	customMu   sync.Mutex
	custom     = make(map[string]validator.Func)
	customDone bool
)

// RegisterValidation makes a custom validate tag known to [Validate]. The
// code skaldgen generates calls it from an init function for every function
// marked //skald:validation tag=<name>, so that the tag works before the
// first decode; skaldgen checks at generation time that every tag a model
// uses is either generated, built into validator/v10, or declared so.
//
// It returns an error for a tag that is empty or already registered, and
// once the first validation has run.
func RegisterValidation(tag string, fn validator.Func) error {
	customMu.Lock()
	defer customMu.Unlock()
	switch {
	case tag == "" || fn == nil:
		return errors.New("codec: RegisterValidation needs a tag name and a function")
	case customDone:
		return fmt.Errorf("codec: validate tag %q is registered after the first validation; register it from an init function", tag)
	case custom[tag] != nil:
		return fmt.Errorf("codec: validate tag %q is registered twice; give one of the functions another tag", tag)
	}
	// Try it on a scratch validator first, so that a bad name fails here
	// and not when the shared validator is built.
	if err := newValidator().RegisterValidation(tag, fn); err != nil {
		return fmt.Errorf("codec: validate tag %q: %w", tag, err)
	}
	custom[tag] = fn
	return nil
}

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return v
}

// Validate checks the validate tags of the struct v points to and reports
// each failure as a [FieldError] with a JSON path and a readable message
// ("$.fixFrame: must be at least 1"), so that validation errors look like
// decode errors to whoever sent the task. It returns nil when v is valid,
// [Errors] when a tag fails, and the validator's own error when v is not a
// struct or a pointer to one.
//
// `required` also applies to struct-typed fields (the behaviour validator
// v11 will make the default): a zero struct counts as missing.
func Validate(v any) (err error) {
	defer func() {
		// validator/v10 panics on a tag it cannot apply, such as min=a or
		// a tag of another package registered too late. skaldgen refuses
		// such tags, but a hand-written model may still carry one: say
		// which, rather than take the process down.
		if p := recover(); p != nil {
			err = Errors{{Path: "$", Msg: ClipText(fmt.Sprint("cannot be validated, a validate tag is malformed: ", p), maxMsg)}}
		}
	}()
	err = validate().Struct(v)
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
			Path: clipPath(jsonPath(fe.Namespace(), top)),
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
