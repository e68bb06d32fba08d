package worker_test

import (
	"testing"

	"github.com/skalds-go/skalds/example/worker"
)

// TestPythonFieldNames: Python Skalds writes the model's field names
// (rtsp_url, fix_frame) in edge YAML write-back and update events; the
// model declares them with //skald:alias, so they decode, the encoder
// still writes the json names, and giving one field under two names is
// refused.
func TestPythonFieldNames(t *testing.T) {
	m, err := worker.DecodeMySimpleDataModel([]byte(`{"rtsp_url":"rtsp://example.com/new_stream","fix_frame":60}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.RTSPURL != "rtsp://example.com/new_stream" || m.FixFrame != 60 {
		t.Fatalf("decoded %+v", m)
	}
	if got, want := string(worker.EncodeMySimpleDataModel(m)), `{"rtspUrl":"rtsp://example.com/new_stream","fixFrame":60}`; got != want {
		t.Errorf("encoded %s, want %s", got, want)
	}
	_, err = worker.DecodeMySimpleDataModel([]byte(`{"rtspUrl":"rtsp://a/b","rtsp_url":"rtsp://a/c","fixFrame":1}`))
	if err == nil || err.Error() != "$.rtsp_url: field given more than once" {
		t.Errorf("two names of one field: got %v", err)
	}
	_, err = worker.DecodeMySimpleDataModel([]byte(`{"rtsp_url":"rtsp://a/b","fix_frame":"x"}`))
	if err == nil || err.Error() != "$.fixFrame: expected integer, got string" {
		t.Errorf("a wrong value under an alias: got %v, want it reported under the json name", err)
	}
}
