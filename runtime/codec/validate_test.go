package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"
	"github.com/skalds-go/skalds/runtime/codec"
)

type vCamera struct {
	ID  string `json:"id" validate:"required,uuid"`
	FPS int    `json:"fps" validate:"gte=1,lte=60"`
}

type vModel struct {
	URL      string            `json:"rtspUrl" validate:"required,url"`
	FixFrame int               `json:"fixFrame" validate:"gte=1"`
	Mode     string            `json:"mode,omitempty" validate:"oneof=fast slow"`
	Owner    string            `json:"owner" validate:"omitempty,email"`
	Name     string            `json:"name" validate:"min=3,max=8"`
	Cameras  []vCamera         `json:"cameras" validate:"max=3,dive"`
	Tags     []string          `json:"tags" validate:"dive,len=2"`
	Labels   map[string]string `json:"labels" validate:"dive,ne=x"`
	Ratio    float64           `json:"ratio" validate:"gt=0,lt=1"`
	Code     string            `json:"code" validate:"omitempty,startswith=ab"`
	Hidden   int               `json:"-" validate:"eq=0"`
	NoTag    int               `validate:"lte=5"`
}

func validModel() vModel {
	return vModel{
		URL:      "rtsp://cam.local/1",
		FixFrame: 1,
		Mode:     "fast",
		Name:     "front",
		Cameras:  []vCamera{{ID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", FPS: 25}},
		Tags:     []string{"ab"},
		Ratio:    0.5,
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(m *vModel)
		err    string
	}{
		{"valid", func(m *vModel) {}, ""},
		{"required", func(m *vModel) { m.URL = "" }, "$.rtspUrl: is required"},
		{"url", func(m *vModel) { m.URL = "cam 1" }, "$.rtspUrl: must be a valid URL"},
		{"gte", func(m *vModel) { m.FixFrame = 0 }, "$.fixFrame: must be at least 1"},
		{"oneof", func(m *vModel) { m.Mode = "medium" }, "$.mode: must be one of fast, slow"},
		{"email", func(m *vModel) { m.Owner = "nobody" }, "$.owner: must be a valid email address"},
		{"min string", func(m *vModel) { m.Name = "ab" }, "$.name: must be at least 3 characters long"},
		{"max string", func(m *vModel) { m.Name = "abcdefghi" }, "$.name: must be at most 8 characters long"},
		// validator does not dive once a tag before "dive" fails.
		{"max slice", func(m *vModel) { m.Cameras = make([]vCamera, 4) }, "$.cameras: must contain at most 3 items"},
		{"dive into struct", func(m *vModel) {
			m.Cameras = append(m.Cameras, vCamera{ID: "nope", FPS: 61})
		}, "2 errors: $.cameras[1].id: must be a valid UUID; $.cameras[1].fps: must be at most 60"},
		{"dive len", func(m *vModel) { m.Tags = []string{"ab", "abc"} }, "$.tags[1]: must be exactly 2 characters long"},
		{"map value", func(m *vModel) { m.Labels = map[string]string{"zone a": "x"} }, `$.labels["zone a"]: must not be equal to x`},
		{"map value identifier", func(m *vModel) { m.Labels = map[string]string{"zone": "x"} }, `$.labels.zone: must not be equal to x`},
		{"gt lt", func(m *vModel) { m.Ratio = 1 }, "$.ratio: must be less than 1"},
		{"gt", func(m *vModel) { m.Ratio = 0 }, "$.ratio: must be greater than 0"},
		{"other tag", func(m *vModel) { m.Code = "xy" }, "$.code: failed the startswith=ab check"},
		{"json dash uses field name", func(m *vModel) { m.Hidden = 1 }, "$.Hidden: must be equal to 0"},
		{"no json tag", func(m *vModel) { m.NoTag = 6 }, "$.NoTag: must be at most 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validModel()
			tt.modify(&m)
			err := codec.Validate(&m)
			if got := errString(err); got != tt.err {
				t.Errorf("error\n got %q\nwant %q", got, tt.err)
			}
			if err != nil {
				var errs codec.Errors
				if !errors.As(err, &errs) {
					t.Errorf("got %T, want codec.Errors", err)
				}
			}
		})
	}
}

func TestValidateNotStruct(t *testing.T) {
	if err := codec.Validate(42); err == nil {
		t.Fatal("want an error for a non-struct")
	} else if _, ok := err.(codec.Errors); ok {
		t.Fatalf("got codec.Errors for a non-struct: %v", err)
	}
}

type generic[T any] struct {
	V T `json:"v" validate:"required"`
}

func TestValidateGenericType(t *testing.T) {
	if got, want := errString(codec.Validate(&generic[int]{})), "$.v: is required"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

type withStruct struct {
	Inner struct {
		A int `json:"a"`
	} `json:"inner" validate:"required"`
}

func TestValidateRequiredStruct(t *testing.T) {
	if got, want := errString(codec.Validate(&withStruct{})), "$.inner: is required"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestValidateMalformedTag: validator/v10 panics on a tag it cannot apply;
// Validate reports it as an error instead, so that a hand-written model
// with such a tag cannot take a node down.
func TestValidateMalformedTag(t *testing.T) {
	type bad struct {
		N int `json:"n" validate:"min=a"`
	}
	err := codec.Validate(&bad{N: 1})
	var errs codec.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Path != "$" || !strings.Contains(errs[0].Msg, "validate tag is malformed") {
		t.Fatalf("got %v, want one error at $ about a malformed validate tag", err)
	}
}

// TestRegisterValidation: a registration after the first validation, or
// of a tag twice, is refused with an error that says what to do.
func TestRegisterValidation(t *testing.T) {
	_ = codec.Validate(&vModel{})
	err := codec.RegisterValidation("late", func(validator.FieldLevel) bool { return true })
	if err == nil || !strings.Contains(err.Error(), "init function") {
		t.Errorf("late registration: got %v, want an error naming init functions", err)
	}
	if err := codec.RegisterValidation("", nil); err == nil {
		t.Error("an empty registration was accepted")
	}
}
