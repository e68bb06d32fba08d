package gentest_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/skalds-go/skalds/internal/gen/gentest"
)

// roundTrip checks what a generated decoder promises for any input: it
// does not panic, and a value it accepts encodes to JSON that it accepts
// again, as the same value. The first encoding may differ from the input
// (omitempty drops empty maps, whitespace goes), so equality is checked
// from there on: encode, decode, encode must be a fixed point.
func roundTrip[M any](t *testing.T, data []byte, decode func([]byte) (M, error), encode func(M) []byte) {
	m, err := decode(data)
	if err != nil {
		return
	}
	enc := encode(m)
	m2, err := decode(enc)
	if err != nil {
		t.Fatalf("input %q decoded, but its encoding %s does not: %v", data, enc, err)
	}
	enc2 := encode(m2)
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding changed on a round trip:\n%s\n%s", enc, enc2)
	}
	m3, err := decode(enc2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m2, m3) {
		t.Fatalf("value changed on a round trip:\n%+v\n%+v", m2, m3)
	}
}

func FuzzDecodeStream(f *testing.F) {
	f.Add(streamDoc)
	f.Add([]byte(`{"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","name":"n","url":"http://a","mode":"slow","fps":1,"width":1,"height":1,` +
		`"interval":"1s","cameras":[{"id":"a","fixFrame":1}],"output":{"topic":"t","format":"avro","batch":1},"labels":{},"tags":[]}`))
	f.Add([]byte(`{"cameras":[{"id":"a","fixFrame":1e400}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, gentest.DecodeStream, gentest.EncodeStream)
	})
}

func FuzzDecodePipeline(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"name":"p","mode":"fast","cameras":[{"id":"a","fixFrame":1,"region":{"X":1,"Y":2,"W":3,"H":4}}],"weights":[1,2,3],` +
		`"labels":{"a":"b"},"backup":null,"start":"2024-05-06T07:08:09.123+02:00","timeout":"1h2m","extra":{"x":[1,{}]},` +
		`"level":-128,"limits":{"fast":{"max":9223372036854775807,"window":"-1ns"},"slow":null},"matrix":[[1],null,[]],` +
		`"note":"\u00e9\ud83d\ude00","ratio":-0,"count":65535,"big":18446744073709551615,"Enabled":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, gentest.DecodePipeline, gentest.EncodePipeline)
	})
}

// FuzzDecodeTagged covers the generated validation of every tag: no
// input may make it panic, and what it accepts round-trips.
func FuzzDecodeTagged(f *testing.F) {
	f.Add([]byte(`{"name":"cam","tags":["ab"],"start":"2024-01-02T03:04:05Z","ptr":5,"main":{"id":"m"},"legacy":{"even":3}}`))
	f.Add([]byte(`{"labels":{"a":"x","a":"y"},"byMode":{"fast":1e2},"grid":[[1],[2,3,4]],"itemMap":{"k":{}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, gentest.DecodeTagged, gentest.EncodeTagged)
	})
}
