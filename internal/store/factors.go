package store

// Factors persists second factors, recovery codes and login flows.
// (Filled in with the second-factor work.)
type Factors interface{}
