package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/skalds-go/skalds/controller/api/client"
)

// The worst dispatch latency of the last ten minutes, from the samples
// the controller keeps in memory.
func ExampleClient_Charts() {
	c, err := client.New("http://localhost:8000", "change-me")
	if err != nil {
		log.Fatal(err)
	}
	ch, err := c.Charts(context.Background(), time.Now().Add(-10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	worst, dispatched := 0.0, int64(0)
	for _, s := range ch.Samples {
		dispatched += s.Dispatched
		if s.DispatchP99Ms != nil {
			worst = max(worst, *s.DispatchP99Ms)
		}
	}
	fmt.Printf("%d tasks dispatched, p99 at worst %.0f ms (one sample every %.0f s)\n", dispatched, worst, ch.Interval)
}
