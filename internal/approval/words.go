package approval

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Words returns the details in words, as the phone and the portal show
// them: first a sentence for the kinds that have one ("Buy 100 AAPL at a
// limit of 187.50 (notional 18750)", "Transfer 5000 USD to DE89…"), then
// every field of the details, one per line ("side: buy"), nested fields
// named by their path ("destination.iban: DE89…"), in canonical order.
// Nothing of the details is left out: what is not shown cannot be
// checked.
func Words(kind Kind, canonical []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(canonical))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return []string{"(details unreadable)"}
	}
	var lines []string
	if s := sentence(kind, m); s != "" {
		lines = append(lines, s)
	}
	flatten("", m, &lines)
	return lines
}

func sentence(kind Kind, m map[string]any) string {
	str := func(k string) string { return text(m[k]) }
	switch kind {
	case Order:
		side, qty, inst := str("side"), str("quantity"), str("instrument")
		if side == "" || qty == "" || inst == "" {
			return ""
		}
		s := strings.ToUpper(side[:1]) + side[1:] + " " + qty + " " + inst
		if p := str("limit_price"); p != "" {
			s += " at a limit of " + p
		} else {
			s += " at market"
		}
		if c := str("currency"); c != "" && str("limit_price") != "" {
			s += " " + c
		}
		if n := str("notional"); n != "" {
			s += " (notional " + n + ")"
		}
		return s
	case Transfer:
		amt, cur := str("amount"), str("currency")
		if amt == "" {
			return ""
		}
		s := "Transfer " + amt
		if cur != "" {
			s += " " + cur
		}
		if d := text(m["destination"]); d != "" {
			s += " to " + d
		}
		return s
	case BankAccountChange:
		if d := text(m["destination"]); d != "" {
			return "Set the withdrawal bank account to " + d
		}
	}
	return ""
}

// text returns a scalar as the owner reads it, or, for an object, its
// fields in canonical order separated by spaces (a destination of
// {"bank","iban"}); "" for nothing.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case map[string]any:
		var parts []string
		for _, k := range sortedKeys(x) {
			if t := text(x[k]); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, " ")
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, text(e))
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareUTF16)
	return keys
}

func flatten(prefix string, v any, lines *[]string) {
	if m, ok := v.(map[string]any); ok {
		for _, k := range sortedKeys(m) {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(name, m[k], lines)
		}
		if len(m) == 0 && prefix != "" {
			*lines = append(*lines, prefix+": (empty)")
		}
		return
	}
	if a, ok := v.([]any); ok {
		for i, e := range a {
			flatten(prefix+"["+strconv.Itoa(i)+"]", e, lines)
		}
		if len(a) == 0 {
			*lines = append(*lines, prefix+": (none)")
		}
		return
	}
	t := text(v)
	if v == nil {
		t = "null"
	} else if s, ok := v.(string); ok && s == "" {
		t = `""`
	}
	*lines = append(*lines, prefix+": "+t)
}
