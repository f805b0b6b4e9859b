package devmodel

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// FlagSet is the part of a flag set BatchFlags needs: the standard library's
// *flag.FlagSet (the standin command) and pflag's *pflag.FlagSet (zerocost
// dev) both have it.
type FlagSet interface {
	DurationVar(p *time.Duration, name string, value time.Duration, usage string)
	Float64Var(p *float64, name string, value float64, usage string)
	IntVar(p *int, name string, value int, usage string)
	StringVar(p *string, name string, value string, usage string)
}

// BatchMatch holds the custom_id regexps of the Message Batches flags as
// given; Compile puts them into a BatchOptions.
type BatchMatch struct {
	Errors, Expire string
}

// BatchFlags defines the Message Batches flags on fs, setting b and m: each
// flag is named prefix+"delay", prefix+"error-rate", … and its help text
// starts with topic.
func BatchFlags(fs FlagSet, b *BatchOptions, m *BatchMatch, prefix, topic string) {
	help := func(s string) string { return topic + ": " + s }
	fs.DurationVar(&b.Delay, prefix+"delay", 0, help("processing time (a batch's requests finish this long after its creation)"))
	fs.DurationVar(&b.CancelDelay, prefix+"cancel-delay", 0, help("how long a canceled batch stays canceling before it ends"))
	fs.DurationVar(&b.Expiry, prefix+"expiry", DefaultBatchExpiry, help("a batch not ended this long after its creation expires"))
	fs.Float64Var(&b.Errors.Rate, prefix+"error-rate", 0, help("share (0..1) of requests whose result is errored"))
	fs.IntVar(&b.Errors.Every, prefix+"error-every", 0, help("every Nth request of a batch is errored (0: none)"))
	fs.StringVar(&m.Errors, prefix+"error-match", "", help("requests whose custom_id matches this regexp are errored"))
	fs.StringVar(&b.ErrorType, prefix+"error-type", "api_error", help("the error type of errored results"))
	fs.Float64Var(&b.Expire.Rate, prefix+"expire-rate", 0, help("share (0..1) of requests that never finish (their batch expires)"))
	fs.IntVar(&b.Expire.Every, prefix+"expire-every", 0, help("every Nth request of a batch never finishes (0: none)"))
	fs.StringVar(&m.Expire, prefix+"expire-match", "", help("requests whose custom_id matches this regexp never finish"))
}

// Compile sets b's Match regexps from m (an empty one stays nil); flag is
// the flags' name prefix as typed (e.g. "--model-batch-"), for the errors.
func (m BatchMatch) Compile(b *BatchOptions, flag string) error {
	var errs []error
	for _, x := range []struct {
		name, expr string
		re         **regexp.Regexp
	}{
		{"error-match", m.Errors, &b.Errors.Match},
		{"expire-match", m.Expire, &b.Expire.Match},
	} {
		if x.expr == "" {
			continue
		}
		re, err := regexp.Compile(x.expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%s: %w", flag, x.name, err))
			continue
		}
		*x.re = re
	}
	return errors.Join(errs...)
}
