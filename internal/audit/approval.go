package audit

// Approval event types (transaction-bound approvals). Detail holds
// "approval" (the id), "account", "kind" and "hash" (the SHA-256 of the
// canonical details, never the details themselves), and per type:
// "requested_by" (a session or key id, requested); "factor" and
// "factor_id" (approved, denied: what answered); "rule" (used: the route
// rule that took the token). A denial is a sign that someone acts in the
// user's name: its notice offers the freeze.
const (
	ApprovalRequested = "approval.requested"
	ApprovalApproved  = "approval.approved"
	ApprovalDenied    = "approval.denied"
	ApprovalUsed      = "approval.used"
)
