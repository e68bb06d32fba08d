package gentest_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skalds-go/skalds/internal/gen/gentest"
	"github.com/skalds-go/skalds/runtime/codec"
)

// The generated checks of Tagged must fail exactly where validator/v10
// fails, with the same messages: a model can then switch between
// generated and reflective validation without anyone noticing. These
// tests run both on the same values.

// failures returns the "path: msg" lines of err, sorted: validator/v10
// walks maps in random order.
func failures(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs codec.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v is %T, want codec.Errors", err, err)
	}
	out := make([]string, len(errs))
	for i, fe := range errs {
		out[i] = fe.Error()
	}
	slices.Sort(out)
	return out
}

// compare fails when the generated validation and validator/v10 disagree
// about m.
func compare(t testing.TB, m gentest.Tagged) []string {
	t.Helper()
	gen := failures(t, gentest.ValidateTagged(m))
	ref := failures(t, codec.Validate(&m))
	if !slices.Equal(gen, ref) {
		t.Fatalf("generated and validator/v10 disagree on %+v\ngenerated:\n\t%s\nvalidator/v10:\n\t%s",
			m, strings.Join(gen, "\n\t"), strings.Join(ref, "\n\t"))
	}
	return gen
}

func validTagged() gentest.Tagged {
	five := 5
	one := 1
	return gentest.Tagged{
		Name: "cam", Code: "abc", Kind: "a", Count: 3, Level: 1, Size: 10, Ratio: 0.5, Ratio32: 0.5,
		Same: 4, Length: 2, Flag: true, Every: time.Minute, Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Ptr: &five, MinPtr: &one, Tags: []string{"ab"}, Exactly: []int{1, 2}, Pair: [2]string{"a", "b"},
		Main: gentest.Item{ID: "m"},
	}
}

