package jobs

// histogram counts observations in fixed buckets, as Prometheus exports
// them (cumulative counts per upper bound, a sum and a count).
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

// durationBounds are the buckets of job durations, in seconds: a small
// compile takes tens of milliseconds, a large C++ unit minutes.
var durationBounds = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// setupBounds are the buckets of a sandbox's setup, in seconds: a few
// milliseconds when the node keeps up.
var setupBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i]++
	h.sum += v
	h.n++
}
