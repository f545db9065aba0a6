package setup

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// A time in SETUP.yaml is absolute (RFC 3339, or a date) or relative to
// now ("3 days ago", "in 20 days"): a trader knows "about a year ago"
// better than a date.

var (
	errWhen     = errors.New(`want a date (2025-03-01), an RFC 3339 time, or "N days ago" / "in N days"`)
	errSpan     = errors.New(`want a span such as "30 days" or "12 hours"`)
	errRange    = errors.New("outside the years 1970 to 9999")
	errNever    = errors.New(`"never" does not fit here`)
	errTooLarge = errors.New("number too large")
)

// parseWhen parses s relative to now. "never" gives the zero time when
// never is allowed.
func parseWhen(s string, now time.Time, never bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "never":
		if !never {
			return time.Time{}, errNever
		}
		return time.Time{}, nil
	case "now", "today":
		return now, nil
	case "yesterday":
		return inRange(now.AddDate(0, 0, -1))
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return inRange(t)
		}
	}
	lower := strings.ToLower(s)
	sign := 0
	switch {
	case strings.HasSuffix(lower, " ago"):
		lower, sign = strings.TrimSuffix(lower, " ago"), -1
	case strings.HasPrefix(lower, "in "):
		lower, sign = strings.TrimPrefix(lower, "in "), 1
	default:
		return time.Time{}, errWhen
	}
	n, unit, err := parseSpan(lower)
	if err != nil {
		return time.Time{}, errWhen
	}
	return add(now, sign*n, unit)
}

// parseSpan parses "30 days", "30days" or "30d" into a count and a unit.
func parseSpan(s string) (int, string, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 6 {
		if i > 6 {
			return 0, "", errTooLarge
		}
		return 0, "", errSpan
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, "", errSpan
	}
	unit, ok := units[strings.TrimSpace(s[i:])]
	if !ok {
		return 0, "", errSpan
	}
	return n, unit, nil
}

var units = map[string]string{
	"minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute",
	"hour": "hour", "hours": "hour", "h": "hour",
	"day": "day", "days": "day", "d": "day",
	"week": "week", "weeks": "week", "w": "week",
	"month": "month", "months": "month", "mo": "month",
	"year": "year", "years": "year", "y": "year",
}

// add returns t moved by n units, calendar-aware for days and longer.
func add(t time.Time, n int, unit string) (time.Time, error) {
	switch unit {
	case "minute":
		return inRange(t.Add(time.Duration(n) * time.Minute))
	case "hour":
		return inRange(t.Add(time.Duration(n) * time.Hour))
	case "day":
		return inRange(t.AddDate(0, 0, n))
	case "week":
		return inRange(t.AddDate(0, 0, 7*n))
	case "month":
		return inRange(t.AddDate(0, n, 0))
	case "year":
		return inRange(t.AddDate(n, 0, 0))
	}
	return time.Time{}, errSpan
}

func inRange(t time.Time) (time.Time, error) {
	if y := t.UTC().Year(); y < 1970 || y > 9999 {
		return time.Time{}, errRange
	}
	return t, nil
}
