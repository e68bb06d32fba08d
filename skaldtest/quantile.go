package skaldtest

import (
	"math"
	"slices"
	"time"
)

// Quantile returns the q-quantile (0 < q <= 1) of d by the nearest-rank
// method, as benchmarks report p50 and p99; 0 for no samples. d is not
// changed.
func Quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
