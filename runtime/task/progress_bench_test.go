package task

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkProgressReport measures what a worker's progress report costs
// besides the round trip: its conversion when it is reported (Convert,
// which refuses what MongoDB cannot store) and the marshalling of the
// update that stores it (StoreProgress's $set, as the driver encodes it).
// A single conversion is measured in the same run: x-report/convert near
// 1 means the report is converted once; a second conversion in the write
// made it about 2.
func BenchmarkProgressReport(b *testing.B) {
	raw := []byte(`{"framesProcessed":1234,"fps":29.97,"stage":"decode","camera":{"id":"cam-7","resolution":[1920,1080]},` +
		`"recent":[{"frame":1230,"ms":33.1},{"frame":1231,"ms":33.4},{"frame":1232,"ms":32.9}],"warnings":[]}`)
	b.ReportAllocs()
	for b.Loop() {
		c, err := Convert(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bson.Marshal(bson.D{{Key: "$set", Value: progressSet(nil, c.Doc, 1)}}); err != nil {
			b.Fatal(err)
		}
	}
	perReport := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	// The single conversion, timed as many times, after the reports.
	start := time.Now()
	for range b.N {
		if _, err := AttachmentsBSON(raw); err != nil {
			b.Fatal(err)
		}
	}
	single := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(single, "ns-convert")
	b.ReportMetric(perReport/single, "x-report/convert")
}
