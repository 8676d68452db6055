package landlock

import "time"

// SetRefillWait sets how long the helpers of spawners served after it put
// off replacing a launcher (refillWait), and returns the previous value.
func SetRefillWait(d time.Duration) time.Duration {
	old := refillWait
	refillWait = d
	return old
}
