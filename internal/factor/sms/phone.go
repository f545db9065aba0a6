package sms

import "strings"

// ValidPhone reports whether s is a phone number in E.164 form: a plus sign,
// then 7 to 15 digits, the first not 0. Spaces, dashes and brackets are
// refused, so each number has one spelling in the store.
func ValidPhone(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// countryCodeLen returns the length of the ITU-T E.164 country code at the
// start of digits: 1 for the North American plan (1) and Russia and
// Kazakhstan (7), 2 for the two-digit codes listed, 3 for all others.
func countryCodeLen(digits string) int {
	switch digits[0] {
	case '1', '7':
		return 1
	}
	switch digits[:2] {
	case "20", "27", "30", "31", "32", "33", "34", "36", "39",
		"40", "41", "43", "44", "45", "46", "47", "48", "49",
		"51", "52", "53", "54", "55", "56", "57", "58",
		"60", "61", "62", "63", "64", "65", "66",
		"81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98":
		return 2
	}
	return 3
}

// MaskPhone returns a phone number for display with all but its last digits
// hidden, e.g. "+44 •••• ••12 34" for +441234561234: the country code, then
// the national number in groups counted from the end. It shows the last four
// digits, or only two of a national number shorter than seven digits. It
// returns "" for a number that is not [ValidPhone].
func MaskPhone(s string) string {
	if !ValidPhone(s) {
		return ""
	}
	digits := s[1:]
	cc := countryCodeLen(digits)
	national := digits[cc:]
	shown := 4
	if len(national) < 7 {
		shown = 2
	}
	masked := []rune(strings.Repeat("•", len(national)-shown) + national[len(national)-shown:])
	// Group from the end: the last two, then fours.
	var groups []string
	end := len(masked)
	size := 2
	for end > 0 {
		start := max(end-size, 0)
		groups = append([]string{string(masked[start:end])}, groups...)
		end = start
		size = 4
	}
	return "+" + digits[:cc] + " " + strings.Join(groups, " ")
}
