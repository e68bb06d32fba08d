package interop

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/skalds-go/skalds/runtime/event"
)

// A kafka-python producer (Python Skalds' client library, with its default
// partitioner) and the Go publisher put the events of one task id on the
// same partition, so that per-task order holds across mixed producers.
func TestPythonAndGoProducersAgreeOnPartitions(t *testing.T) {
	e := newEnv(t)
	topic := e.id("interop.partitions")
	b := event.Broker{Addr: e.stack.KafkaAddr, Partitions: 6}
	if err := event.EnsureTopics(e.ctx, b, topic); err != nil {
		t.Fatal(err)
	}
	keys := []string{"task_123"}
	for i := range 24 {
		keys = append(keys, fmt.Sprintf("task-%s-%d", e.uid, i))
	}
	py := start(t, e.dir, e.pyEnv("TOPIC="+topic), e.python, append([]string{filepath.Join(pyDir(t), "produce_keys.py")}, keys...)...)
	py.wait(awaitLimit)
	pub := event.NewPublisher(b)
	defer pub.Close()
	for _, k := range keys {
		if err := pub.Publish(e.ctx, topic, event.NewTaskEvent(k)); err != nil {
			t.Fatal(err)
		}
	}

	python, golang := map[string]int{}, map[string]int{}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{e.stack.KafkaAddr}, GroupID: e.id("partitions"), Topic: topic, StartOffset: kafka.FirstOffset, MaxWait: time.Second})
	defer r.Close()
	ctx, cancel := context.WithTimeout(e.ctx, awaitLimit)
	defer cancel()
	for len(python) < len(keys) || len(golang) < len(keys) {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d Python and %d Go events of %d each: %v", len(python), len(golang), len(keys), err)
		}
		if bytes.Contains(m.Value, []byte(`"source":"python"`)) {
			python[string(m.Key)] = m.Partition
		} else {
			golang[string(m.Key)] = m.Partition
		}
	}
	used := map[int]bool{}
	for _, k := range keys {
		if python[k] != golang[k] {
			t.Errorf("task %s: kafka-python put it on partition %d, the Go publisher on %d", k, python[k], golang[k])
		}
		used[golang[k]] = true
	}
	// Agreement on one partition would prove nothing.
	if len(used) < 3 {
		t.Fatalf("%d keys landed on only %d partitions", len(keys), len(used))
	}
}
