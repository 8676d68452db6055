package landlock

import "time"

// SetRefillWait sets how long the helpers of spawners served after it put
// off replacing a launcher (refillWait), and returns the previous value.
func SetRefillWait(d time.Duration) time.Duration {
	old := refillWait
	refillWait = d
	return old
}

// HeldPID is the pid of the launcher sp holds ahead of its next job, or 0.
func HeldPID(sp *Spawner) int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.held == nil {
		return 0
	}
	return sp.held.pid
}
