package jobs

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkers: work handed over one piece after another runs on one kept
// goroutine; pieces at once get one each; close waits for the busy ones and
// ends the idle ones, leaving no goroutine behind.
func TestWorkers(t *testing.T) {
	base := runtime.NumGoroutine()
	w := newWorkers()
	for range 10 {
		done := make(chan struct{})
		w.Go(func() { close(done) })
		<-done
	}
	// The goroutine that ran the last piece goes back to waiting after it.
	if !waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() == base+1 }) {
		t.Fatalf("10 pieces in turn: %d goroutines, want %d", runtime.NumGoroutine(), base+1)
	}
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	var finished atomic.Int32
	for range 3 {
		w.Go(func() { started <- struct{}{}; <-release; finished.Add(1) })
	}
	for range 3 {
		<-started // each runs at once: none waits for another
	}
	closed := make(chan int32)
	go func() { w.close(); closed <- finished.Load() }()
	close(release)
	if n := <-closed; n != 3 {
		t.Fatalf("close returned with %d of 3 pieces of work finished", n)
	}
	if !waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() == base }) {
		t.Errorf("after close: %d goroutines, want %d", runtime.NumGoroutine(), base)
	}
}
