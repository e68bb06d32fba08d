package tracing

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOffWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, shutdown, err := FromEnv(context.Background(), "test")
	if err != nil || tp != nil {
		t.Fatalf("FromEnv without an endpoint: provider %v, err %v; want nil, nil", tp, err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if Enabled() {
		t.Fatal("OTEL_SDK_DISABLED=true must turn tracing off")
	}
}

// TestExportsToEndpoint points the standard variables at a collector
// stand-in and checks that a span reaches it, named, with the service
// name and the headers of OTEL_EXPORTER_OTLP_HEADERS.
func TestExportsToEndpoint(t *testing.T) {
	got := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret")
	t.Setenv("OTEL_SERVICE_NAME", "")
	ctx := context.Background()
	tp, shutdown, err := FromEnv(ctx, "skalds-test-node")
	if err != nil || tp == nil {
		t.Fatalf("FromEnv: provider %v, err %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(ctx, "skalds.hook.main")
	span.End()
	if err := shutdown(ctx); err != nil { // flushes the batch
		t.Fatal(err)
	}
	r, body := <-got, <-bodies
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Authorization") != "Bearer s3cret" {
		t.Fatalf("export request %s %s, authorization %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
	}
	for _, want := range []string{"skalds.hook.main", "skalds-test-node"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("exported spans lack %q", want)
		}
	}
}
