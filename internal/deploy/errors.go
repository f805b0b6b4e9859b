package deploy

import "errors"

// UsageError is a problem with the deploy's flags, the machine or the stack's
// configuration, found before anything changed. The command layer maps it to
// its usage exit code (2; every other error of Run is 1: docs/ci.md).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageError(err error) error { return &UsageError{Err: err} }

// IsUsage reports whether err is, or wraps, a UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}
