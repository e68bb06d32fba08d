package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// isTerminal reports whether w is a terminal, where progress can redraw
// one line in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// spinnerFrames and spinnerEvery draw the terminal progress.
var spinnerFrames = []string{"|", "/", "-", `\`}

const spinnerEvery = 120 * time.Millisecond

// showProgress tells the user that msg is going on, on w, until the
// returned stop is called. On a terminal a spinner with the elapsed time
// redraws one line, erased at the end; elsewhere (a log, a pipe) one line
// is written, so that logs do not fill with frames.
func showProgress(w io.Writer, msg string) (stop func()) {
	if !isTerminal(w) {
		fmt.Fprintln(w, msg+"...")
		return func() {}
	}
	return spinner(w, msg)
}

// spinner redraws "<frame> msg <seconds>s" on one line of w until stop.
func spinner(w io.Writer, msg string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(spinnerEvery)
		defer t.Stop()
		for i := 0; ; i++ {
			fmt.Fprintf(w, "\r%s %s %.0fs ", spinnerFrames[i%len(spinnerFrames)], msg, time.Since(start).Seconds())
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K") // erase the line
				return
			case <-t.C:
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}
