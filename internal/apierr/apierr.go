// Package apierr defines the errors eddy's services return to API callers: each has a
// stable code a script can branch on and a message a person can act on.
//
// Services return *Error for anything the caller caused or can react to; transports map
// the Kind to their own status (an HTTP status code, say) and pass Code and Message on.
// Any other error is an internal failure.
package apierr

import (
	"errors"
	"fmt"
)

// Kind groups codes by what the caller should do about them.
type Kind int

const (
	// Invalid means the request is wrong and retrying it unchanged will fail again.
	Invalid Kind = iota + 1
	// NotFound means a named resource does not exist.
	NotFound
	// Conflict means the request clashes with the resource's current state.
	Conflict
	// TooLarge means the request or one of its records exceeds a size limit.
	TooLarge
	// Gone means the data asked for existed but has left the retention window.
	Gone
	// StorageFull means a store limit or the disk is full; reads still work.
	StorageFull
	// Unavailable means a transient failure: retry later.
	Unavailable
	// Unauthenticated means the caller presented no valid credentials.
	Unauthenticated
	// Forbidden means the caller is known but not allowed to do this.
	Forbidden
	// Timeout means the request ran into a time limit; retried unchanged it will likely
	// run into it again, so ask for less work or allow more time.
	Timeout
)

// Error is an API error with a stable code.
type Error struct {
	Kind    Kind
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an error of the given kind and code with a formatted message.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// CodeOf returns err's code, "InternalFailure" for an error without one, or "" for nil.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := As(err); ok {
		return e.Code
	}
	return "InternalFailure"
}
