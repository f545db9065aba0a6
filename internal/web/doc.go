// Package web is gatehouse's browser portal: server-rendered pages where a
// trader signs in (password, second factor, approval of a new device),
// sees and ends sessions, approves and revokes devices, enrols and removes
// second factors, manages the API keys of their accounts, reads the audit
// trail and changes the password. It is the `web` door and lives on its own
// mux, apart from the JSON API (house style rule 17, after tailscale's
// safeweb).
//
// Every page works without JavaScript but for two things that cannot:
// security keys (navigator.credentials) and pages that notice by themselves
// that a phone answered (those have a "Check again" button that asks the
// portal). The scripts are small files under /static/; they call the API on
// this origin (/v1/login/{flow}/webauthn/…, /v1/factors/…, /v1/stepup,
// GET /v1/login/{flow}) with the browser's cookies, so that each rule lives
// once, in the service behind both doors. Templates and assets are embedded
// in the binary; nothing is loaded from another origin.
//
// Every decision is a service's: [login.Service] for sign-in, factors,
// devices and step-up, [authz.Keys] for API keys. The portal maps their
// errors to pages: one wording for every failed factor, a throttled step
// as a wait in seconds (with Retry-After), and an action that needs a
// fresher proof as the step-up page rather than a refusal.
//
// # Security model
//
// Every answer carries a strict Content-Security-Policy (no inline script
// or style, no framing, forms post only to this origin), no-referrer and
// nosniff; HTML pages are never cached.
//
// The portal signs in through [login.Service] and keeps the session in the
// same cookie the API sets, with the same attributes (HttpOnly, SameSite=Lax,
// Path=/, Secure and the __Host- prefix on an https origin), so the
// portal's own scripts and curl share one API. A sign-in in progress is
// bound to its browser the same way, by the API's flow cookie: the flow's
// id in a page's path proves nothing without it.
//
// The link e-mailed to approve a new device opens a page with a button;
// only the button's POST approves, because mail scanners and previews
// fetch links.
//
// State-changing requests are guarded twice:
//
//   - [http.CrossOriginProtection] wraps the whole mux. It refuses a
//     non-safe request whose Sec-Fetch-Site says it came from another site
//     or, without that header, whose Origin names another host. It is the
//     primary defence and holds for every current browser.
//   - Every form also carries a token bound to the session that rendered
//     it (an HMAC keyed by the session's secret token; during a sign-in, by
//     the flow cookie; before one, by a login cookie), checked before the
//     handler runs. It covers what the
//     header check lets through by design: requests that carry neither
//     Sec-Fetch-Site nor Origin, which older browsers send for form posts
//     and which some proxies and privacy tools produce by stripping
//     headers. It also binds a form to one session, so a form left open
//     across a sign-out and a sign-in as someone else is refused rather
//     than acted on for the new user.
//
// Either alone stops the attack in a modern browser; both together cost
// one HMAC per form and leave no gap that depends on the client.
package web
