package approval_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gatehouse/internal/approval"
)

func TestCanonical(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// White space goes, names sort, scalars keep their value.
		{`{ "b" : 2, "a" : [ true, false, null ] }`, `{"a":[true,false,null],"b":2}`},
		// RFC 8785 section 3.2.3: names sort by UTF-16 code units, so
		// U+1F600 (a surrogate pair, 0xD83D…) sorts before U+FB33.
		{`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		// Strings: only the JCS escapes; the rest as UTF-8.
		{`{"s":"\u0041\u00e9\/\b\f\n\r\t\"\\\u001f\u007f"}`, "{\"s\":\"A\u00e9/\\b\\f\\n\\r\\t\\\"\\\\\\u001f\u007f\"}"},
		// Numbers as ECMAScript writes doubles.
		{`{"n":[0,-0,1.0,1e2,100e-2,0.1,1e21,1e20,123456789012345680000,1e-6,1e-7,-1.5E+3,5e-324,1.7976931348623157e308,333333333.3333333]}`,
			`{"n":[0,0,1,100,1,0.1,1e+21,100000000000000000000,123456789012345680000,0.000001,1e-7,-1500,5e-324,1.7976931348623157e+308,333333333.3333333]}`},
		{`{"nested":{"z":{},"a":[]}}`, `{"nested":{"a":[],"z":{}}}`},
	} {
		got, err := approval.Canonical([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// The number vectors of RFC 8785 appendix B, as IEEE 754 bit patterns.
func TestCanonicalNumbersRFC8785(t *testing.T) {
	for _, tt := range []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	} {
		in := fmt.Sprintf(`{"n":%s}`, tt.want) // the canonical text is itself exact
		got, err := approval.Canonical([]byte(in))
		if want := `{"n":` + tt.want + `}`; err != nil || string(got) != want {
			t.Errorf("Canonical(%#x) = %s, %v; want %s", tt.bits, got, err, want)
		}
	}
}

func TestCanonicalRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     error
	}{
		{"array", `[1,2]`, approval.ErrNotObject},
		{"string", `"x"`, approval.ErrNotObject},
		{"null", `null`, approval.ErrNotObject},
		{"duplicate", `{"amount":1,"amount":2}`, approval.ErrDetails},
		{"duplicate deep", `{"d":{"iban":"A","iban":"B"}}`, approval.ErrDetails},
		{"case variant", `{"amount":1,"Amount":2}`, approval.ErrDetails},
		{"escaped duplicate", `{"amount":1,"\u0061mount":2}`, approval.ErrDetails},
		{"lone surrogate", `{"a":"\ud800"}`, approval.ErrDetails},
		{"NUL", `{"a":"\u0000"}`, approval.ErrDetails},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", approval.ErrDetails},
		{"overflow", `{"a":1e400}`, approval.ErrDetails},
		{"underflow", `{"a":1e-400}`, approval.ErrNumber},
		{"beyond 2^53", `{"a":9007199254740993}`, approval.ErrNumber},
		{"too many digits", `{"a":0.10000000000000000001}`, approval.ErrNumber},
		{"NaN", `{"a":NaN}`, approval.ErrDetails},
		{"trailing", `{"a":1} {"b":2}`, approval.ErrDetails},
		{"syntax", `{"a":}`, approval.ErrDetails},
		{"too large", `{"a":"` + strings.Repeat("x", approval.MaxDetails) + `"}`, approval.ErrTooLarge},
		{"deep", strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200), approval.ErrDetails},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := approval.Canonical([]byte(tt.in)); !errors.Is(err, tt.want) {
				t.Errorf("Canonical(%.60s) = %s, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// genDetails makes the details of a random order or transfer.
func genDetails(r *rand.Rand) map[string]any {
	cents := func() string { return strconv.Itoa(r.IntN(10_000_000)) + "." + fmt.Sprintf("%02d", r.IntN(100)) }
	if r.IntN(2) == 0 {
		return map[string]any{
			"side": []string{"buy", "sell"}[r.IntN(2)], "quantity": r.IntN(100000) + 1,
			"instrument": []string{"AAPL", "MSFT", "7203.T", "ES=F"}[r.IntN(4)], "limit_price": cents(),
			"notional": r.Float64() * 1e6, "account": "ACC-" + strconv.Itoa(r.IntN(1000)),
		}
	}
	return map[string]any{
		"amount": cents(), "currency": []string{"USD", "EUR", "JPY"}[r.IntN(3)],
		"destination": map[string]any{"iban": "DE" + strconv.Itoa(r.IntN(1e9)), "name": "Maya Ito"},
		"account":     "ACC-" + strconv.Itoa(r.IntN(1000)),
	}
}

// mutate changes one field of d: a value, a nested value, a key's
// presence, or adds one. The result is a different transaction.
func mutate(r *rand.Rand, d map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range d {
		out[k] = v
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	k := keys[r.IntN(len(keys))]
	switch v := out[k].(type) {
	case string:
		switch r.IntN(3) {
		case 0:
			out[k] = v + "0"
		case 1:
			out[k] = strings.ToUpper(v) + "x"
		default:
			out[k] = ""
		}
	case int:
		out[k] = v + 1 + r.IntN(10)
	case float64:
		out[k] = v*1.5 + 0.01
	case map[string]any:
		out[k] = mutate(r, v)
	}
	switch r.IntN(5) {
	case 0:
		delete(out, k)
	case 1:
		out["memo"] = "x"
	}
	return out
}

// TestMutationChangesHash: across generated details and mutations of
// any field (amount, destination, instrument, side, account), the hash
// changes; reordering and re-spacing the same details does not.
func TestMutationChangesHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		d := genDetails(r)
		b, _ := json.Marshal(d)
		h, err := approval.Hash(b)
		if err != nil {
			t.Fatalf("Hash(%s) = %v", b, err)
		}
		m := mutate(r, d)
		mb, _ := json.Marshal(m)
		if bytes.Equal(b, mb) {
			continue // the mutation undid itself (deleted and re-added)
		}
		if mh, err := approval.Hash(mb); err == nil && mh == h {
			t.Fatalf("case %d: %s and %s share hash %s", i, b, mb, h)
		}
		// The same details, indented and with reversed member order,
		// hash the same.
		var rev bytes.Buffer
		json.Indent(&rev, reverseMembers(b), "", "   ")
		if rh, err := approval.Hash(rev.Bytes()); err != nil || rh != h {
			t.Fatalf("case %d: reordered %s hashes %s, %v; want %s", i, rev.Bytes(), rh, err, h)
		}
	}
}

// reverseMembers writes the top-level members of a JSON object in
// reverse order.
func reverseMembers(b []byte) []byte {
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for i := len(keys) - 1; i >= 0; i-- {
		kb, _ := json.Marshal(keys[i])
		out.Write(kb)
		out.WriteByte(':')
		out.Write(m[keys[i]])
		if i > 0 {
			out.WriteByte(',')
		}
	}
	out.WriteByte('}')
	return out.Bytes()
}

// FuzzCanonical: Canonical never panics; what it accepts canonicalises
// to valid JSON that is its own canonical form and means the same.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"b":[1,2,{"c":null}],"a":"x"}`, `{"n":1e21}`, `{"n":-0.0}`, `{"\ud83d\ude00":1,"\ufb33":2}`,
		`{"amount":"5000.00","currency":"USD"}`, `{"a":1,"a":2}`, `[1]`, `{"n":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := approval.Canonical(in)
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("Canonical(%q) = %q: not JSON", in, c)
		}
		again, err := approval.Canonical(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("Canonical(Canonical(%q)) = %q, %v; want %q", in, again, err, c)
		}
		var a, b any
		json.Unmarshal(in, &a)
		json.Unmarshal(c, &b)
		if !reflect.DeepEqual(a, b) { // float64 ==: -0 is 0
			t.Fatalf("Canonical(%q) = %q changes the value", in, c)
		}
	})
}
