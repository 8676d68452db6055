package jobs

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// workerLoops counts the goroutines running a workers loop. It counts them
// by their stacks, not runtime.NumGoroutine: the process's other goroutines
// (an earlier test's connections winding down) come and go meanwhile.
func workerLoops() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), ".(*workers).loop(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestWorkers: work handed over one piece after another runs on one kept
// goroutine; pieces at once get one each; close waits for the busy ones and
// ends the idle ones, leaving no goroutine behind.
func TestWorkers(t *testing.T) {
	// An earlier test's idle workers end within workerIdle.
	if !waitFor(2*workerIdle, func() bool { return workerLoops() == 0 }) {
		t.Fatalf("before the test: %d worker goroutines of earlier tests still run", workerLoops())
	}
	w := newWorkers()
	for range 10 {
		done := make(chan struct{})
		w.Go(func() { close(done) })
		<-done
	}
	// The goroutine that ran the last piece goes back to waiting after it.
	// (A piece handed over before the last one is back waiting gets a second
	// goroutine, which ends after workerIdle: hence the wait.)
	if !waitFor(2*workerIdle, func() bool { return workerLoops() == 1 }) {
		t.Fatalf("10 pieces in turn: %d worker goroutines, want 1", workerLoops())
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
	select {
	case n := <-closed:
		if n != 3 {
			t.Fatalf("close returned with %d of 3 pieces of work finished", n)
		}
	case <-time.After(time.Minute):
		t.Fatal("close did not return within a minute of the work finishing")
	}
	if !waitFor(10*time.Second, func() bool { return workerLoops() == 0 }) {
		t.Errorf("after close: %d worker goroutines, want 0", workerLoops())
	}
}
