package push

import "time"

// Purposes of a push request.
const (
	PurposeLogin  = "login"
	PurposeDevice = "device" // approve a new device
)

// Outcomes of a push request as stored: the String of its [Outcome].
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
	RequestReported = "reported" // "this was not me"
	RequestExpired  = "expired"
)

// Request is a push challenge as stored: the challenge, what it is for,
// and how it ended.
type Request struct {
	Challenge
	FlowID     string
	Purpose    string
	DeviceID   string // the device to approve, for PurposeDevice
	Outcome    string
	AnsweredAt time.Time
}
