package store

// Keys persists API keys. (Filled in with the API key work.)
type Keys interface{}