func TestValidateTaggedTable(t *testing.T) {
	zero := 0
	short := "ab"
	tests := []struct {
		name   string
		modify func(m *gentest.Tagged)
		want   []string
	}{
		{"valid", func(m *gentest.Tagged) {}, nil},
		{"required string", func(m *gentest.Tagged) { m.Name = "" }, []string{"$.name: is required"}},
		{"runes, not bytes", func(m *gentest.Tagged) { m.Name = "ééééééé" }, nil},
		{"max string", func(m *gentest.Tagged) { m.Name = "abcdefghi" }, []string{"$.name: must be at most 8 characters long"}},
		{"oneof skips empty", func(m *gentest.Tagged) { m.Mode = "" }, nil},
		{"oneof", func(m *gentest.Tagged) { m.Mode = "medium" }, []string{"$.mode: must be one of fast, slow"}},
		{"oneof number", func(m *gentest.Tagged) { m.Level = 3 }, []string{"$.level: must be one of 1, 2, 03"}},
		{"url", func(m *gentest.Tagged) { m.URL = "no url" }, []string{"$.url: must be a valid URL"}},
		{"email", func(m *gentest.Tagged) { m.Email = "a@" }, []string{"$.email: must be a valid email address"}},
		{"uuid", func(m *gentest.Tagged) { m.ID = "6ba7b810-9dad-11d1-80b4-00c04fd430cX" }, []string{"$.id: must be a valid UUID"}},
		{"gt lt", func(m *gentest.Tagged) { m.Small = 3; m.Ratio = 0 },
			[]string{"$.ratio: must be greater than 0", "$.small: must be less than 3"}},
		{"float32 bound", func(m *gentest.Tagged) { m.Ratio32 = 0.1 }, nil},
		{"duration", func(m *gentest.Tagged) { m.Every = time.Second - 1 }, []string{"$.every: must be at least 1s"}},
		{"bool", func(m *gentest.Tagged) { m.Flag = false; m.Off = true },
			[]string{"$.flag: must be equal to true", "$.off: must not be equal to true"}},
		{"nil pointer with required", func(m *gentest.Tagged) { m.Ptr = nil }, []string{"$.ptr: is required"}},
		{"pointer to zero", func(m *gentest.Tagged) { m.Ptr = &zero }, []string{"$.ptr: must be at least 5"}},
		{"nil pointer without required", func(m *gentest.Tagged) { m.MinPtr = nil }, []string{"$.minPtr: must be at least 1"}},
		{"pointer omitempty", func(m *gentest.Tagged) { m.OptPtr = &short }, []string{"$.optPtr: must be at least 3 characters long"}},
		{"slice dive", func(m *gentest.Tagged) { m.Tags = []string{"ab", "a"} }, []string{"$.tags[1]: must be at least 2 characters long"}},
		{"slice no dive after failure", func(m *gentest.Tagged) { m.Tags = []string{"a", "b", "c", "d"} },
			[]string{"$.tags: must contain at most 3 items"}},
		{"empty slice is present", func(m *gentest.Tagged) { m.Tags = []string{} }, []string{"$.tags: must contain at least 1 items"}},
		{"nested dive", func(m *gentest.Tagged) { m.Grid = [][]int{{1}, {1, 2, 3}, {0, -1}} },
			[]string{"$.grid[1]: must contain at most 2 items", "$.grid[2][1]: must be at least 0"}},
		{"array dive", func(m *gentest.Tagged) { m.Pair[1] = "" }, []string{"$.pair[1]: is required"}},
		{"map dive", func(m *gentest.Tagged) { m.Labels = map[string]string{"a": "x", "b c": "x", "7": "x"} },
			[]string{`$.labels.a: must not be equal to x`, `$.labels["b c"]: must not be equal to x`, `$.labels[7]: must not be equal to x`}},
		{"map of named keys", func(m *gentest.Tagged) { m.ByMode = map[gentest.Mode]int{"fast": 10} }, []string{"$.byMode.fast: must be less than 10"}},
		{"struct elements", func(m *gentest.Tagged) {
			m.Items = []gentest.Item{{ID: "a"}, {Score: 101, Notes: []string{"toolong"}}}
		}, []string{"$.items[1].id: is required", "$.items[1].notes[0]: must be at most 5 characters long", "$.items[1].score: must be at most 100"}},
		{"pointer elements", func(m *gentest.Tagged) { m.ItemPtrs = []*gentest.Item{nil, {}} },
			[]string{"$.itemPtrs[0]: is required", "$.itemPtrs[1].id: is required"}},
		{"map of structs", func(m *gentest.Tagged) { m.ItemMap = map[string]gentest.Item{"k": {}} }, []string{"$.itemMap.k.id: is required"}},
		{"required struct", func(m *gentest.Tagged) { m.Main = gentest.Item{} }, []string{"$.main: is required"}},
		{"struct pointer", func(m *gentest.Tagged) { m.Opt = &gentest.Item{Score: -1} },
			[]string{"$.opt.id: is required", "$.opt.score: must be at least 0"}},
		{"slice without dive", func(m *gentest.Tagged) { m.Loose = []gentest.Item{{}} }, nil},
		{"raw", func(m *gentest.Tagged) { m.Raw = json.RawMessage(`"aaaaaaaaaaaaaaaaaaaaaa"`) }, []string{"$.raw: must contain at most 20 items"}},
		{"fallback struct", func(m *gentest.Tagged) { m.Legacy = gentest.Legacy{Code: "xy", Hex: "zz"} },
			[]string{"$.legacy.code: failed the startswith=ab check", "$.legacy.hex: failed the hexadecimal check"}},
		{"custom tag", func(m *gentest.Tagged) { m.Legacy.Even = 3 }, []string{"$.legacy.even: failed the even check"}},
		{"validate dash", func(m *gentest.Tagged) { m.Skipped = "anything" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validTagged()
			tt.modify(&m)
			if got := compare(t, m); !slices.Equal(got, tt.want) {
				t.Errorf("failures\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// source hands out choices, from fuzz input or a random generator.
type source struct {
	data []byte
	rnd  *rand.Rand
}

func (s *source) intn(n int) int {
	if s.rnd != nil {
		return s.rnd.IntN(n)
	}
	if len(s.data) == 0 {
		return 0
	}
	b := s.data[0]
	s.data = s.data[1:]
	return int(b) % n
}

func pick[T any](s *source, vals ...T) T { return vals[s.intn(len(vals))] }

var (
	strs   = []string{"", "a", "ab", "abc", "x", "é", "ééé", "abcdefghi", "fast", "slow", "medium"}
	urls   = []string{"", "http://a.example/x", "rtsp://10.0.0.1:554/s", "file:///tmp/x", "file:///", "no url", "mailto:a@b.c", "HTTP://UP.CASE", "/rel", "x:#frag"}
	emails = []string{"", "a@b.co", "a@", "first.last@example.com", "\"q\"@example.com", "a b@c.d", "Name <a@b.co>"}
	uuids  = []string{"", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430cZ"}
	keys   = []string{"a", "b c", "7", "0", "k.e.y", "fast", "slow", "", "ü"}
)

func randItem(s *source) gentest.Item {
	it := gentest.Item{ID: pick(s, "", "i"), Score: pick(s, -1, 0, 50, 100, 101)}
	switch s.intn(3) {
	case 1:
		it.Notes = []string{}
	case 2:
		for range s.intn(3) {
			it.Notes = append(it.Notes, pick(s, "", "abc", "abcdef"))
		}
	}
	return it
}

// randTagged builds a Tagged from choices near every bound.
func randTagged(s *source) gentest.Tagged {
	var m gentest.Tagged
	m.Name = pick(s, strs...)
	m.Code = pick(s, strs...)
	m.Kind = pick(s, "", "a", "b")
	m.NotKind = pick(s, "", "x", "y")
	m.Mode = gentest.Mode(pick(s, strs...))
	m.URL = pick(s, urls...)
	m.Email = pick(s, emails...)
	m.ID = pick(s, uuids...)
	m.Count = pick(s, -1, 0, 1, 10, 11, math.MaxInt)
	m.Small = pick[int8](s, -128, -3, -2, 0, 2, 3, 127)
	m.Level = pick[gentest.Level](s, 0, 1, 2, 3, -1)
	m.Size = pick[uint16](s, 0, 1, 500, 501, math.MaxUint16)
	m.Choice = pick[uint](s, 0, 1, 7, 8)
	m.Ratio = pick(s, math.Copysign(0, -1), 0, 1e-300, 0.5, 1, math.Inf(1))
	m.Ratio32 = pick[float32](s, 0.1, 0.09999999, 0.9, 0.90000004, 0.5, float32(math.NaN()))
	m.Exact = pick(s, 0.5, 0.5000000000000001, 0)
	m.Same = pick(s, 4, 3)
	m.Length = pick(s, 2, 0)
	m.Flag = s.intn(2) == 0
	m.Off = s.intn(2) == 0
	m.Every = pick(s, 0, time.Second-1, time.Second, time.Hour, time.Hour+1)
	m.Start = pick(s, time.Time{}, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}.In(time.UTC))
	for _, p := range []**int{&m.Ptr, &m.MinPtr} {
		if s.intn(3) > 0 {
			v := pick(s, 0, 1, 5, -5)
			*p = &v
		}
	}
	if s.intn(2) == 0 {
		v := pick(s, strs...)
		m.OptPtr = &v
	}
	switch s.intn(3) {
	case 1:
		m.Tags = []string{}
	case 2:
		for range s.intn(5) {
			m.Tags = append(m.Tags, pick(s, strs...))
		}
	}
	for range s.intn(4) {
		m.Exactly = append(m.Exactly, 1)
	}
	if s.intn(3) == 0 {
		m.Empty = []int{}
	} else if s.intn(3) == 0 {
		m.Empty = []int{1}
	}
	for range s.intn(4) {
		var row []int
		if s.intn(4) > 0 {
			row = []int{}
			for range s.intn(4) {
				row = append(row, pick(s, -1, 0, 1))
			}
		}
		m.Grid = append(m.Grid, row)
	}
	m.Pair = [2]string{pick(s, "", "a"), pick(s, "", "b")}
	if s.intn(3) > 0 {
		m.Labels = map[string]string{}
		for range s.intn(6) {
			m.Labels[pick(s, keys...)] = pick(s, "x", "y")
		}
	}
	if s.intn(2) == 0 {
		m.ByMode = map[gentest.Mode]int{}
		for range s.intn(4) {
			m.ByMode[gentest.Mode(pick(s, keys...))] = pick(s, 9, 10)
		}
	}
	for range s.intn(3) {
		m.Items = append(m.Items, randItem(s))
	}
	for range s.intn(3) {
		if s.intn(3) == 0 {
			m.ItemPtrs = append(m.ItemPtrs, nil)
		} else {
			it := randItem(s)
			m.ItemPtrs = append(m.ItemPtrs, &it)
		}
	}
	if s.intn(2) == 0 {
		m.ItemMap = map[string]gentest.Item{}
		for range s.intn(3) {
			m.ItemMap[pick(s, keys...)] = randItem(s)
		}
	}
	if s.intn(4) > 0 {
		m.Main = randItem(s)
	}
	if s.intn(2) == 0 {
		it := randItem(s)
		m.Opt = &it
	}
	for range s.intn(2) {
		m.Loose = append(m.Loose, randItem(s))
	}
	m.Raw = pick(s, json.RawMessage(nil), json.RawMessage{}, json.RawMessage(`1`), json.RawMessage(`"aaaaaaaaaaaaaaaaaaaaaa"`))
	m.Legacy = gentest.Legacy{Code: pick(s, "", "ab1", "xy"), Hex: pick(s, "", "0f", "zz"), Even: pick(s, 0, 2, 3)}
	m.Skipped = pick(s, "", "s")
	return m
}

// mix returns a valid Tagged with a few fields taken from r, so that the
// corpus also holds values with a single failure.
func mix(s *source, r gentest.Tagged) gentest.Tagged {
	m := validTagged()
	mv, rv := reflect.ValueOf(&m).Elem(), reflect.ValueOf(r)
	for i := range mv.NumField() {
		if s.intn(16) == 0 {
			mv.Field(i).Set(rv.Field(i))
		}
	}
	return m
}

// TestValidateTaggedRandom compares both validations on a fixed corpus of
// random values built around every bound.
func TestValidateTaggedRandom(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 1000
	}
	s := &source{rnd: rand.New(rand.NewPCG(1, 2))}
	failed := 0
	for i := range n {
		m := randTagged(s)
		if i%2 == 0 {
			m = mix(s, m)
		}
		if len(compare(t, m)) > 0 {
			failed++
		}
	}
	if failed == 0 || failed == n {
		t.Errorf("%d of %d values failed validation; the corpus should have both kinds", failed, n)
	}
}

// FuzzValidateTagged lets the fuzzer choose the values.
func FuzzValidateTagged(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1\xf0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		compare(t, randTagged(&source{data: data}))
	})
}
