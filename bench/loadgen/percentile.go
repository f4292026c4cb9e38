package loadgen

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of samples sorted in
// increasing order, by the nearest-rank method: the smallest sample that at
// least p percent of the samples do not exceed. It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// sortDurations sorts samples in place and returns them.
func sortDurations(samples []time.Duration) []time.Duration {
	slices.Sort(samples)
	return samples
}
