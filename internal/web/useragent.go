package web

import "strings"

// browserName names a browser from its user agent, "Firefox on Linux",
// to name the device a web session comes from. It is a guess for people
// to recognise their sessions by, not a fact: a user agent is whatever
// the client says, and the sessions page shows it in full beside the name.
// The result is always one of a fixed set of words, never client text.
func browserName(ua string) string {
	has := func(s string) bool { return strings.Contains(ua, s) }
	var b string
	switch {
	case has("Edg/") || has("EdgA/") || has("EdgiOS/"):
		b = "Edge"
	case has("OPR/"):
		b = "Opera"
	case has("Firefox/") || has("FxiOS/"):
		b = "Firefox"
	case has("Chrome/") || has("Chromium/") || has("CriOS/"):
		b = "Chrome"
	case has("Safari/"):
		b = "Safari"
	default:
		b = "Browser"
	}
	var os string
	switch {
	case has("Android"):
		os = "Android"
	case has("iPhone") || has("iPad") || has("iPod"):
		os = "iOS"
	case has("Windows"):
		os = "Windows"
	case has("CrOS"):
		os = "ChromeOS"
	case has("Mac OS X") || has("Macintosh"):
		os = "macOS"
	case has("Linux"):
		os = "Linux"
	default:
		return b
	}
	return b + " on " + os
}
