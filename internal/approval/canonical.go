package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"gatehouse/internal/strictjson"
)

// MaxDetails caps the details of one approval, in bytes as sent. An
// order or a transfer needs a few hundred; the cap keeps a flood of
// approval requests from filling the store.
const MaxDetails = 8 << 10

var (
	// ErrDetails matches every refusal of [Canonical] with [errors.Is].
	ErrDetails = errors.New("approval: invalid details")
	// ErrNotObject reports details that are not one JSON object.
	ErrNotObject = fmt.Errorf("%w: not a JSON object", ErrDetails)
	// ErrTooLarge reports details above MaxDetails.
	ErrTooLarge = fmt.Errorf("%w: larger than %d bytes", ErrDetails, MaxDetails)
	// ErrNumber reports a number that is not finite, or that the
	// canonical form cannot write without changing its value (more
	// digits than a double holds, an integer beyond 2^53 that is not
	// exactly a double).
	ErrNumber = fmt.Errorf("%w: number not exactly representable", ErrDetails)
)

// Canonical returns the canonical form of details, a JSON object, by the
// JSON Canonicalization Scheme (RFC 8785): no white space; object members
// sorted by their names compared as UTF-16 code units; strings with only
// the escapes JCS names (\b \t \n \f \r \" \\ and \u00xx, lower-case
// hex, for other control characters), everything else as UTF-8; numbers
// as ECMAScript writes a double (shortest round-trip digits, plain
// notation from 1e-6 to below 1e21, else exponent form such as 1e+21,
// and -0 as 0).
//
// Beyond RFC 8785 it refuses, so that two different transactions can
// never have one hash and every reader of the details reads the same
// ones:
//   - anything but one object, or more than MaxDetails bytes;
//   - what package strictjson refuses: a name given twice, two names
//     equal but for case (an upstream decoding with encoding/json would
//     read either into one field), invalid UTF-8, lone surrogates, NUL,
//     nesting deeper than strictjson allows;
//   - a number whose canonical form has another value than the text
//     sent (1e400, 0.10000000000000000001, 9007199254740993): the
//     canonical form must say exactly what the client said.
func Canonical(details []byte) ([]byte, error) {
	if len(details) > MaxDetails {
		return nil, ErrTooLarge
	}
	if err := strictjson.Check(details, nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDetails, err)
	}
	dec := json.NewDecoder(bytes.NewReader(details))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDetails, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, ErrNotObject
	}
	var b bytes.Buffer
	b.Grow(len(details))
	if err := writeValue(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Hash returns the SHA-256 of the canonical form of details, in lower-case
// hex: the value X-Gatehouse-Approved-Hash carries.
func Hash(details []byte) (string, error) {
	c, err := Canonical(details)
	if err != nil {
		return "", err
	}
	return HashCanonical(c), nil
}

// HashCanonical returns the lower-case hex SHA-256 of a canonical form.
func HashCanonical(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

func writeValue(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		writeString(b, x)
	case json.Number:
		s, err := canonicalNumber(string(x))
		if err != nil {
			return err
		}
		b.WriteString(s)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeValue(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			if err := writeValue(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("%w: unexpected %T", ErrDetails, v)
	}
	return nil
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// section 3.2.3 sorts member names. It differs from Go's byte order only
// where a character above U+FFFF (a surrogate pair, 0xD800–0xDFFF) meets
// one in U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	return slices.Compare(ua, ub)
}

const hexDigits = "0123456789abcdef"

// writeString writes s as RFC 8785 section 3.2.2.2 says.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xF])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// canonicalNumber writes a JSON number as ECMAScript's Number::toString
// writes the double nearest to it, and refuses it unless that text has
// the same decimal value as the text sent.
func canonicalNumber(text string) (string, error) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", ErrNumber
	}
	out := formatES(f)
	if !sameDecimal(text, out) {
		return "", ErrNumber
	}
	return out, nil
}

// formatES is ECMA-262 Number::toString for a finite double (radix 10).
func formatES(f float64) string {
	if f == 0 {
		return "0" // -0 too
	}
	// Shortest digits that round-trip, as d.ddddde±x.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	k := len(digits)
	n := x + 1 // the decimal point sits after n digits
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		sign := "+"
		if n-1 < 0 {
			sign = "-"
		}
		ex := n - 1
		if ex < 0 {
			ex = -ex
		}
		s = digits[:1]
		if k > 1 {
			s += "." + digits[1:]
		}
		s += "e" + sign + strconv.Itoa(ex)
	}
	if neg {
		s = "-" + s
	}
	return s
}

// sameDecimal reports whether two JSON number texts have the same
// decimal value, by comparing their significant digits and the place of
// the first of them. Every zero is the same value, -0 included.
func sameDecimal(a, b string) bool {
	da, ea, na := decimal(a)
	db, eb, nb := decimal(b)
	if da == "" || db == "" {
		return da == db
	}
	return da == db && ea == eb && na == nb
}

// decimal splits a valid JSON number (or a formatES result) into its
// significant digits (no leading or trailing zeros; "" for zero), the
// power of ten of the first of them, and its sign. The exponent of a
// valid double's text fits an int: ParseFloat has accepted it.
func decimal(s string) (digits string, exp int, neg bool) {
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	mant, ex, _ := strings.Cut(strings.ToLower(s), "e")
	x := 0
	if ex != "" {
		v, err := strconv.Atoi(ex)
		if err != nil {
			// Absurd exponents cannot reach here: ParseFloat would have
			// given ±Inf or 0, and 0 compares as digits "".
			v = math.MaxInt32
		}
		x = v
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	all := intPart + frac
	point := len(intPart) // the decimal point sits after this many digits of all
	lead := 0
	for lead < len(all) && all[lead] == '0' {
		lead++
	}
	all = all[lead:]
	all = strings.TrimRight(all, "0")
	if all == "" {
		return "", 0, false
	}
	return all, point - lead - 1 + x, neg
}
