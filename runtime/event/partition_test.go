package event

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

// javaMurmur2 are the hashes Kafka's Java client computes for these keys
// (the cases of its UtilsTest.testMurmur2, plus the seed story's task id),
// which kafka-python reproduces bit for bit.
var javaMurmur2 = []struct {
	key  string
	hash int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
	{"task_123", -1154970688},
}

// javaPartition is the Java client's partition for a keyed message:
// Utils.toPositive(murmur2(key)) % numPartitions.
func javaPartition(hash int32, partitions int) int {
	return int(uint32(hash)&0x7fffffff) % partitions
}

func TestPublisherPartitionsLikeJava(t *testing.T) {
	for _, n := range []int{1, 3, 6, 10, 64} {
		parts := make([]int, n)
		for i := range parts {
			parts[i] = i
		}
		for _, c := range javaMurmur2 {
			got := partitioner.Balance(kafka.Message{Key: []byte(c.key)}, parts...)
			if want := javaPartition(c.hash, n); got != want {
				t.Errorf("key %q over %d partitions: publisher picks %d, the Java client %d", c.key, n, got, want)
			}
		}
	}
}
