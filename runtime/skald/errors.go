package skald

import (
	"errors"
	"time"
)

// Terminal wraps err, returned from any hook, so that the task fails now
// and is never retried, whatever the controller's retry policy: for input
// that no second run can fix. The task's errorKind says "terminal".
func Terminal(err error) error {
	if err == nil {
		err = errors.New("failed for good")
	}
	return &TerminalError{Err: err}
}

// RetryLater wraps err, returned from any hook, so that this attempt
// fails and the controller retries the task no sooner than after d (and
// no sooner than its backoff), within its attempt limit: for a peer that
// is down or busy. The task's errorKind says "retryLater".
func RetryLater(d time.Duration, err error) error {
	if err == nil {
		err = errors.New("asked to be retried later")
	}
	return &RetryLaterError{After: max(d, 0), Err: err}
}

// TerminalError is what Terminal returns.
type TerminalError struct{ Err error }

func (e *TerminalError) Error() string { return "terminal: " + e.Err.Error() }
func (e *TerminalError) Unwrap() error { return e.Err }

// RetryLaterError is what RetryLater returns.
type RetryLaterError struct {
	After time.Duration
	Err   error
}

func (e *RetryLaterError) Error() string {
	return "retry after " + e.After.String() + ": " + e.Err.Error()
}
func (e *RetryLaterError) Unwrap() error { return e.Err }
