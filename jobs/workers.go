package jobs

import (
	"sync"
	"time"
)

// workers runs functions on goroutines kept between them. A job's work
// grows a goroutine's stack to tens of KiB; a new goroutine for each
// connection or try starts small and grows (copies) it again every time,
// about 4% of the agent's CPU per job. A kept goroutine keeps its stack.
type workers struct {
	idle chan func()
	stop chan struct{}
	wg   sync.WaitGroup
}

// workerIdle is how long a goroutine waits for more work before it ends.
const workerIdle = 10 * time.Second

func newWorkers() *workers {
	return &workers{idle: make(chan func()), stop: make(chan struct{})}
}

// Go runs f on an idle goroutine, or a new one.
func (w *workers) Go(f func()) {
	select {
	case w.idle <- f:
	default:
		w.wg.Add(1)
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	defer w.wg.Done()
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		f()
		f = nil // nothing of the last job stays reachable while idle
		t.Reset(workerIdle)
		select {
		case f = <-w.idle:
		case <-t.C:
			return
		case <-w.stop:
			return
		}
	}
}

// close ends the idle goroutines and waits for the busy ones to finish.
func (w *workers) close() {
	close(w.stop)
	w.wg.Wait()
}
