package liveness

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

func TestCapacityFieldsRoundTrip(t *testing.T) {
	c := Capacity{MaxTasks: 4, Classes: map[string]int{"Video": 2, "Unlimited": 0}, Lease: 6500 * time.Millisecond}
	f := c.fields()
	h := map[string]string{}
	for i := 0; i < len(f); i += 2 {
		h[f[i].(string)] = f[i+1].(string)
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if fmt.Sprint(keys) != "[class:Video leaseMs maxTasks]" {
		t.Fatalf("fields %v: a zero limit must not be written", h)
	}
	got := ParseCapacity(h)
	if got.MaxTasks != 4 || len(got.Classes) != 1 || got.Classes["Video"] != 2 || got.Lease != 6500*time.Millisecond {
		t.Fatalf("round trip %+v", got)
	}
	if (Capacity{Classes: map[string]int{"A": 0}, Lease: time.Second}).IsZero() != true || c.IsZero() {
		t.Fatal("IsZero")
	}
}

func TestParseCapacityIgnoresWhatItCannotRead(t *testing.T) {
	got := ParseCapacity(map[string]string{"maxTasks": "many", "class:A": "-1", "class:": "3", "other": "5", "class:B": "1"})
	if got.MaxTasks != 0 || len(got.Classes) != 1 || got.Classes["B"] != 1 {
		t.Fatalf("%+v", got)
	}
}
