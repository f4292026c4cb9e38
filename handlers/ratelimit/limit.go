package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is one rate limit: Rate requests per Period, at most Burst of them
// at once. "60 per minute" is {Rate: 60, Period: time.Minute}: a burst of 60,
// then one request every second.
type Limit struct {
	// Name names the tier ("user", "api_key", "guest", "ip") in logs.
	Name string
	// Rate is how many requests pass per Period in the long run.
	Rate int
	// Period is the window Rate counts in.
	Period time.Duration
	// Burst is the bucket's capacity; zero means Rate.
	Burst int
}

// PerMinute returns a limit of rate requests per minute.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute} }

// Capacity returns the bucket's capacity: Burst, or Rate when Burst is zero.
func (l Limit) Capacity() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Rate
}

// emissionInterval is the time one request's worth of the bucket takes to
// refill.
func (l Limit) emissionInterval() time.Duration {
	return l.Period / time.Duration(l.Rate)
}

var errInvalidLimit = errors.New("invalid rate limit: rate and period must be positive and burst not negative")

// Validate reports whether the limit can be enforced. Configuration code
// should call it once; Allow checks it again cheaply and fails on a bad one.
func (l Limit) Validate() error {
	if l.Rate <= 0 || l.Period <= 0 || l.Burst < 0 || l.Period < time.Duration(l.Rate) {
		return fmt.Errorf("%w (%s)", errInvalidLimit, l)
	}
	return nil
}

func (l Limit) valid() bool {
	return l.Rate > 0 && l.Period >= time.Duration(l.Rate) && l.Burst >= 0
}

// String returns the limit as ParseLimit reads it, for example "60/min".
func (l Limit) String() string {
	var unit string
	switch l.Period {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "min"
	case time.Hour:
		unit = "hour"
	case 24 * time.Hour:
		unit = "day"
	default:
		unit = l.Period.String()
	}
	s := strconv.Itoa(l.Rate) + "/" + unit
	if l.Burst > 0 && l.Burst != l.Rate {
		s += " burst " + strconv.Itoa(l.Burst)
	}
	return s
}

// ParseLimit reads a limit written as "<rate>/<period>", where the period is
// a unit (s, sec, second, m, min, minute, h, hour, d, day) or a Go duration
// ("100/1m", "5/30s"). Name and Burst are left for the caller to set.
func ParseLimit(s string) (Limit, error) {
	rateText, periodText, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Limit{}, fmt.Errorf("parsing rate limit %q: want <rate>/<period>, like 60/min", s)
	}
	rate, err := strconv.Atoi(strings.TrimSpace(rateText))
	if err != nil {
		return Limit{}, fmt.Errorf("parsing rate limit %q: rate: %w", s, err)
	}
	var period time.Duration
	switch p := strings.ToLower(strings.TrimSpace(periodText)); p {
	case "s", "sec", "second":
		period = time.Second
	case "m", "min", "minute":
		period = time.Minute
	case "h", "hr", "hour":
		period = time.Hour
	case "d", "day":
		period = 24 * time.Hour
	default:
		period, err = time.ParseDuration(p)
		if err != nil {
			return Limit{}, fmt.Errorf("parsing rate limit %q: period: %w", s, err)
		}
	}
	l := Limit{Rate: rate, Period: period}
	if err := l.Validate(); err != nil {
		return Limit{}, fmt.Errorf("parsing rate limit %q: %w", s, err)
	}
	return l, nil
}
