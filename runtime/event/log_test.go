package event

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/skalds-go/skalds/skaldtest"
)

// TestKafkaGoRecordsGoThroughSlog checks that kafka-go's own error
// records (here, a consumer group whose broker is gone) reach the
// subscriber's slog logger, marked as kafka-go's, instead of being lost.
func TestKafkaGoRecordsGoThroughSlog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	logs := skaldtest.NewLogs(nil)
	sub := Subscribe(Broker{Addr: addr}, "log-test", Topics, slog.New(logs))
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { _ = sub.RunBatch(ctx, 1, func(context.Context, []Delivery) error { return nil }) }()
	r, err := logs.Await(ctx, func(r skaldtest.Record) bool { return r.Attrs["component"] == "kafka-go" })
	if err != nil {
		t.Fatalf("no kafka-go record reached the logger: %v", err)
	}
	if r.Level != slog.LevelWarn {
		t.Fatalf("kafka-go's error logged at %v: %s", r.Level, r.Msg)
	}
}
