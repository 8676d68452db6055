package cli

import (
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// timerSlack is how late the kernel may wake the node's threads from a
// timed sleep, so that it can batch the wake-ups.
//
// The Go runtime's monitor thread (sysmon) sleeps 20 µs at a time whenever
// one of the process's goroutines has just been busy, and a node is busy
// in short bursts: every message of every job. On the 2-core virtual
// machines we measure on, where a context switch costs tens of
// microseconds, those wake-ups were 80 per tiny remote job in the serving
// node and a quarter of its CPU. With 1 ms of slack they fall to about 20:
// the serving node's CPU per job drops by 1.4 ms, the spawner's by 1 ms
// and the client's agent's by 0.5–0.9 ms, with no change in latency.
// Nothing the node does waits on a timer shorter than many milliseconds;
// readiness of sockets and pipes is not a timer and is not delayed.
// systemd's TimerSlackNSec= sets the same.
const timerSlack = time.Millisecond

// ensureTimerSlack gives the process timerSlack. A thread inherits its
// slack from the thread that creates it, and the runtime starts sysmon
// before any of distmesh's code runs: so the process sets the slack on its
// own thread and executes itself again, once, before it does anything
// else. The new program's threads, sysmon first, all inherit it, and so do
// the spawner, the launchers and the compilers the node starts. When the
// slack is already set (by systemd, or by this), or cannot be, the process
// goes on as it is.
func ensureTimerSlack() {
	runtime.LockOSThread() // the slack is this thread's, and so is the execve
	defer runtime.UnlockOSThread()
	if cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); err != nil || cur >= int(timerSlack) {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(timerSlack), 0, 0, 0); err != nil {
		return
	}
	// The kernel ignores the request for a real-time thread; executing
	// again would then never end.
	if cur, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0); err == nil && cur == int(timerSlack) {
		syscall.Exec(exe, os.Args, os.Environ())
	}
	unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0) // 0: back to the default
}
