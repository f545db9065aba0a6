package storetest

import (
	"testing"

	"gatehouse/internal/store"
)

// keyTests are the conformance tests of [store.Keys].
var keyTests []struct {
	name string
	f    func(*testing.T, store.Store)
}
