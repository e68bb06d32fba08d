package skaldtest

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

func TestAwaitFromSkipsEarlierRecords(t *testing.T) {
	logs := NewLogs(nil)
	log := slog.New(logs)
	log.Info("tick", "n", 1)
	mark := logs.Mark()
	log.Debug("tick", "n", 2)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, err := logs.AwaitFrom(ctx, mark, Msg("tick"))
	if err != nil || r.Attrs["n"] != int64(2) || r.Level != slog.LevelDebug {
		t.Fatalf("got %+v, %v; want the debug record n=2", r, err)
	}
	if n := logs.Count(Msg("tick")); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
	if n := logs.CountFrom(mark, Msg("tick", "n", 1)); n != 0 {
		t.Fatalf("CountFrom(mark) counted a record before the mark")
	}
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if _, err := logs.AwaitFrom(short, logs.Mark(), Msg("tick")); err == nil {
		t.Fatal("AwaitFrom found a record that was never logged")
	}
}

func TestConfigPointsAtTheServers(t *testing.T) {
	c, err := Config("127.0.0.1:9093", "mongodb://127.0.0.1:27018/", "127.0.0.1:6380")
	if err != nil {
		t.Fatal(err)
	}
	if c.KafkaAddr() != "127.0.0.1:9093" || c.RedisAddr() != "127.0.0.1:6380" || c.MongoHost != "mongodb://127.0.0.1:27018/" {
		t.Fatalf("config %s", c)
	}
	if _, err := Config("no-port", "", "127.0.0.1:1"); err == nil {
		t.Fatal("a Kafka address without a port was accepted")
	}
}

func TestQuantileIsNearestRank(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	for q, want := range map[float64]time.Duration{0.2: 1, 0.5: 3, 0.99: 5, 1: 5} {
		if got := Quantile(d, q); got != want {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if Quantile(nil, 0.5) != 0 {
		t.Error("Quantile of no samples is not 0")
	}
}
