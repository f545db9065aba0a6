// Package posture judges one trader's real set-up: how their doors
// (desktop, web, mobile, api), factors, devices, sessions and API keys fit
// together, and what can go wrong.
//
// [Assess] takes a [Snapshot] of one user's state and returns a [Report]
// of findings, each naming a failure mode, the doors it touches, an
// [Exposure] and the next step, judged against the user's [Profile]. The
// rules are plain functions of the snapshot and the time; none reads a
// store, so the server maps its own types into a Snapshot and the command
// line builds one from a trader's SETUP.yaml (package setup).
//
// The renderers [WriteText], [WriteJSON], [WriteHTML] and
// [WriteHTMLFragment] write a report to a writer they are given; the
// package does no other I/O.
package posture
